"""verl (Ray) integration, one job per module:

- `reward`: `compute_score`, the async custom reward verl's reward loop awaits per rollout (and
  `compute_score_sync` for thread-pool callers);
- `advantage`: the `speciarl` / `speciarl_single` / `speciarl_grpo` advantage estimators (uid-keyed
  group anchoring, partial groups refused) and `register`, verl's worker setup hook;
- `export`: a training JSONL → verl's parquet;
- `launch`: checks a launch script's overrides against verl's composed config.

Nothing is registered on import; see docs/training.md for the launch script.
"""

from __future__ import annotations

from .advantage import RANK_SCORE, anchored_rewards, register
from .export import export_verl_parquet
from .reward import compute_score, compute_score_sync

__all__ = ["RANK_SCORE", "anchored_rewards", "compute_score", "compute_score_sync", "export_verl_parquet", "register"]
