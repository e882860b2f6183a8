#!/usr/bin/env bash
# Writes a venv's resolved versions as pip constraints (one locks/*.txt), for `make lock`.
# usage: freeze_lock.sh VENV "WHAT WAS ASKED FOR"
# torch is left out (TORCH_SPEC chooses it: the CPU wheel here, a CUDA build on a GPU machine), and so is
# the project itself (installed editable from the checkout).
set -euo pipefail
venv=$1; asked=$2
py="$venv/bin/python"
echo "# pip constraints written by \`make lock\` on $(date -u +%Y-%m-%d) (Python $("$py" -c 'import platform; print(platform.python_version(), platform.machine())'))"
echo "# from: pip install $asked; torch was $("$py" -c 'from importlib.metadata import version; print(version("torch"))') (not pinned here)"
"$py" -m pip freeze --all --exclude-editable | grep -viE '^(torch|speciarl)==' | LC_ALL=C sort -f
