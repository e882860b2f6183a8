"""`speciarl data ...` end to end through the real argument parser."""

from __future__ import annotations

import json

import pytest
from helpers import archives

from speciarl.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::speciarl.data.BenchmarkSizeWarning")


def test_data_list_names_every_benchmark(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("cub200", "fgvc_aircraft", "flowers102", "food101", "oxford_pets", "stanford_cars", "caltech101"):
        assert f"{name}:" in out
    assert "CUB_200_2011.tgz" in out and "split_zhou_Food101.json" in out


def test_build_trainset_and_mix_from_the_command_line(tmp_path, capsys):
    archives.make_cub(tmp_path / "cub")
    root = archives.make_flowers(tmp_path / "fl")
    split_file = root / "split_zhou_OxfordFlowers.json"
    moved = tmp_path / "flowers_split.json"
    split_file.rename(moved)
    out = tmp_path / "train.jsonl"
    rc = main(["data", "build-trainset", "--benchmark", "cub200", "--root", str(tmp_path / "cub"), "--n", "3",
               "--seed", "1", "--prompt", "calibrated", "--output", str(out)])
    assert rc == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and {r["prompt_name"] for r in rows} == {"calibrated"}
    mix = tmp_path / "mix.jsonl"
    rc = main(["data", "mix", "--source", f"cub200={tmp_path / 'cub'}", "--source", f"flowers102={root}",
               "--option", f"flowers102.split_file={moved}", "--per-dataset", "2", "--output", str(mix)])
    assert rc == 0
    rows = [json.loads(line) for line in mix.read_text().splitlines()]
    assert sorted(r["dataset"] for r in rows) == ["cub200", "cub200", "flowers102", "flowers102"]
    assert "0 images skipped" in capsys.readouterr().out


def test_missing_archive_is_one_clear_error_line(tmp_path, capsys):
    rc = main(["data", "check", "--benchmark", "fgvc_aircraft", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "fgvc-aircraft-2013b.tar.gz" in err and "Traceback" not in err


def test_check_reports_skipped_images_and_size(tmp_path, capsys):
    root = archives.make_pets(tmp_path)
    archives.write_corrupt(root / "images" / "great_pyrenees_7.jpg")
    rc = main(["data", "check", "--benchmark", "oxford_pets", "--root", str(tmp_path), "--verify-images"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "3 images (expected 3669)" in out and "great_pyrenees_7.jpg" in out and "found 4 images" in out


def test_synthetic_command_writes_a_loadable_benchmark(tmp_path, capsys):
    assert main(["data", "synthetic", "--out", str(tmp_path / "syn"), "--per-class", "1"]) == 0
    assert main(["data", "check", "--benchmark", "synthetic", "--root", str(tmp_path / "syn")]) == 0
    assert "synthetic/test: 9 images" in capsys.readouterr().out


def test_prompts_command_lists_hashes_and_shows_text(capsys):
    from speciarl.prompts import get_prompt

    assert main(["data", "prompts"]) == 0
    out = capsys.readouterr().out
    assert all(f"{n:<16} {get_prompt(n).hash}" in out for n in ("base", "max_specificity"))
    assert main(["data", "prompts", "--show", "calibrated"]) == 0
    assert get_prompt("calibrated").text in capsys.readouterr().out
