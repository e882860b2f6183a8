#!/usr/bin/env bash
# Baseline: RL with the binary exact-match reward (specific/more specific 1, else 0), GRPO, G = 10.
# Extra Hydra overrides on the command line win (e.g. trainer.nnodes=2). See launch.sh for the setup.
set -euo pipefail
SCHEME=binary ESTIMATOR=speciarl_grpo ROLLOUTS=10
EXTRA_ARGS=()
source "$(dirname "$0")/launch.sh" "$@"
