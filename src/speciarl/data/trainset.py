"""Training sets: a seeded random subset of one benchmark split, or a mix of several, as one JSONL file.

File format (what `speciarl train` / TRL reads directly), one JSON object per line:

    sample_id     "<dataset>:<split>:<original id>", stable; the GRPO group key and the record key
    dataset       benchmark key ("cub200", "food101", ...)
    split         split the image was drawn from ("train", "trainval", ...)
    ground_truth  the label string (docs/method.md#benchmarks), what the judge compares the answer with
    image         absolute path of the image file
    prompt_name   prompt name ("base", or a user file's stem)
    prompt_hash   first 12 hex digits of the SHA-256 of the prompt text
    prompt        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "<prompt>"}]}]

Reading it for TRL's GRPOTrainer (1.16): `ds = datasets.load_dataset("json", data_files=PATH,
split="train").cast_column("image", datasets.Image())`. GRPOTrainer takes the `image` column, wraps each
in a list and fills the `{"type": "image"}` placeholder of `prompt` with it
(`trl.data_utils.prepare_multimodal_messages`); the other columns reach the reward functions as kwargs.

Selection: the split's samples are sorted by sample_id, shuffled with `random.Random(seed)`, and the
first N readable images are taken, so the result does not depend on file order, and with one seed the
128-image set is a prefix of the 1,024 one (nested data-scaling sets). Unreadable images are reported
with their path, counted, and replaced by the next ones in the shuffled order. A mix draws
`per_dataset` images from each benchmark (seed derived from the seed and the benchmark name) and
shuffles the rows together.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..prompts import Prompt, get_prompt
from ..records import write_records_atomic
from .images import ImageProblems, sample_problem
from .registry import get_benchmark, load_benchmark
from .sample import Sample


@dataclass
class TrainsetSummary:
    """What was written: row counts per dataset and the images skipped on the way."""

    output: Path
    prompt_name: str
    prompt_hash: str
    rows: int
    per_dataset: dict[str, int]
    problems: ImageProblems = field(default_factory=ImageProblems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "prompt_name": self.prompt_name,
            "prompt_hash": self.prompt_hash,
            "rows": self.rows,
            "per_dataset": self.per_dataset,
            **self.problems.to_dict(),
        }


def select_subset(
    samples: Sequence[Sample],
    n: int | None,
    seed: int | str,
    *,
    problems: ImageProblems | None = None,
    check_images: bool = True,
) -> list[Sample]:
    """N readable samples drawn without replacement, deterministic under `seed` (None: all, shuffled)."""
    problems = problems if problems is not None else ImageProblems()
    ordered = sorted(samples, key=lambda s: s.sample_id)
    random.Random(seed).shuffle(ordered)
    chosen: list[Sample] = []
    for sample in ordered:
        if n is not None and len(chosen) >= n:
            break
        if check_images:
            reason = sample_problem(sample)
            if reason is not None:
                problems.add(sample.image_path or sample.sample_id, reason)
                continue
        chosen.append(sample)
    if n is not None and len(chosen) < n:
        raise ConfigError(
            f"asked for {n} images but only {len(chosen)} readable ones are available "
            f"({len(samples)} in the split, {problems.count} unreadable)"
        )
    return chosen


def training_row(sample: Sample, prompt: Prompt, image_path: Path) -> dict[str, Any]:
    """One line of the training file (format in the module docstring)."""
    return {
        "sample_id": sample.sample_id,
        "dataset": sample.dataset,
        "split": sample.split,
        "ground_truth": sample.ground_truth,
        "image": str(Path(image_path).resolve()),
        "prompt_name": prompt.name,
        "prompt_hash": prompt.hash,
        "prompt": prompt.messages(),
    }


def _image_file(sample: Sample, images_dir: Path) -> Path:
    """The sample's image file; images stored inside a dataset file are written out as PNG once."""
    if sample.image_path is not None:
        return sample.image_path
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", sample.sample_id)
    path = images_dir / f"{safe}.png"
    if not path.exists():
        images_dir.mkdir(parents=True, exist_ok=True)
        sample.open_image().save(path)
    return path


def _write(chosen: list[Sample], prompt: Prompt, output: Path, problems: ImageProblems) -> TrainsetSummary:
    images_dir = output.with_name(output.stem + "_images")
    rows = [training_row(s, prompt, _image_file(s, images_dir)) for s in chosen]
    write_records_atomic(output, rows)
    counts = Counter(s.dataset for s in chosen)
    return TrainsetSummary(output, prompt.name, prompt.hash, len(rows), dict(sorted(counts.items())), problems)


def build_trainset(
    benchmark: str,
    root: str | Path,
    *,
    n: int | None,
    output: str | Path,
    seed: int = 0,
    prompt: str = "base",
    split: str | None = None,
    options: dict[str, Any] | None = None,
    check_images: bool = True,
) -> TrainsetSummary:
    """N random images of one benchmark split (default: its training split) → training file."""
    the_prompt = get_prompt(prompt)
    split = split or get_benchmark(benchmark).train_split
    data = load_benchmark(benchmark, root, split, **(options or {}))
    problems = ImageProblems()
    problems.extend(data.skipped)
    chosen = select_subset(data.samples, n, seed, problems=problems, check_images=check_images)
    return _write(chosen, the_prompt, Path(output), problems)


def build_mix(
    sources: Sequence[tuple[str, str | Path, dict[str, Any]]],
    *,
    per_dataset: int,
    output: str | Path,
    seed: int = 0,
    prompt: str = "base",
    check_images: bool = True,
) -> TrainsetSummary:
    """`per_dataset` random training images from each (benchmark, root, options) → one shuffled file."""
    if not sources:
        raise ConfigError("a mix needs at least one benchmark")
    names = [name for name, _, _ in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"benchmark listed twice in the mix: {names}")
    the_prompt = get_prompt(prompt)
    problems = ImageProblems()
    chosen: list[Sample] = []
    for name, root, options in sources:
        data = load_benchmark(name, root, get_benchmark(name).train_split, **options)
        problems.extend(data.skipped)
        try:
            chosen += select_subset(data.samples, per_dataset, f"{seed}:{name}", problems=problems,
                                    check_images=check_images)
        except ConfigError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    random.Random(seed).shuffle(chosen)
    return _write(chosen, the_prompt, Path(output), problems)
