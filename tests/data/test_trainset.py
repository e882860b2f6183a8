"""Training-set files: seeded subsets, the mix, and that TRL's VLM path accepts the rows as written."""

from __future__ import annotations

import json
import warnings

import pytest
from helpers import archives

from speciarl.data import BenchmarkSizeWarning
from speciarl.data.trainset import build_mix, build_trainset
from speciarl.errors import ConfigError
from speciarl.prompts import get_prompt


@pytest.fixture(autouse=True)
def _quiet_sizes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BenchmarkSizeWarning)
        yield


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_subset_rows_carry_prompt_and_ground_truth(tmp_path):
    archives.make_cub(tmp_path)
    out = tmp_path / "train.jsonl"
    summary = build_trainset("cub200", tmp_path, n=4, seed=0, prompt="be_specific", output=out)
    rows = _rows(out)
    prompt = get_prompt("be_specific")
    assert summary.rows == 4 and summary.per_dataset == {"cub200": 4}
    assert len({r["sample_id"] for r in rows}) == 4
    for row in rows:
        assert row["split"] == "train" and row["sample_id"].startswith("cub200:train:")
        assert row["ground_truth"] in {"Black footed Albatross", "Laysan Albatross", "Bobolink"}
        assert row["prompt_name"] == "be_specific" and row["prompt_hash"] == prompt.hash
        content = [{"type": "image"}, {"type": "text", "text": prompt.text}]
        assert row["prompt"] == [{"role": "user", "content": content}]
        assert row["image"].startswith("/") and (tmp_path / "CUB_200_2011" / "images").as_posix() in row["image"]


def test_subsets_are_seeded_order_free_and_nested(tmp_path):
    archives.make_cub(tmp_path)
    ids = {}
    for n, seed in [(2, 0), (5, 0), (5, 1)]:
        out = tmp_path / f"t{n}_{seed}.jsonl"
        build_trainset("cub200", tmp_path, n=n, seed=seed, output=out)
        ids[n, seed] = [r["sample_id"] for r in _rows(out)]
    again = tmp_path / "again.jsonl"
    build_trainset("cub200", tmp_path, n=5, seed=0, output=again)
    assert [r["sample_id"] for r in _rows(again)] == ids[5, 0]
    assert ids[5, 0][:2] == ids[2, 0]  # the small set is a prefix of the big one
    assert ids[5, 1] != ids[5, 0]
    with pytest.raises(ConfigError, match="asked for 7 images but only 6"):
        build_trainset("cub200", tmp_path, n=7, seed=0, output=tmp_path / "x.jsonl")


def test_corrupt_image_is_replaced_and_reported(tmp_path):
    archives.make_cub(tmp_path)
    out = tmp_path / "train.jsonl"
    build_trainset("cub200", tmp_path, n=3, seed=0, output=out)
    first = _rows(out)
    archives.write_corrupt(__import__("pathlib").Path(first[0]["image"]))
    summary = build_trainset("cub200", tmp_path, n=3, seed=0, output=out)
    second = _rows(out)
    assert summary.problems.count == 1 and summary.problems.items[0].path == first[0]["image"]
    assert [r["sample_id"] for r in second][:2] == [r["sample_id"] for r in first][1:]
    assert first[0]["sample_id"] not in {r["sample_id"] for r in second}


def test_mix_draws_per_dataset_and_uses_each_training_split(tmp_path):
    archives.make_cub(tmp_path / "cub")
    archives.make_food(tmp_path / "food")
    archives.make_pets(tmp_path / "pets")
    out = tmp_path / "mix.jsonl"
    sources = [("cub200", tmp_path / "cub", {}), ("food101", tmp_path / "food", {}),
               ("oxford_pets", tmp_path / "pets", {})]
    summary = build_mix(sources, per_dataset=2, seed=0, output=out)
    rows = _rows(out)
    assert summary.per_dataset == {"cub200": 2, "food101": 2, "oxford_pets": 2} and len(rows) == 6
    assert {r["split"] for r in rows if r["dataset"] == "oxford_pets"} == {"trainval"}
    assert {r["split"] for r in rows if r["dataset"] == "food101"} == {"train"}
    build_mix(sources, per_dataset=2, seed=0, output=tmp_path / "mix2.jsonl")
    assert _rows(tmp_path / "mix2.jsonl") == rows
    with pytest.raises(ConfigError, match="food101"):
        build_mix(sources, per_dataset=3, seed=0, output=tmp_path / "mix3.jsonl")


def test_trl_reads_the_file_as_a_vlm_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    data_utils = pytest.importorskip("trl.data_utils")
    from PIL import Image

    archives.make_cub(tmp_path)
    out = tmp_path / "train.jsonl"
    build_trainset("cub200", tmp_path, n=3, seed=0, output=out)
    ds = datasets.load_dataset("json", data_files=str(out), split="train").cast_column("image", datasets.Image())
    row = ds[0]
    assert isinstance(row["image"], Image.Image) and data_utils.is_conversational(row)
    messages = data_utils.prepare_multimodal_messages(row["prompt"], images=[row["image"]])
    parts = messages[0]["content"]
    assert parts[0]["type"] == "image" and parts[0]["image"] is row["image"]
    assert parts[1]["text"] == get_prompt("base").text
