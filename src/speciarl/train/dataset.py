"""The training set as TRL reads it: the JSONL of `speciarl.data.trainset`, validated, with images.

Rows need `sample_id` (unique: it is the GRPO group key), `dataset`, `ground_truth` and `image` (a
path); `prompt` (a conversational user turn with an image part) may be absent, then the configured
prompt is used. Bad rows fail with file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..records import Record, RecordError, iter_json_objects

REQUIRED = ("sample_id", "dataset", "ground_truth", "image")
KEPT = ("sample_id", "dataset", "split", "ground_truth", "image", "prompt", "prompt_name", "prompt_hash")


def read_train_rows(path: str | Path, *, prompt: str | None = "base", max_samples: int | None = None,
                    base_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Validated rows (only the columns training uses); relative image paths resolve against base_dir."""
    from ..prompts import get_prompt

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training file not found: {path}")
    base = Path(base_dir) if base_dir is not None else path.parent
    default = get_prompt(prompt) if prompt else None
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, data in iter_json_objects(path):
        record = Record.from_dict(data, path=path, line=number, required=REQUIRED)  # checks shared fields
        sid = record.sample_id
        if sid in seen:
            raise RecordError(path, number, "sample_id", f"duplicate of line {seen[sid]}: ids must be unique")
        seen[sid] = number
        image = Path(str(data["image"]))
        image = image if image.is_absolute() else base / image
        if not image.is_file():
            raise RecordError(path, number, "image", f"image file not found: {image}")
        row = {k: data.get(k) for k in KEPT}
        row.update(sample_id=sid, dataset=record.dataset, ground_truth=record.ground_truth, image=str(image),
                   split=row["split"] or "train")
        if row["prompt"] is None:
            if default is None:
                raise RecordError(path, number, "prompt", "no prompt in the row and no `data.prompt` configured")
            row.update(prompt=default.messages(), prompt_name=default.name, prompt_hash=default.hash)
        elif not _has_image_part(row["prompt"]):
            raise RecordError(path, number, "prompt", "must be a list of chat messages with an image part")
        rows.append(row)
        if max_samples is not None and len(rows) >= max_samples:
            break
    if not rows:
        raise ConfigError(f"training file {path} has no rows")
    return rows


def _has_image_part(prompt: Any) -> bool:
    if not isinstance(prompt, list):
        return False
    for message in prompt:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "image" for p in content):
            return True
    return False


def to_dataset(rows: list[dict[str, Any]]):
    """A `datasets.Dataset` whose `image` column decodes to PIL images (what GRPOTrainer expects)."""
    import datasets

    return datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())
