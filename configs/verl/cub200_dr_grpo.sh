#!/usr/bin/env bash
# SpeciaRL with Dr.GRPO: no std normalisation of advantages, no KL, sequence-level token-sum loss.
# Extra Hydra overrides on the command line win (e.g. trainer.nnodes=2). See launch.sh for the setup.
set -euo pipefail
SCHEME=speciarl ESTIMATOR=speciarl ROLLOUTS=10 VARIANT=speciarl_dr_grpo
EXTRA_ARGS=(algorithm.norm_adv_by_std_in_grpo=False actor_rollout_ref.actor.use_kl_loss=False
            actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum-norm)
source "$(dirname "$0")/launch.sh" "$@"
