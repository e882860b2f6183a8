"""One paper-sized training step of rollouts, shared by the judge and verl benchmarks and tests.

256 images x 10 rollouts = 2,560 answers: per image the exact label (25 %), a parent (35 %), one
confusion (37 %), a refusal (3 %), so about 30 % of the pairs are distinct, as rollouts of one image
repeat themselves. Labels come from the benchmarks' class lists in tests/judges/data.
"""

from __future__ import annotations

import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def training_step(seed: int = 0, images: int = 256, rollouts: int = 10) -> list[tuple[str, str]]:
    """Rollouts of one step: per image the exact label (25 %), a parent (35 %), one confusion (37 %),
    a refusal (3 %): about 30 % distinct pairs, as rollouts of one image repeat themselves."""
    rng = random.Random(seed)
    labels = sorted({line.strip() for path in (ROOT / "tests" / "judges" / "data").glob("*.txt")
                     for line in path.read_text().splitlines() if line.strip()})
    gts = rng.sample(labels, images) if images <= len(labels) else [rng.choice(labels) for _ in range(images)]
    pairs = []
    for gt in gts:
        words = gt.split()
        parent = words[-1] if len(words) > 1 else "thing"  # "warbler", "Cab 2012"-ish: a broader answer
        confusion = rng.choice([x for x in labels if x != gt])
        for _ in range(rollouts):
            r = rng.random()
            if r < 0.25:
                pairs.append((gt, gt))
            elif r < 0.60:
                pairs.append((gt, parent))
            elif r < 0.97:
                pairs.append((gt, confusion))
            else:
                pairs.append((gt, "I don't know"))
    return pairs


def rollout_texts(pairs: list[tuple[str, str]], rollouts: int = 10, parse_failures: float = 0.02,
                  seed: int = 0) -> list[tuple[str, str, str]]:
    """(ground truth, response text, verl uid) per rollout: the answer inside think/answer tags, a few
    responses without an answer tag (parse failures), consecutive `rollouts` sharing one uid."""
    rng = random.Random(seed)
    out = []
    for i, (gt, answer) in enumerate(pairs):
        text = (f"<think>looking at the image</think><answer>{answer}</answer>" if rng.random() >= parse_failures
                else "I think it is a bird")
        out.append((gt, text, f"uid-{i // rollouts}"))
    return out
