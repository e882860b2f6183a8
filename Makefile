# Two commands for a newcomer: `make demo` (the main job) and `make test` (the test suite).
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
# CPU machines: the pinned CPU wheel. GPU machines: `make TORCH_SPEC=torch ...` (or your CUDA build).
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test report-example install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[all]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/speciarl report examples/zero_shot.jsonl examples/speciarl.jsonl examples/zero_shot_bo8.jsonl --out runs/example-report

report-example: $(VENV)/.installed
	$(BIN)/speciarl report examples/zero_shot.jsonl examples/speciarl.jsonl examples/zero_shot_bo8.jsonl --out runs/example-report

test: $(VENV)/.installed
	bash tools/ensure_redis.sh
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs
