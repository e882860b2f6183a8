"""The bridge from rollouts to rewards: answer extraction → judge (with retries) → categories →
the configured reward scheme, grouped by sample id.

Two halves, because groups can straddle processes: `grade` runs on each process's own slice of the
rollouts (spreading the judge load), `rewards` runs on the *gathered* categories of the whole
generation batch, grouped by `sample_id`, so the result does not depend on the number of processes,
the batch size or gradient accumulation. A judge that keeps failing is never a reward: after the
retry budget the failed rollouts carry `JUDGE_ERROR` and the trainer stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..answers import extract_answer
from ..categories import Category
from ..errors import SpeciarlError
from ..rewards import get_reward_scheme, inject_judge_noise, rewards_by_key
from .config import RETRY_BUDGET_S, RETRY_INTERVAL_S

CATEGORIES = tuple(Category)
PARSE_FAILURE = -1  # category code of a rollout without a usable <answer>
JUDGE_ERROR = -2  # category code of a rollout the judge could not grade within the budget


class JudgeOutageError(SpeciarlError):
    """The judge failed for longer than the retry budget: training stops (with a checkpoint)."""


def may_retry(deadline: float, interval: float) -> bool:
    """Whether one more attempt, `interval` s from now, still fits a retry budget that ends at `deadline`
    (time.monotonic()); the one rule for every caller that retries failed grades."""
    return time.monotonic() + interval <= deadline


def encode(category: Category | None) -> int:
    return PARSE_FAILURE if category is None else CATEGORIES.index(category)


def decode(code: int) -> Category | None:
    if code == JUDGE_ERROR:
        raise ValueError("a judge error has no category")
    return None if code == PARSE_FAILURE else CATEGORIES[code]


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or a conversational list of assistant messages."""
    if isinstance(completion, str):
        return completion
    parts: list[str] = []
    for message in completion:
        content = message.get("content", "") if isinstance(message, dict) else message
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "".join(parts)


@dataclass
class Graded:
    """One process's slice after grading: answers, category codes, and the last judge error."""

    answers: list[str | None]
    codes: list[int]
    error: str | None = None
    retries: int = 0


@dataclass
class RolloutScorer:
    """Judge + reward scheme, as configured in a training config's `reward` and `judge` sections."""

    judge: Any  # speciarl.judges.Judge
    scheme: str = "speciarl"
    noise: float = 0.0
    noise_seed: int = 0
    scale: float = 1.0
    retry_budget_s: float = RETRY_BUDGET_S
    retry_interval_s: float = RETRY_INTERVAL_S

    def __post_init__(self) -> None:
        self._scheme = get_reward_scheme(self.scheme)  # unknown names fail at config time
        self.__name__ = "speciarl"  # TRL names the reward's metrics after this
        self._calls = 0  # the reward-function form's own step count, so noise differs per call

    # -- per process ---------------------------------------------------------------------------------
    def grade(self, ground_truths: Sequence[str], completions: Sequence[str]) -> Graded:
        """Extract answers and grade them (blocking, any thread); failed pairs are retried until the
        budget is spent."""
        from ..ioloop import io_loop

        return io_loop().run(self.agrade(ground_truths, completions))

    async def agrade(self, ground_truths: Sequence[str], completions: Sequence[str]) -> Graded:
        """`grade` for event-loop callers (verl's async reward): waits without blocking the loop."""
        answers = [extract_answer(c) for c in completions]
        codes = [PARSE_FAILURE] * len(answers)
        todo = [i for i, a in enumerate(answers) if a is not None]
        deadline = time.monotonic() + self.retry_budget_s
        error, retries = None, 0
        while todo:
            verdicts = await self.judge.agrade([(ground_truths[i], answers[i]) for i in todo])  # type: ignore[misc]
            failed = []
            for i, verdict in zip(todo, verdicts, strict=True):
                if verdict.ok:
                    codes[i] = encode(verdict.category)
                else:
                    failed.append(i)
                    error = verdict.error or "judge returned no category"
            todo = failed
            if not todo:
                break
            if not may_retry(deadline, self.retry_interval_s):
                for i in todo:
                    codes[i] = JUDGE_ERROR
                break
            retries += 1
            await asyncio.sleep(self.retry_interval_s)
        return Graded(answers, codes, error if any(c == JUDGE_ERROR for c in codes) else None, retries)

    # -- on the gathered batch ---------------------------------------------------------------------
    def with_noise(self, codes: Sequence[int], *, step: int) -> list[int]:
        """The judge-noise ablation (docs/method.md#rewards) on a whole generation batch, seeded by (noise_seed, step)."""
        if not self.noise:
            return list(codes)
        noisy = inject_judge_noise([decode(c) for c in codes], self.noise, seed=self.noise_seed * 1_000_003 + step)
        return [encode(c) for c in noisy]

    def rewards(self, sample_ids: Sequence[str], codes: Sequence[int]) -> list[float]:
        """Rewards for every rollout of a generation batch, grouped by sample id (order kept)."""
        if any(c == JUDGE_ERROR for c in codes):
            raise JudgeOutageError("cannot compute rewards: some rollouts have no grade")
        rewards = rewards_by_key(sample_ids, [decode(c) for c in codes], self._scheme.rewards)
        return [value * self.scale for value in rewards]

    def __call__(self, prompts: Any = None, completions: Sequence[Any] = (), *, sample_id: Sequence[str],
                 ground_truth: Sequence[str], **_: Any) -> list[float]:
        """TRL reward-function form, for one process holding whole groups (single-process use)."""
        graded = self.grade(ground_truth, [completion_text(c) for c in completions])
        if graded.error:
            raise JudgeOutageError(f"judge failed after {self.retry_budget_s:g}s of retries: {graded.error}")
        self._calls += 1
        return self.rewards(sample_id, self.with_noise(graded.codes, step=self._calls))


def check_groups(sample_ids: Sequence[str], num_generations: int) -> None:
    """TRL normalises advantages over consecutive blocks of G; each block must be one sample's group."""
    if len(sample_ids) % num_generations:
        raise RuntimeError(f"{len(sample_ids)} rollouts is not a multiple of G={num_generations}")
    seen: set[str] = set()
    for start in range(0, len(sample_ids), num_generations):
        block = set(sample_ids[start:start + num_generations])
        if len(block) != 1:
            raise RuntimeError(f"rollouts {start}..{start + num_generations - 1} mix samples {sorted(block)}")
        sid = block.pop()
        if sid in seen:
            raise SpeciarlError(f"sample_id {sid!r} appears twice in one generation batch; "
                                "sample ids in the training file must be unique")
        seen.add(sid)
