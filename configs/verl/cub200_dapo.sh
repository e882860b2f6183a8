#!/usr/bin/env bash
# SpeciaRL with DAPO: clip 0.2 / 0.28 (clip-higher), token-mean loss, overlong penalty over the last 512 tokens.
# Extra Hydra overrides on the command line win (e.g. trainer.nnodes=2). See launch.sh for the setup.
set -euo pipefail
SCHEME=speciarl ESTIMATOR=speciarl ROLLOUTS=10 VARIANT=speciarl_dapo
EXTRA_ARGS=(actor_rollout_ref.actor.clip_ratio_low=0.2 actor_rollout_ref.actor.clip_ratio_high=0.28
            actor_rollout_ref.actor.loss_agg_mode=token-mean
            +reward.custom_reward_function.reward_kwargs.overlong_buffer_len=512)
source "$(dirname "$0")/launch.sh" "$@"
