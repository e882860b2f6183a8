"""A tiny generated benchmark for tests and CPU configs: 3 shapes × 3 colours, drawn with PIL.

`write_synthetic(out_dir)` writes, deterministically under `seed`:

    out_dir/images/<split>/<species_with_underscores>/<n>.png   small pictures (a coloured shape)
    out_dir/<split>.jsonl                                      manifests {"id", "image", "label", "split"}
    out_dir/taxonomy.yaml                                      shape → circle/square/triangle → 9 species

and it is registered as the benchmark ``synthetic`` (root = out_dir), so configs can say
``benchmark: synthetic``. The taxonomy is in the TaxonomyJudge format ({name, synonyms, children}).
The richer synthetic world of the demo lives in `speciarl.demo`; this one is fixture-grade.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from .manifest import load as load_manifest
from .registry import register_benchmark
from .sample import Sample, Skipped

GENERA = ("circle", "square", "triangle")
COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (50, 70, 210)}
SYNONYMS = {"red": ["crimson"], "green": ["emerald"], "blue": ["azure"]}
SPLITS = ("train", "test")


@dataclass(frozen=True)
class SyntheticBenchmark:
    root: Path
    taxonomy: Path
    manifests: dict[str, Path]
    labels: tuple[str, ...]


def species_names() -> list[str]:
    return [f"{colour} {genus}" for genus in GENERA for colour in COLOURS]


def taxonomy() -> dict[str, object]:
    """Root "shape" → genus (the shape) → species (colour + shape), with colour-word synonyms."""
    return {
        "name": "shape",
        "synonyms": ["figure"],
        "children": [
            {
                "name": genus,
                "synonyms": [],
                "children": [
                    {"name": f"{colour} {genus}", "synonyms": [f"{s} {genus}" for s in SYNONYMS[colour]],
                     "children": []}
                    for colour in COLOURS
                ],
            }
            for genus in GENERA
        ],
    }


def _draw(genus: str, colour: tuple[int, int, int], rng: random.Random, size: int):  # -> PIL.Image.Image
    from PIL import Image, ImageDraw

    background = tuple(rng.randint(225, 255) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    half = rng.randint(size // 4, size // 3)
    cx, cy = rng.randint(half, size - half), rng.randint(half, size - half)
    box = (cx - half, cy - half, cx + half, cy + half)
    if genus == "circle":
        draw.ellipse(box, fill=colour)
    elif genus == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(cx, cy - half), (cx - half, cy + half), (cx + half, cy + half)], fill=colour)
    return image


def write_synthetic(
    out_dir: str | Path, *, per_class: int = 4, seed: int = 0, size: int = 32, splits: tuple[str, ...] = SPLITS
) -> SyntheticBenchmark:
    """Write the tiny benchmark (9 classes × `per_class` images per split); same seed, same bytes."""
    import yaml

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    manifests: dict[str, Path] = {}
    for split in splits:
        rng = random.Random(f"{seed}:{split}")
        rows = []
        for genus in GENERA:
            for colour_name, colour in COLOURS.items():
                label = f"{colour_name} {genus}"
                folder = root / "images" / split / label.replace(" ", "_")
                folder.mkdir(parents=True, exist_ok=True)
                for index in range(per_class):
                    path = folder / f"{index}.png"
                    _draw(genus, colour, rng, size).save(path)
                    rel = path.relative_to(root).as_posix()
                    rows.append({"id": rel.removeprefix(f"images/{split}/").removesuffix(".png"), "image": rel,
                                 "label": label, "split": split, "genus": genus})
        manifests[split] = root / f"{split}.jsonl"
        manifests[split].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tax = root / "taxonomy.yaml"
    tax.write_text(yaml.safe_dump(taxonomy(), sort_keys=False), encoding="utf-8")
    return SyntheticBenchmark(root.resolve(), tax.resolve(), manifests, tuple(species_names()))


@register_benchmark(
    "synthetic",
    title="Synthetic shapes (tiny, generated)",
    splits=SPLITS,
    markers=("taxonomy.yaml", "test.jsonl"),
    source="generated: speciarl data synthetic --out DIR",
    unpack="nothing to unpack; the generator writes DIR/{train,test}.jsonl, DIR/images/, DIR/taxonomy.yaml",
    label='"<colour> <shape>", e.g. "red circle"',
    group="synthetic",
)
def load(root: Path, split: str) -> tuple[list[Sample], list[Skipped]]:
    return load_manifest(root / f"{split}.jsonl", split, dataset_name="synthetic")
