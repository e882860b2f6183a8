#!/usr/bin/env bash
# GPU rehearsal of the paper's run, one command on a bare GPU box (no internet, no model weights):
#   bash benchmarks/gpu_rehearsal.sh                  # random Qwen2.5-VL-7B, GRPO steps, eval backend
#   bash benchmarks/gpu_rehearsal.sh --cpu-dry-run    # the same path at tiny sizes on a CPU (CI runs it)
#   bash benchmarks/gpu_rehearsal.sh --download-wheels wheels   # on a machine with PyPI: TRL + datasets
#       (and what they need beyond torch/transformers/peft/accelerate) as Python 3.12 wheels, ~55 MiB;
#       carry the folder with the checkout; the rehearsal installs from it what the box lacks.
# Other arguments go to benchmarks/gpu_rehearsal.py (--workdir, --images, --completion, --json, ...).
# Fails at the first broken part (set -e; the Python part exits non-zero on any error).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=${SPECIARL_WHEELS:-wheels}
# module=wheel pins: TRL 1.16 and a datasets / pyarrow pair small enough to travel (pyarrow 21, not 26)
PINS="pyarrow=pyarrow==21.0.0 pandas=pandas==3.1.1 dill=dill==0.4.1 multiprocess=multiprocess==0.70.19
xxhash=xxhash==4.1.0 fsspec=fsspec==2026.2.0 datasets=datasets==4.8.5 trl=trl==1.16.0"

if [ "${1:-}" = "--download-wheels" ]; then
  dest=${2:?usage: --download-wheels DIR}
  mkdir -p "$dest"
  # shellcheck disable=SC2046
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$dest" $(for p in $PINS; do echo "${p#*=}"; done)
  du -sh "$dest"
  exit 0
fi

missing=()
for p in $PINS; do
  module=${p%%=*}
  "$PY" -c "import $module" 2>/dev/null || missing+=("$module")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "not importable here: ${missing[*]}; installing them from $WHEELS into .rehearsal-site"
  [ -d "$WHEELS" ] || { echo "no wheel folder $WHEELS: make it with --download-wheels $WHEELS on a machine with PyPI" >&2; exit 1; }
  files=()
  for module in "${missing[@]}"; do
    match=$(ls "$WHEELS"/"$module"-*.whl 2>/dev/null | head -n 1)
    [ -n "$match" ] || { echo "no $module wheel in $WHEELS" >&2; exit 1; }
    files+=("$match")
  done
  "$PY" -m pip install --quiet --no-index --no-deps --target .rehearsal-site "${files[@]}"
  export PYTHONPATH="$PWD/.rehearsal-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec "$PY" benchmarks/gpu_rehearsal.py "$@"
