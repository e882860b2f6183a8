#!/usr/bin/env bash
# SpeciaRL, the paper's main run: GRPO with the group-anchored reward (mode all), G = 10.
# Extra Hydra overrides on the command line win (e.g. trainer.nnodes=2). See launch.sh for the setup.
set -euo pipefail
SCHEME=speciarl ESTIMATOR=speciarl ROLLOUTS=10
EXTRA_ARGS=()
source "$(dirname "$0")/launch.sh" "$@"
