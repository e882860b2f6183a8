# Two commands for a newcomer: `make demo` (the main job) and `make test` (the test suite).
# Each creates its venv and installs what it needs on first use.
PYTHON ?= python3
# CPU machines: the pinned CPU wheel. GPU machines: `make TORCH_SPEC=torch ...` (or your CUDA build).
# torch is never in the lock: TORCH_SPEC alone chooses it.
TORCH_SPEC ?= torch==2.13.0
# The pinned verl release the real-verl tests and docs/training.md are written against.
VERL_SPEC ?= verl==0.9.1
# LOCK=1 (default): every venv installs with the committed lock (locks/*.txt, pip constraints), so a fresh
# clone resolves what last passed. LOCK=0: resolve fresh from pyproject.toml, as a user's own
# `pip install` does, in venvs of their own (.venv-fresh, .venv-verl-fresh). `make lock` writes the lock.
LOCK ?= 1
ifeq ($(LOCK),1)
VENV ?= .venv
VERL_VENV ?= .venv-verl
MAIN_LOCK := locks/main.txt
VERL_LOCK := locks/verl.txt
else
VENV ?= .venv-fresh
VERL_VENV ?= .venv-verl-fresh
MAIN_LOCK :=
VERL_LOCK :=
endif
BIN := $(VENV)/bin
# verl caps transformers below ours, so its integration tests run in verl's own venv, with its interpreter
# (the project's core installed there too). `make test VERL=0` skips that venv (those tests are skipped, saying so).
VERL ?= 1
# pip's own version is part of the lock too (the first install line of each venv).
pip_install = $(1)/bin/python -m pip install -q --no-compile $(if $(2),-c $(2))

.PHONY: demo test report-example bench install lock clean

# A venv is made anew whenever its lock changes: nothing left over from an earlier resolution.
$(VENV)/.created: $(MAIN_LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(call pip_install,$(VENV),$(MAIN_LOCK)) --upgrade pip
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.created
	$(call pip_install,$(VENV),$(MAIN_LOCK)) "$(TORCH_SPEC)" -e ".[all]"
	touch $@

# The demo needs only the demo extra (torch, transformers, TRL and theirs: the 3-minute `make demo` budget),
# installed in one pip call without byte-compiling every installed file (~25 s on 2 cores; Python compiles
# the modules the demo imports when it first imports them). The same lock as the tests.
$(VENV)/.installed-demo: pyproject.toml $(VENV)/.created
	$(call pip_install,$(VENV),$(MAIN_LOCK)) "$(TORCH_SPEC)" -e ".[demo]"
	touch $@

$(VERL_VENV)/.installed: pyproject.toml $(VERL_LOCK)
	rm -rf $(VERL_VENV)
	$(PYTHON) -m venv $(VERL_VENV)
	$(call pip_install,$(VERL_VENV),$(VERL_LOCK)) --upgrade pip
	$(call pip_install,$(VERL_VENV),$(VERL_LOCK)) "$(TORCH_SPEC)" "$(VERL_SPEC)" -e ".[redis]"
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
	SPECIARL_LOCK=$(MAIN_LOCK) SPECIARL_VERL_PYTHON=$(abspath $(VERL_VENV))/bin/python $(BIN)/python -m pytest -q
else
test: $(VENV)/.installed
	bash tools/ensure_redis.sh
	bash tools/ensure_chromium.sh
	SPECIARL_LOCK=$(MAIN_LOCK) $(BIN)/python -m pytest -q
endif

# Refresh the lock: resolve both test venvs from scratch in throwaway venvs, freeze them into locks/, drop
# them. Then `make test` (the venvs are rebuilt on the new lock) checks what was frozen.
lock:
	rm -rf .venv-lock .venv-verl-lock
	$(MAKE) LOCK=0 VENV=.venv-lock VERL_VENV=.venv-verl-lock .venv-lock/.installed .venv-verl-lock/.installed
	bash tools/freeze_lock.sh .venv-lock "$(TORCH_SPEC) -e .[all]" > locks/main.txt
	bash tools/freeze_lock.sh .venv-verl-lock "$(TORCH_SPEC) $(VERL_SPEC) -e .[redis]" > locks/verl.txt
	rm -rf .venv-lock .venv-verl-lock

bench: $(VENV)/.installed
	for b in benchmarks/bench_*.py; do echo "== $$b"; OMP_NUM_THREADS=1 $(BIN)/python $$b || exit 1; done

clean:
	rm -rf .venv .venv-verl .venv-fresh .venv-verl-fresh .venv-lock .venv-verl-lock runs
