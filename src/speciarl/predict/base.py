"""The one interface every prediction backend implements (transformers, vLLM, OpenAI-compatible).

Why: the eval pipeline (and anything else that needs VLM answers) should not care where completions
come from. A backend receives requests — one benchmark sample, one prompt, the prediction indices
still wanted for it — and yields one `Completion` per (sample, index), in any order, as soon as it
has it, so the caller can append it to disk at once (kill-safe resume at (sample, index) level).
A sample whose image cannot be read yields completions with `error` set instead of raising: one
corrupt file must not stop a 30,000-image run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ConfigDict, model_validator

from ..configfile import Section, option
from ..errors import ConfigError


class SampleLike(Protocol):
    """What a backend needs from a benchmark sample (`speciarl.data.Sample` satisfies it)."""

    sample_id: str
    image_path: Any  # shown in error messages; None for images that live inside a dataset file

    def open_image(self) -> Any:
        """The image as an RGB PIL image; raises on a missing or corrupt file."""
        ...


class PromptLike(Protocol):
    name: str
    text: str
    hash: str


class SamplingParams(Section):
    """Decoding settings (the eval config's `sampling:` section). Greedy by default; the paper's
    best-of-64 is n=64, temperature=0.6, top_p=0.95."""

    model_config = ConfigDict(frozen=True)

    n: int = option(1, "predictions per image (best-of-N)")
    temperature: float = option(0.0, "0: greedy; the paper's best-of-64 samples at 0.6")
    top_p: float = option(1.0, "nucleus sampling mass (paper best-of-64: 0.95)")
    max_new_tokens: int = option(2048, "generation length limit in tokens")
    seed: int = option(0, "sample i of image x gets a seed derived from (seed, x, i): resumable, batch-independent")

    @model_validator(mode="after")
    def _check(self) -> SamplingParams:
        # ConfigError (not ValueError) passes through pydantic unchanged, so direct use raises it too
        if self.n < 1:
            raise ConfigError(f"sampling.n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ConfigError(f"sampling.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"sampling.top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"sampling.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.n > 1 and self.greedy:
            raise ConfigError(
                f"sampling.n={self.n} with temperature 0 would repeat one greedy answer {self.n} times; "
                "set a temperature (paper best-of-64: temperature 0.6, top_p 0.95)"
            )
        return self

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


@dataclass(frozen=True)
class PredictRequest:
    """One sample, one prompt, and which of its prediction indices (0..n-1) are still missing."""

    sample: SampleLike
    prompt: PromptLike
    indices: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Completion:
    """One prediction of one sample: the raw text, or `error` and no text.

    `error_kind` "image": the image cannot be read (skipped and reported, retried only if the file
    changes); "backend": the model/server failed for this one (not written; a rerun retries it).
    """

    request: PredictRequest
    prediction_index: int
    text: str | None
    error: str | None = None
    error_kind: str = "image"


class Predictor(Protocol):
    """A loaded model behind some backend. `model_name` goes into every record's `model` field."""

    model_name: str

    def predict(self, requests: Iterable[PredictRequest], sampling: SamplingParams) -> Iterator[Completion]:
        """Yield one Completion per (request, index), in any order, as soon as each is ready."""
        ...

    def close(self) -> None:
        """Free the model / engine / connections."""
        ...


def derived_seed(seed: int, sample_id: str, index: int) -> int:
    """A stable 31-bit seed per (run seed, sample, prediction index), independent of batching order."""
    digest = hashlib.sha256(f"{seed}\0{sample_id}\0{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def open_image(sample: SampleLike) -> tuple[Any, str | None]:
    """(RGB image, None) or (None, reason naming the file): backends never raise on a bad image."""
    try:
        return sample.open_image(), None
    except Exception as exc:  # corrupt bytes surface as many exception types; all mean "skip this one"
        where = sample.image_path or sample.sample_id
        reason = str(exc)
        return None, reason if str(where) in reason else f"{where}: {reason}"
