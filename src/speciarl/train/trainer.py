"""`SpeciarlGRPOTrainer`: TRL's GRPOTrainer with group anchoring on the *gathered* categories.

TRL calls `_calculate_rewards` on each process's slice and gathers the result, then normalises
advantages over consecutive blocks of G rollouts. We override that one method: each process grades
its own slice (judge load spread out), the category codes and sample ids are gathered, and every
process computes the same rewards from the whole generation batch, grouped by sample id. A judge
outage (after the retry budget) on any process stops all of them together, after a checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from accelerate.utils import gather, gather_object
from trl import GRPOTrainer

from ..answers import normalize
from ..metrics import SHARE_KEYS as LABEL_KEYS
from ..metrics import summarize
from .callbacks import RolloutLog, print_samples
from .rewards import JUDGE_ERROR, JudgeOutageError, RolloutScorer, check_groups, completion_text, decode

SHARE_KEYS = tuple(key.replace(" ", "_") for key in LABEL_KEYS)  # logged as categories/<key>


class SpeciarlGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose reward is the SpeciaRL (or a baseline) reward of gathered, judged rollouts."""

    def __init__(self, *args: Any, scorer: RolloutScorer, rollout_log: RolloutLog | None = None,
                 samples_every: int = 0, samples_shown: int = 4, model_name: str = "",
                 overlong_buffer: int | None = None, overlong_penalty: float = 1.0, **kwargs: Any):
        kwargs.setdefault("reward_funcs", [scorer])
        super().__init__(*args, **kwargs)
        self.scorer = scorer
        self.rollout_log = rollout_log
        self.samples_every = samples_every
        self.samples_shown = samples_shown
        self.model_name = model_name
        self._overlong = None
        if overlong_buffer:
            from trl.rewards import get_soft_overlong_punishment

            self._overlong = (get_soft_overlong_punishment(self.args.max_completion_length, overlong_buffer),
                              overlong_penalty)
        self._judge_seen = {"cache": 0, "looked_up": 0, "seconds": 0.0, "pairs": 0}

    # -- timing of the generation phase --------------------------------------------------------------
    def _generate(self, prompts: list):
        started = time.perf_counter()
        try:
            return super()._generate(prompts)
        finally:
            self._metrics["train" if self.model.training else "eval"]["time/generation_s"].append(
                time.perf_counter() - started)

    # -- rewards ----------------------------------------------------------------------------------------
    def _calculate_rewards(self, inputs: list[dict[str, Any]], prompts: list, completions: list,
                           completion_ids_list: list) -> torch.Tensor:
        mode = "train" if self.model.training else "eval"
        device = self.accelerator.device
        started = time.perf_counter()
        texts = [completion_text(c) for c in completions]
        graded = self.scorer.grade([str(x["ground_truth"]) for x in inputs], texts)
        judged = time.perf_counter()

        codes = gather(torch.tensor(graded.codes, dtype=torch.long, device=device)).tolist()
        sample_ids = gather_object([str(x["sample_id"]) for x in inputs])
        if JUDGE_ERROR in codes:
            errors = [e for e in gather_object([graded.error]) if e]
            self._stop_for_outage(errors[0] if errors else "unknown judge error")
        num_generations = self.num_generations if mode == "train" else self.num_generations_eval
        check_groups(sample_ids, num_generations)
        step = self.state.global_step + 1  # the optimizer step these rollouts first feed
        codes = self.scorer.with_noise(codes, step=step)
        rewards = self.scorer.rewards(sample_ids, codes)
        lengths = gather(torch.tensor([len(ids) for ids in completion_ids_list], device=device)).tolist()
        if self._overlong is not None:
            punish, weight = self._overlong
            rewards = [r + weight * p for r, p in zip(rewards, punish(completion_ids=[[0] * n for n in lengths]),
                                                    strict=True)]
        self._record_metrics(mode, codes, rewards, num_generations, lengths, judged - started)
        self._log_rollouts(step, inputs, texts, graded.answers, sample_ids, codes, rewards, lengths)
        self._metrics[mode]["time/reward_s"].append(time.perf_counter() - judged)
        return torch.tensor(rewards, dtype=torch.float32, device=device).unsqueeze(1)

    def _stop_for_outage(self, error: str) -> None:
        """Every process gets here together (the error code was gathered): checkpoint, then stop."""
        self._save_checkpoint(self.model, trial=None)
        folder = f"{self.args.output_dir}/checkpoint-{self.state.global_step}"
        raise JudgeOutageError(
            f"the judge kept failing for {self.scorer.retry_budget_s:g}s (last error: {error}); "
            f"training stopped at step {self.state.global_step} with a checkpoint in {folder}. "
            "Bring the judge back and rerun the same command with --resume."
        )

    # -- what a researcher watches ----------------------------------------------------------------------
    def _record_metrics(self, mode: str, codes: Sequence[int], rewards: Sequence[float], group_size: int,
                        lengths: Sequence[int], judge_seconds: float) -> None:
        metrics = self._metrics[mode]
        total = len(codes)
        shares = summarize(decode(c) for c in codes).shares
        for label, key in zip(LABEL_KEYS, SHARE_KEYS, strict=True):
            metrics[f"categories/{key}"].append(shares[label])
        values = torch.tensor(rewards, dtype=torch.float64)
        metrics["speciarl/reward_mean"].append(values.mean().item())
        metrics["speciarl/reward_std"].append(values.std(unbiased=False).item())
        grouped = values.view(-1, group_size)
        zero = (grouped.max(dim=1).values == grouped.min(dim=1).values).double().mean().item()
        metrics["speciarl/zero_variance_groups"].append(zero)
        metrics["speciarl/tokens_per_rollout"].append(sum(lengths) / total)
        stats = getattr(self.scorer.judge, "stats", None)
        if stats is not None:
            now = {"cache": stats.cache, "looked_up": stats.looked_up, "seconds": stats.seconds, "pairs": stats.pairs}
            delta = torch.tensor([now[k] - self._judge_seen[k] for k in ("cache", "looked_up", "seconds", "pairs")],
                                 dtype=torch.float64, device=self.accelerator.device)
            self._judge_seen = now
            summed = gather(delta.unsqueeze(0)).sum(dim=0).tolist()
            metrics["judge/cache_hit_rate"].append(summed[0] / summed[1] if summed[1] else 0.0)
            metrics["judge/pairs"].append(summed[3])
        metrics["time/judge_s"].append(judge_seconds)

    def _log_rollouts(self, step: int, inputs: list[dict[str, Any]], texts: list[str],
                      answers: list[str | None], sample_ids: list[str], codes: list[int], rewards: list[float],
                      lengths: list[int]) -> None:
        fields = [{k: x.get(k) for k in ("dataset", "ground_truth", "prompt_name", "prompt_hash", "split")}
                  for x in inputs]
        local = [(f, t, a, self.accelerator.process_index) for f, t, a in zip(fields, texts, answers, strict=True)]
        gathered = gather_object(local)
        if not self.accelerator.is_main_process:
            return
        judge = getattr(self.scorer.judge, "identity", None)
        records = []
        index_in_group: dict[str, int] = {}
        for (f, text, answer, rank), sid, code, reward, tokens in zip(gathered, sample_ids, codes, rewards, lengths,
                                                                     strict=True):
            index = index_in_group[sid] = index_in_group.get(sid, -1) + 1
            category = decode(code)
            records.append({
                "sample_id": sid, "dataset": f["dataset"], "ground_truth": f["ground_truth"],
                "split": f["split"] or "train", "prediction_index": index, "completion": text,
                "prompt_name": f["prompt_name"], "prompt_hash": f["prompt_hash"], "model": self.model_name,
                "answer": answer, "answer_normalized": None if answer is None else normalize(answer),
                "ground_truth_normalized": normalize(str(f["ground_truth"])),
                "category": None if category is None else category.value,
                "judge": judge if answer is not None else None,
                "step": step, "reward": reward, "tokens": tokens, "rank": rank,
            })
        if self.rollout_log is not None:
            self.rollout_log.write(records)
        if self.samples_every and (step == 1 or step % self.samples_every == 0):
            print_samples(step, records[: self.samples_shown])
