"""A speciarl training JSONL → verl's RL parquet (`speciarl data export-verl`)."""

from __future__ import annotations

from pathlib import Path


def export_verl_parquet(train_file: str | Path, out: str | Path, *, prompt: str = "base") -> int:
    """A training JSONL (speciarl.data.trainset) → verl's RL parquet: `data_source`, `prompt` (chat with an
    `<image>` placeholder), `images` (PNG/JPEG bytes, so Ray nodes need no shared filesystem), `ability`,
    `reward_model` {style, ground_truth}, `extra_info` {index, sample_id, split, prompt_name, prompt_hash}."""
    import datasets

    from speciarl.train.dataset import read_train_rows

    rows = read_train_rows(train_file, prompt=prompt)
    records = []
    for index, row in enumerate(rows):
        text = "".join("<image>" if part.get("type") == "image" else part.get("text") or ""
                       for message in row["prompt"] for part in message["content"])
        records.append({
            "data_source": row["dataset"],
            "prompt": [{"role": "user", "content": text}],
            "images": [{"bytes": Path(row["image"]).read_bytes()}],
            "ability": "fine-grained-recognition",
            "reward_model": {"style": "rule", "ground_truth": row["ground_truth"]},
            "extra_info": {"index": index, "sample_id": row["sample_id"], "split": row["split"],
                           "prompt_name": row["prompt_name"] or "", "prompt_hash": row["prompt_hash"] or ""},
        })
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(records).to_parquet(str(out))
    return len(records)
