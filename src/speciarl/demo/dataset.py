"""Write the demo world's splits: PNG images plus one record per image (`speciarl.records` schema).

Each split has the world's visibility shares exactly (largest remainder), species spread evenly
within each visibility, and a per-image seed derived from (seed, split, index), so splits never
share an image and a rerun writes the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..records import Record, iter_records, write_records_atomic
from .render import render
from .world import Visibility, World, allocate

DATASET = "demo"


def image_seed(seed: int, split: str, index: int) -> int:
    digest = hashlib.sha256(f"speciarl-demo:{seed}:{split}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def plan_split(world: World, split: str, n: int, seed: int) -> list[tuple[int, str, Visibility]]:
    """(image seed, species name, visibility) for each of the `n` images of a split, in order."""
    split_code = int.from_bytes(hashlib.sha256(split.encode()).digest()[:4], "little")
    rng = np.random.default_rng([seed, split_code])
    names = [s.name for s in world.species]
    rows: list[tuple[str, Visibility]] = []
    for visibility, count in allocate(n, world.visibility_shares).items():
        reps = -(-count // len(names))
        chosen = list(rng.permutation(np.tile(names, reps))[:count]) if count else []
        rows.extend((str(name), visibility) for name in chosen)
    order = rng.permutation(len(rows))
    return [(image_seed(seed, split, i), *rows[j]) for i, j in enumerate(order)]


def write_split(world: World, out_dir: str | Path, split: str, n: int, seed: int = 0) -> Path:
    """Render `n` images of `split` under out_dir/images/<split>/ and write out_dir/<split>.jsonl.

    Record: sample_id, dataset "demo", split, ground_truth = species name; extra: image (path
    relative to out_dir), visibility, honest_label (the most specific answer the image supports), genus.
    """
    out_dir = Path(out_dir)
    image_dir = out_dir / "images" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    by_name = {s.name: s for s in world.species}
    records = []
    for index, (img_seed, name, visibility) in enumerate(plan_split(world, split, n, seed)):
        species = by_name[name]
        sample_id = f"demo-{split}-{index:05d}"
        rel = Path("images") / split / f"{sample_id}.png"
        render(world, species, visibility, img_seed).save(out_dir / rel)
        records.append(
            Record(
                sample_id=sample_id,
                dataset=DATASET,
                ground_truth=species.name,
                split=split,
                extra={
                    "image": rel.as_posix(),
                    "visibility": str(visibility),
                    "honest_label": world.honest_label(species, visibility),
                    "genus": species.genus,
                    "seed": img_seed,
                },
            )
        )
    path = out_dir / f"{split}.jsonl"
    write_records_atomic(path, records)
    return path


def write_world(world: World, out_dir: str | Path, sizes: Mapping[str, int], seed: int = 0) -> dict[str, Path]:
    """Every split in `sizes` plus taxonomy.yaml; returns split name → records path."""
    out_dir = Path(out_dir)
    world.write_taxonomy(out_dir / "taxonomy.yaml")
    return {split: write_split(world, out_dir, split, n, seed) for split, n in sizes.items()}


def load_split(path: str | Path) -> list[Record]:
    """Records of a split with `extra["image"]` made absolute."""
    path = Path(path)
    records = list(iter_records(path))
    for r in records:
        r.extra["image"] = str((path.parent / r.extra["image"]).resolve())
    return records
