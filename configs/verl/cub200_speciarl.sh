#!/usr/bin/env bash
# SpeciaRL on a Ray cluster with verl (>= 0.9, in its own environment: verl pins transformers < 5.11).
# The paper's recipe (docs/method.md#training-recipe) in verl's terms; see docs/verl.md. Run on the Ray head node after
#   pip install "verl[vllm]" && pip install --no-deps -e /path/to/speciarl   (speciarl importable on every node;
#   verl's own extra pins a vLLM / transformers pair it supports: `pip install verl vllm` does not)
#   speciarl data build-trainset --benchmark cub200 --root data/CUB_200_2011 --n 3000 --seed 0 \
#       --output data/train/cub200_3000.jsonl
#   speciarl data export-verl data/train/cub200_3000.jsonl --out data/verl/cub200_3000.parquet
#   a judge server (vLLM) reachable from every node, described in judge.yaml (our judge config mapping).
set -euo pipefail
SCHEME=${SCHEME:-speciarl}                       # speciarl | speciarl-single | binary | scala1..3
ESTIMATOR=${ESTIMATOR:-speciarl}                 # speciarl (mode all) | speciarl_single | grpo for static schemes
REWARD_FILE=$(python -c 'import speciarl.integrations.verl as m; print(m.__file__)')

python -m verl.trainer.main_ppo \
  trainer.use_v1=True \
  algorithm.adv_estimator="$ESTIMATOR" \
  algorithm.norm_adv_by_std_in_grpo=True \
  algorithm.use_kl_in_reward=False \
  data.train_files=data/verl/cub200_3000.parquet \
  data.val_files=data/verl/cub200_3000.parquet \
  data.image_key=images \
  data.train_batch_size=256 \
  data.max_prompt_length=2048 \
  data.max_response_length=2048 \
  actor_rollout_ref.model.path=Qwen/Qwen2.5-VL-7B-Instruct \
  actor_rollout_ref.model.lora_rank=64 \
  actor_rollout_ref.model.lora_alpha=32 \
  actor_rollout_ref.model.target_modules=all-linear \
  actor_rollout_ref.model.exclude_modules='.*visual.*' \
  actor_rollout_ref.actor.optim.lr=3e-5 \
  actor_rollout_ref.actor.ppo_mini_batch_size=128 \
  actor_rollout_ref.actor.use_kl_loss=True \
  actor_rollout_ref.actor.kl_loss_coef=0.01 \
  actor_rollout_ref.actor.kl_loss_type=low_var_kl \
  actor_rollout_ref.actor.freeze_vision_tower=True \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=10 \
  actor_rollout_ref.rollout.temperature=1.0 \
  reward.custom_reward_function.path="$REWARD_FILE" \
  reward.custom_reward_function.name=compute_score \
  +reward.custom_reward_function.reward_kwargs.judge_config="$(pwd)/judge.yaml" \
  +reward.custom_reward_function.reward_kwargs.scheme="$SCHEME" \
  +ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=speciarl.integrations.verl.register \
  trainer.total_epochs=15 \
  trainer.n_gpus_per_node=4 \
  trainer.nnodes=1 \
  trainer.logger='[console,tensorboard]' \
  trainer.project_name=speciarl \
  trainer.experiment_name="cub200_${SCHEME}" \
  "$@"
