#!/usr/bin/env bash
# SpeciaRL with G = 5 rollouts per image.
# Extra Hydra overrides on the command line win (e.g. trainer.nnodes=2). See launch.sh for the setup.
set -euo pipefail
SCHEME=speciarl ESTIMATOR=speciarl ROLLOUTS=5 VARIANT=speciarl_g5
EXTRA_ARGS=()
source "$(dirname "$0")/launch.sh" "$@"
