#!/usr/bin/env bash
# SpeciaRL on a Ray cluster with verl 0.9 (in its own environment: verl pins transformers < 5.11).
# Not run directly: a preset (cub200_*.sh beside this file) sets the variant and calls it. The paper's
# recipe in verl's terms (docs/training.md): 256 images per step, G rollouts each at temperature 1.0,
# mini-batch 128 images, LoRA 64/32 on the language model's linear layers (vision tower frozen),
# lr 3e-5 constant, KL loss 0.01 (low-variance), 15 epochs, prompt and response up to 2,048 tokens.
# Before verl starts, every override is composed with verl's own config and checked
# (python -m speciarl.integrations.verl.launch): a typo or renamed key stops here, not on the cluster.
# SPECIARL_VERL_CHECK_ONLY=1 stops after that check (CI does this).
# Setup, on the Ray head node:
#   pip install "verl[vllm]" && pip install --no-deps /path/to/speciarl   (speciarl importable on every node;
#   verl's own extra pins a vLLM / transformers pair it supports: `pip install verl vllm` does not)
#   speciarl data build-trainset --benchmark cub200 --root data/CUB_200_2011 --n 3000 --seed 0 \
#       --output data/train/cub200_3000.jsonl
#   speciarl data export-verl data/train/cub200_3000.jsonl --out data/verl/cub200_3000.parquet
#   a judge server (vLLM) reachable from every node, described in judge.yaml (our judge config mapping;
#   its `concurrency` is the server's capacity: the reward workers share it).
set -euo pipefail
SCHEME=${SCHEME:-speciarl}                 # speciarl | speciarl-single | binary | scala1..3
ESTIMATOR=${ESTIMATOR:-speciarl}           # speciarl | speciarl_single | speciarl_grpo (static schemes)
ROLLOUTS=${ROLLOUTS:-10}                   # G
VARIANT=${VARIANT:-$SCHEME}
JUDGE_CONFIG=${JUDGE_CONFIG:-$(pwd)/judge.yaml}
TRAIN_FILE=${TRAIN_FILE:-data/verl/cub200_3000.parquet}

ARGS=(
  trainer.use_v1=True
  trainer.v1.trainer_mode=sync
  trainer.resume_mode=auto
  algorithm.adv_estimator="$ESTIMATOR"
  algorithm.use_kl_in_reward=False
  data.train_files="$TRAIN_FILE"
  data.val_files="$TRAIN_FILE"
  data.image_key=images
  data.train_batch_size=256
  data.max_prompt_length=2048
  data.max_response_length=2048
  actor_rollout_ref.model.path=Qwen/Qwen2.5-VL-7B-Instruct
  actor_rollout_ref.model.lora_rank=64
  actor_rollout_ref.model.lora_alpha=32
  actor_rollout_ref.model.target_modules=all-linear
  "actor_rollout_ref.model.exclude_modules='.*visual.*'"
  actor_rollout_ref.actor.optim.lr=3e-5
  actor_rollout_ref.actor.ppo_mini_batch_size=128
  actor_rollout_ref.actor.use_kl_loss=True
  actor_rollout_ref.actor.kl_loss_coef=0.01
  actor_rollout_ref.actor.kl_loss_type=low_var_kl
  actor_rollout_ref.actor.freeze_vision_tower=True
  actor_rollout_ref.rollout.name=vllm
  actor_rollout_ref.rollout.n="$ROLLOUTS"
  actor_rollout_ref.rollout.temperature=1.0
  reward.reward_manager.name=naive
  reward.custom_reward_function.path=pkg://speciarl.integrations.verl.reward
  reward.custom_reward_function.name=compute_score
  +reward.custom_reward_function.reward_kwargs.judge_config="$JUDGE_CONFIG"
  +reward.custom_reward_function.reward_kwargs.scheme="$SCHEME"
  "+reward.custom_reward_function.reward_kwargs.reward_workers=\${reward.num_workers}"
  +ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=speciarl.integrations.verl.register
  trainer.total_epochs=15
  trainer.save_freq=10
  trainer.n_gpus_per_node=4
  trainer.nnodes=1
  "trainer.logger=[console,tensorboard]"
  trainer.project_name=speciarl
  trainer.experiment_name="cub200_${VARIANT}"
)
ARGS+=("${EXTRA_ARGS[@]}" "$@")

python -m speciarl.integrations.verl.launch "${ARGS[@]}"
if [[ "${SPECIARL_VERL_CHECK_ONLY:-0}" == 1 ]]; then exit 0; fi
exec python -m verl.trainer.main_ppo "${ARGS[@]}"
