"""A small image benchmark on disk for predict/eval tests: PNGs, a JSONL manifest, a taxonomy.

Images are solid colours (the label is the colour's shape name), so a test server can "recognise"
them from the pixels it receives. `corrupt=True` adds one file that is not an image.
Usage from tests: `sys.path.insert(0, "tests/helpers")`, then `from eval_bench import write_bench`.
"""

from __future__ import annotations

import json
from pathlib import Path

COLOURS = {"red circle": (255, 0, 0), "blue square": (0, 0, 255), "green triangle": (0, 255, 0)}

TAXONOMY = """\
name: shape
children:
  - name: circle
    children: [{name: red circle}]
  - name: square
    children: [{name: blue square}]
  - name: triangle
    children: [{name: green triangle}]
"""


def write_bench(root: Path, n: int = 9, *, corrupt: bool = False) -> dict[str, Path]:
    """Write root/manifest.jsonl (+ images/, taxonomy.yaml); returns their paths."""
    from PIL import Image

    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    labels = list(COLOURS)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        rel = f"images/{i:03d}.png"
        Image.new("RGB", (48 + 4 * (i % 5), 40 + 4 * (i % 3)), COLOURS[label]).save(root / rel)
        rows.append({"image": rel, "label": label, "id": f"{i:03d}"})
    if corrupt:
        (root / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
        rows.append({"image": "images/broken.png", "label": "red circle", "id": "broken"})
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(TAXONOMY)
    return {"manifest": manifest, "taxonomy": taxonomy, "root": root}


def colour_label(rgb: tuple[int, int, int]) -> str:
    """The label whose colour is nearest to `rgb`."""
    return min(COLOURS, key=lambda k: sum((a - b) ** 2 for a, b in zip(COLOURS[k], rgb)))
