"""The training file reader: bad rows fail with file, line and field; good rows come back complete."""

import json

import pytest
from PIL import Image

from speciarl.errors import ConfigError
from speciarl.records import RecordError
from speciarl.train.dataset import read_train_rows


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (8, 8), "red").save(path)
    return path


def _row(image_file, **over):
    row = {"sample_id": "d:train:1", "dataset": "d", "ground_truth": "red circle", "image": image_file.name}
    row.update(over)
    return json.dumps(row)


def test_good_rows_get_the_default_prompt_and_absolute_images(tmp_path, image):
    path = tmp_path / "train.jsonl"
    path.write_text(_row(image) + "\n\n" + _row(image, sample_id="d:train:2") + "\n")
    rows = read_train_rows(path, prompt="base")
    assert [r["sample_id"] for r in rows] == ["d:train:1", "d:train:2"]
    assert rows[0]["image"] == str(image) and rows[0]["split"] == "train"
    assert rows[0]["prompt_name"] == "base" and len(rows[0]["prompt_hash"]) > 6
    assert any(part.get("type") == "image" for part in rows[0]["prompt"][0]["content"])


@pytest.mark.parametrize(
    "second, field, message",
    [
        ("{not json", None, "not a valid UTF-8 JSON line"),
        ('["a"]', None, "JSON object"),
        ('{"sample_id": "x", "dataset": "d", "image": "a.png"}', "ground_truth", "missing"),
        ("dup", "sample_id", "duplicate of line 1"),
        ("noimage", "image", "image file not found"),
        ("badprompt", "prompt", "image part"),
    ],
)
def test_bad_rows_name_line_and_field(tmp_path, image, second, field, message):
    lines = {"dup": _row(image), "noimage": _row(image, sample_id="x", image="missing.png"),
             "badprompt": _row(image, sample_id="x", prompt=[{"role": "user", "content": "text only"}])}
    path = tmp_path / "train.jsonl"
    path.write_text(_row(image) + "\n" + lines.get(second, second) + "\n")
    with pytest.raises(RecordError) as info:
        read_train_rows(path)
    assert info.value.line == 2 and info.value.field == field and message in str(info.value)


def test_non_utf8_and_empty_files(tmp_path, image):
    path = tmp_path / "train.jsonl"
    path.write_bytes(_row(image).encode() + b"\n" + b'{"sample_id": "\xff"}\n')
    with pytest.raises(RecordError, match=r"train.jsonl:2"):
        read_train_rows(path)
    path.write_text("\n")
    with pytest.raises(ConfigError, match="no rows"):
        read_train_rows(path)
    with pytest.raises(ConfigError, match="not found"):
        read_train_rows(tmp_path / "missing.jsonl")
