# Two commands for a newcomer: `make demo` (the main job) and `make test` (the test suite).
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
# CPU machines: the pinned CPU wheel. GPU machines: `make TORCH_SPEC=torch ...` (or your CUDA build).
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
# verl caps transformers below ours, so its integration test imports it from a second venv.
# `make test VERL=0` skips that venv (the real-verl test is then skipped, saying so).
VERL ?= 1
VERL_VENV ?= .venv-verl
VERL_SITE := $(abspath $(VERL_VENV))/lib/python$(shell $(PYTHON) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages

.PHONY: demo test report-example bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[all]"
	touch $@

# The demo needs only the demo extra (torch, transformers, TRL and theirs: the 3-minute `make demo` budget),
# installed in one pip call without byte-compiling every installed file (~25 s on 2 cores; Python compiles
# the modules the demo imports when it first imports them).
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --no-compile "$(TORCH_SPEC)" -e ".[demo]"
	touch $@

$(VERL_VENV)/.installed:
	$(PYTHON) -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/python -m pip install -q --upgrade pip
	$(VERL_VENV)/bin/python -m pip install -q "$(TORCH_SPEC)" verl
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed-demo
	OMP_NUM_THREADS=1 $(BIN)/speciarl demo --output-dir runs/demo

report-example: $(VENV)/.installed
	$(BIN)/speciarl report examples/zero_shot.jsonl examples/speciarl.jsonl examples/zero_shot_bo8.jsonl --out runs/example-report

ifeq ($(VERL),1)
test: $(VENV)/.installed $(VERL_VENV)/.installed
	bash tools/ensure_redis.sh
	bash tools/ensure_chromium.sh
	SPECIARL_VERL_PATH=$(VERL_SITE) $(BIN)/python -m pytest -q
else
test: $(VENV)/.installed
	bash tools/ensure_redis.sh
	bash tools/ensure_chromium.sh
	$(BIN)/python -m pytest -q
endif

bench: $(VENV)/.installed
	for b in benchmarks/bench_*.py; do echo "== $$b"; OMP_NUM_THREADS=1 $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(VERL_VENV) runs
