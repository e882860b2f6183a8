"""One benchmark image with its ground truth: what every loader yields and every stage consumes.

`sample_id` is stable across runs and machines: ``<dataset>:<split>:<original id>`` where the original
id is the dataset's own identifier of the image (CUB image id, FGVC image number, file stem, …),
never a position in a batch or a shuffled list. Resume, grouping and training logs key on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpeciarlError

if TYPE_CHECKING:  # PIL is only needed where images are opened
    from PIL import Image


def make_sample_id(dataset: str, split: str, original_id: str | int) -> str:
    """The stable id of one image: dataset, split and the dataset's own id of the image."""
    return f"{dataset}:{split}:{original_id}"


def clean_label(text: str) -> str:
    """Underscores become spaces, runs of spaces collapse ("american_bulldog" → "american bulldog")."""
    return " ".join(text.replace("_", " ").split())


@dataclass(frozen=True)
class Sample:
    """An image (a file, or a loader for images that live inside a dataset file) and its label.

    `attributes` carries extra labels some benchmarks have (FGVC family/manufacturer, Cars make),
    for later taxonomy work; they never replace `ground_truth`.
    """

    sample_id: str
    dataset: str
    split: str
    ground_truth: str
    image_path: Path | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    image_loader: Callable[[], Image.Image] | None = field(default=None, compare=False, repr=False)

    def __hash__(self) -> int:  # the attributes dict is unhashable; the id identifies the sample
        return hash(self.sample_id)

    def open_image(self) -> Image.Image:
        """The image as RGB; raises on a missing or corrupt file (see `images.open_image` to skip)."""
        from .images import load_rgb

        if self.image_loader is not None:
            return self.image_loader().convert("RGB")
        if self.image_path is None:
            raise ValueError(f"sample {self.sample_id} has neither an image path nor a loader")
        return load_rgb(self.image_path)

    def record_fields(self) -> dict[str, Any]:
        """The fields a prediction record starts from (speciarl.records BASE_FIELDS + split)."""
        return {
            "sample_id": self.sample_id,
            "dataset": self.dataset,
            "split": self.split,
            "ground_truth": self.ground_truth,
        }


@dataclass
class Skipped:
    """An image a loader could not use, with the reason (missing file, corrupt data)."""

    path: str
    reason: str


@dataclass
class BenchmarkSplit:
    """The samples of one split of one benchmark, plus what was skipped and why.

    Iterates, indexes and has a length like the list of samples it wraps.
    """

    name: str
    split: str
    samples: list[Sample]
    skipped: list[Skipped] = field(default_factory=list)
    expected_size: int | None = None

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]

    def summary(self) -> str:
        """One line for logs and the CLI: counts, skipped images, expected size."""
        text = f"{self.name}/{self.split}: {len(self.samples)} images"
        if self.expected_size is not None:
            text += f" (expected {self.expected_size})"
        if self.skipped:
            text += f", {len(self.skipped)} skipped (first: {self.skipped[0].path}: {self.skipped[0].reason})"
        return text


def check_unique_ids(samples: Sequence[Sample]) -> None:
    """Duplicate sample ids would merge two images in every metric: a loader bug, so fail loudly."""
    seen: set[str] = set()
    for sample in samples:
        if sample.sample_id in seen:
            raise SpeciarlError(
                f"duplicate sample_id {sample.sample_id!r}: two images share one id "
                "(in a manifest, give each row a distinct \"id\")"
            )
        seen.add(sample.sample_id)
