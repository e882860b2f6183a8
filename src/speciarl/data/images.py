"""Opening images safely: a corrupt or missing file is reported with its path and skipped.

A 30,000-image evaluation must not die on image 29,417. Callers that stream images use
`iter_images(samples, problems)`, which yields (sample, RGB image) pairs and records every failure in an
`ImageProblems` collector (path, reason, count) that ends up in the run summary.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SpeciarlError
from .sample import Sample, Skipped

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


class ImageError(SpeciarlError):
    """An image that cannot be read; the message names the file."""


def load_rgb(path: str | os.PathLike[str]) -> Image.Image:
    """Decode the whole image (so truncated files fail here, not later in a processor) as RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except FileNotFoundError:
        raise ImageError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from None


def image_problem(path: str | os.PathLike[str]) -> str | None:
    """None if the file decodes, else the reason it does not."""
    try:
        load_rgb(path)
    except ImageError as exc:
        return str(exc).split(": ", 1)[1]
    return None


def sample_problem(sample: Sample) -> str | None:
    """None if the sample's image decodes (a file, or bytes inside a dataset file), else why not."""
    if sample.image_path is not None:
        return image_problem(sample.image_path)
    try:
        sample.open_image()
    except Exception as exc:  # an image loader from a dataset file failing on bad bytes
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class ImageProblems:
    """Collects unreadable images: each is logged once with its path; the count goes into summaries."""

    items: list[Skipped] = field(default_factory=list)

    def add(self, path: str | os.PathLike[str], reason: str) -> None:
        self.items.append(Skipped(str(path), reason))
        log.warning("skipping image %s: %s", path, reason)

    def extend(self, skipped: Iterable[Skipped]) -> None:
        for item in skipped:
            self.add(item.path, item.reason)

    @property
    def count(self) -> int:
        return len(self.items)

    def summary(self) -> str:
        if not self.items:
            return "0 images skipped"
        first = self.items[0]
        return f"{self.count} image(s) skipped; first: {first.path} ({first.reason})"

    def to_dict(self) -> dict[str, object]:
        return {"skipped_images": self.count, "skipped": [{"path": i.path, "reason": i.reason} for i in self.items]}


def open_image(sample: Sample, problems: ImageProblems) -> Image.Image | None:
    """The sample's RGB image, or None after recording why it cannot be read."""
    try:
        return sample.open_image()
    except ImageError as exc:
        problems.add(sample.image_path or sample.sample_id, str(exc).split(": ", 1)[-1])
    except Exception as exc:  # an image loader from a dataset file failing on bad bytes
        problems.add(sample.image_path or sample.sample_id, f"{type(exc).__name__}: {exc}")
    return None


def iter_images(samples: Iterable[Sample], problems: ImageProblems) -> Iterator[tuple[Sample, Image.Image]]:
    """(sample, image) for every readable sample; unreadable ones are recorded and skipped."""
    for sample in samples:
        image = open_image(sample, problems)
        if image is not None:
            yield sample, image


def existing_file(path: Path, skipped: list[Skipped]) -> bool:
    """Loaders check that each listed image exists (a stat, cheap) and record the missing ones."""
    if path.is_file():
        return True
    skipped.append(Skipped(str(path), "image file not found"))
    return False


def samples_from_files(
    dataset: str, split: str, entries: Iterable[tuple[str | int, Path, str, dict[str, object]]]
) -> tuple[list[Sample], list[Skipped]]:
    """Samples from (original id, image path, label, attributes); listed files that are missing are skipped."""
    from .sample import make_sample_id

    samples: list[Sample] = []
    skipped: list[Skipped] = []
    for original_id, path, label, attributes in entries:
        if existing_file(path, skipped):
            samples.append(
                Sample(
                    sample_id=make_sample_id(dataset, split, original_id),
                    dataset=dataset,
                    split=split,
                    ground_truth=label,
                    image_path=path,
                    attributes=attributes,
                )
            )
    return samples, skipped
