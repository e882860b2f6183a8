"""`speciarl classify IMAGE… --model PATH_OR_ID`: what does this model say about my photo?

The first thing a person does with a model they just trained. The images go through the same
backends (`speciarl.predict.build_predictor`), prompts (`speciarl.prompts`), answer extraction and,
with `--truth` and `--judge`, the same judges as `speciarl eval`, so what is printed here is what an
evaluation would have recorded for that image. Nothing is written to disk.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..answers import extract_answer
from ..errors import ConfigError, SpeciarlError

PARSE_FAILURE = "parse failure"
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)


@dataclass
class ImageResult:
    """One image: its N completions, their answers (None = no answer tag) and, when judged, categories."""

    image: str
    truth: str | None = None
    completions: list[str] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
    categories: list[str] | None = None  # a label, "parse failure", or "not graded: <why>"
    error: str | None = None  # the image could not be read, or the backend failed

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def reasoning(completion: str) -> str:
    """The text inside <think>…</think> (or everything before the answer tag when there is none)."""
    found = _THINK.search(completion)
    if found:
        return found.group(1).strip()
    return completion.split("<answer>", 1)[0].strip()


def model_config(model: str, *, backend: str = "transformers", adapter: str | None = None,
                 base_url: str | None = None, device: str | None = None) -> dict[str, Any]:
    """A `model:` section as `speciarl eval` takes it, from the command line's few options."""
    if backend == "openai":
        if not base_url:
            raise ConfigError("--backend openai needs --base-url (the server serving --model)")
        if adapter:
            raise ConfigError("--adapter works with the transformers and vllm backends (a served model has its own)")
        return {"backend": "openai", "base_url": base_url, "model": model}
    config: dict[str, Any] = {"backend": backend, "path": model}
    if adapter:
        config["adapter"] = adapter
    if device and backend == "transformers":
        config["device"] = device
    return config


def classify(
    images: Sequence[str | os.PathLike[str]],
    model: dict[str, Any],
    *,
    prompt: str = "base",
    sampling: Any = None,
    truth: str | None = None,
    judge: dict[str, Any] | None = None,
) -> list[ImageResult]:
    """Each image's completions (N = sampling.n), answers and, with `truth` and `judge`, categories."""
    from ..data.sample import Sample
    from ..predict import PredictRequest, SamplingParams, build_predictor
    from ..prompts import get_prompt

    if judge is not None and truth is None:
        raise ConfigError("--judge grades against a ground truth: give --truth LABEL")
    missing = [str(p) for p in images if not Path(p).is_file()]
    if missing:
        raise SpeciarlError(f"no such image file: {', '.join(missing)}")
    sampling = sampling or SamplingParams()
    chosen = get_prompt(prompt)
    samples = [Sample(sample_id=f"classify:{i}", dataset="classify", split="classify", ground_truth=truth or "",
                      image_path=Path(p)) for i, p in enumerate(images)]
    results = [ImageResult(image=str(p), truth=truth) for p in images]
    texts: list[dict[int, str]] = [{} for _ in images]
    predictor = build_predictor(dict(model))
    try:
        requests = [PredictRequest(sample=s, prompt=chosen, indices=tuple(range(sampling.n))) for s in samples]
        for completion in predictor.predict(requests, sampling):
            index = int(completion.request.sample.sample_id.split(":")[1])
            if completion.error is not None:
                results[index].error = completion.error
            else:
                texts[index][completion.prediction_index] = completion.text or ""
    finally:
        predictor.close()
    for result, by_index in zip(results, texts):
        result.completions = [by_index[i] for i in sorted(by_index)]
        result.answers = [extract_answer(text) for text in result.completions]
    if judge is not None and truth is not None:
        _grade(results, truth, judge)
    return results


def _grade(results: list[ImageResult], truth: str, judge_config: dict[str, Any]) -> None:
    from ..judges import build_judge

    judge = build_judge(dict(judge_config))
    try:
        asked = [a for r in results for a in r.answers if a is not None]
        verdicts = iter(judge.grade([(truth, a) for a in asked]) if asked else [])
        for result in results:
            result.categories = []
            for answer in result.answers:
                if answer is None:
                    result.categories.append(PARSE_FAILURE)
                    continue
                verdict = next(verdicts)
                result.categories.append(verdict.category.value if verdict.ok and verdict.category
                                         else f"not graded: {verdict.error or 'no category'}")
    finally:
        judge.close()


def format_result(result: ImageResult, *, show_reasoning: bool = True) -> str:
    """A few lines per image: the answer (or the spread of N answers with counts) and the reasoning."""
    head = result.image + (f"  (truth: {result.truth})" if result.truth else "")
    if result.error:
        return f"{head}\n  error: {result.error}"
    lines = [head]
    n = len(result.answers)
    shown = [a if a is not None else "(no answer)" for a in result.answers]
    categories = result.categories or [None] * n
    if n == 1:
        lines.append(f"  answer: {shown[0]}" + (f"   [{categories[0]}]" if categories[0] else ""))
    else:
        distinct = len(set(shown))
        lines.append(f"  {n} samples, {distinct} distinct answer{'' if distinct == 1 else 's'}:")
        spread = Counter(zip(shown, categories))
        width = max(len(a) for a, _ in spread)
        for (answer, category), count in sorted(spread.items(), key=lambda item: (-item[1], item[0][0])):
            lines.append(f"  {count:>4}x  {answer:<{width}}" + (f"   [{category}]" if category else ""))
        if result.categories:
            graded = Counter(result.categories)
            correct = sum(graded[c] for c in ("generic", "less specific", "specific", "more specific"))
            specific = graded["specific"] + graded["more specific"]
            lines.append(f"  correct {correct}/{n}, specific or finer {specific}/{n}")
    if show_reasoning and result.completions:
        top = Counter(shown).most_common(1)[0][0]
        first = shown.index(top)
        which = "" if n == 1 else f" (sample {first}, answer {top!r})"
        lines.append(f"  reasoning{which}: {reasoning(result.completions[first]) or '(none)'}")
    return "\n".join(lines)
