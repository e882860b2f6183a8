"""Check a verl launch's overrides against verl's own composed config, before anything starts.

    python -m speciarl.integrations.verl.launch KEY=VALUE ... [--config-name ppo_trainer]

Composes verl's trainer config with the overrides exactly as `python -m verl.trainer.main_ppo`
would (Hydra, verl's own config files), so a typo or a key renamed in a verl release fails here, in
CI, and not after a cluster has started. Then checks the settings SpeciaRL depends on:

- the reward is ours and runs through a manager that lets its exceptions through (`naive`); never
  `rate_limited`, which scores any exception or timeout 0.0;
- the advantage estimator is ours (`speciarl`, `speciarl_single` for group-anchored schemes,
  `speciarl_grpo` for static ones): they refuse steps with failed rollouts;
- no KL term in the reward (`algorithm.use_kl_in_reward=False`), the sync v1 trainer (its failed
  groups reach the estimator; the async trainers evict and refill them), and no refilling of failed
  groups (`sync_refill_failed_groups=False`).

Exit status 0 and one line when all is well; 2 and the problems otherwise. The launch scripts in
configs/verl/ run this before verl.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

REWARD_MODULES = ("speciarl.integrations.verl.reward", "speciarl/integrations/verl/reward.py")
ANCHORED = {"speciarl": "speciarl", "speciarl-single": "speciarl_single"}
OUR_ESTIMATORS = {"speciarl", "speciarl_single", "speciarl_grpo"}


class LaunchError(Exception):
    """The overrides do not compose, or compose into a setting that would break SpeciaRL's promises."""


def compose(overrides: list[str], config_name: str = "ppo_trainer") -> Any:
    """verl's composed trainer config for these overrides (Hydra errors become LaunchError)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    import verl

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    try:
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            return hydra_compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise LaunchError(f"verl {verl.__version__} does not accept these overrides: {exc}") from None


def problems(config: Any) -> list[str]:
    """What in a composed config would let a judge failure become a reward, or a wrong reward."""
    from omegaconf import OmegaConf

    found = []
    reward = config.reward
    path = str(reward.custom_reward_function.path or "")
    if not path.endswith(REWARD_MODULES[1]) and path.removeprefix("pkg://") != REWARD_MODULES[0]:
        found.append(f"reward.custom_reward_function.path={path or 'null'}: expected "
                     f"pkg://{REWARD_MODULES[0]}")
    name = reward.custom_reward_function.name
    if name not in ("compute_score", "compute_score_sync"):
        found.append(f"reward.custom_reward_function.name={name}: expected compute_score")
    manager = reward.reward_manager
    if manager.source != "register" or manager.name != "naive":
        found.append(f"reward.reward_manager={manager.source}:{manager.name}: use naive (rate_limited scores any "
                     "exception or timeout 0.0, a silent reward when the judge fails)")
    kwargs = OmegaConf.to_container(reward.custom_reward_function.get("reward_kwargs") or {}, resolve=True)
    scheme = str(kwargs.get("scheme", "speciarl"))  # type: ignore[union-attr]
    estimator = config.algorithm.adv_estimator
    want = ANCHORED.get(scheme, "speciarl_grpo")
    if estimator not in OUR_ESTIMATORS or (scheme in ANCHORED) != (estimator != "speciarl_grpo"):
        found.append(f"algorithm.adv_estimator={estimator} with scheme {scheme}: use {want} (our estimators "
                     "refuse a step whose rollouts failed)")
    if config.algorithm.use_kl_in_reward:
        found.append("algorithm.use_kl_in_reward=True: a KL term added to the scores blurs the category ranks; "
                     "use the actor's KL loss (actor_rollout_ref.actor.use_kl_loss=True)")
    if not config.trainer.get("use_v1", False):
        found.append("trainer.use_v1=False: the legacy trainer is deprecated in verl 0.9; use trainer.use_v1=True")
    if OmegaConf.select(config, "trainer.v1.sampler.sync_refill_failed_groups", default=False):
        found.append("trainer.v1.sampler.sync_refill_failed_groups=True: failed groups would be replaced instead "
                     "of stopping the run")
    mode = OmegaConf.select(config, "trainer.v1.trainer_mode", default="sync")
    if str(mode) != "sync":
        found.append(f"trainer.v1.trainer_mode={mode}: the async trainers evict and refill failed groups; use sync")
    return found


def check(overrides: list[str], config_name: str = "ppo_trainer") -> Any:
    """Compose and check; raises LaunchError listing every problem. Returns the composed config."""
    config = compose(overrides, config_name)
    found = problems(config)
    if found:
        raise LaunchError("verl launch refused:\n  " + "\n  ".join(found))
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-name", default="ppo_trainer")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as passed to verl.trainer.main_ppo")
    args = parser.parse_args(argv)
    try:
        config = check(args.overrides, args.config_name)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"verl overrides ok: {len(args.overrides)} keys compose; estimator {config.algorithm.adv_estimator}, "
          f"{config.actor_rollout_ref.rollout.n} rollouts per prompt, {config.reward.num_workers} reward workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
