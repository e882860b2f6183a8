"""The user's own data: image folders, JSONL manifests, local Hugging Face copies, the tiny generator."""

from __future__ import annotations

import json

import pytest
from helpers.archives import write_corrupt, write_image

from speciarl.data import ImageProblems, iter_images, load_benchmark
from speciarl.data.synthetic import species_names, write_synthetic
from speciarl.records import RecordError


def test_imagefolder_with_and_without_split_folders(tmp_path):
    for n, rel in enumerate(["snow_leopard/a.jpg", "snow_leopard/b.png", "red_fox/c.jpg", "red_fox/notes.txt"]):
        if rel.endswith(".txt"):
            (tmp_path / "flat" / rel).write_text("not an image")
        else:
            write_image(tmp_path / "flat" / rel, n)
    flat = load_benchmark("imagefolder", tmp_path / "flat", dataset_name="zoo")
    assert [s.sample_id for s in flat] == ["zoo:test:red_fox/c", "zoo:test:snow_leopard/a", "zoo:test:snow_leopard/b"]
    assert [s.ground_truth for s in flat] == ["red fox", "snow leopard", "snow leopard"]
    write_image(tmp_path / "split" / "train" / "owl" / "1.jpg", 1)
    write_image(tmp_path / "split" / "test" / "hawk" / "1.jpg", 2)
    train = load_benchmark("imagefolder", tmp_path / "split", "train")
    assert [s.ground_truth for s in train] == ["owl"] and train[0].split == "train"


def test_manifest_rows_paths_splits_and_attributes(tmp_path):
    write_image(tmp_path / "img" / "a.jpg", 1)
    write_image(tmp_path / "img" / "b.jpg", 2)
    rows = [
        {"image": "img/a.jpg", "label": "Golden-winged Warbler", "family": "Parulidae"},
        {"image": str(tmp_path / "img" / "b.jpg"), "ground_truth": "samoyed", "id": "dog-7", "split": "test"},
        {"image": "img/a.jpg", "label": "warbler", "id": "x", "split": "train"},
    ]
    manifest = tmp_path / "mine.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    test = load_benchmark("manifest", manifest)
    assert [s.sample_id for s in test] == ["mine:test:img/a.jpg", "mine:test:dog-7"]
    assert test[0].attributes == {"family": "Parulidae"} and test[1].ground_truth == "samoyed"
    assert test[0].image_path == (tmp_path / "img" / "a.jpg").resolve()
    train = load_benchmark("manifest", manifest, "train")
    assert [s.ground_truth for s in train] == ["Golden-winged Warbler", "warbler"]


def test_manifest_errors_name_file_line_and_field(tmp_path):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text('{"image": "a.jpg", "label": "x"}\n{"image": "b.jpg"}\n')
    write_image(tmp_path / "a.jpg", 1)
    write_image(tmp_path / "b.jpg", 2)
    with pytest.raises(RecordError) as info:
        load_benchmark("manifest", manifest)
    assert info.value.line == 2 and info.value.field == "label" and str(manifest) in str(info.value)
    manifest.write_text('{"image": "a.jpg", "label": "x"}\n{"image": "a.jpg", "label": "y"}\n')
    with pytest.raises(Exception, match="duplicate sample_id.*distinct"):
        load_benchmark("manifest", manifest)


def test_iter_images_skips_corrupt_files_with_path_and_count(tmp_path):
    write_image(tmp_path / "ok" / "1.jpg", 1)
    write_corrupt(tmp_path / "ok" / "2.jpg")
    (tmp_path / "ok" / "3.jpg").write_bytes(b"")
    write_image(tmp_path / "ok" / "4.jpg", 4)
    samples = load_benchmark("imagefolder", tmp_path)
    assert len(samples) == 4
    problems = ImageProblems()
    good = [(s.sample_id, img.size) for s, img in iter_images(samples, problems)]
    assert good == [("imagefolder:test:ok/1", (12, 10)), ("imagefolder:test:ok/4", (12, 10))]
    assert problems.count == 2
    assert [p.path for p in problems.items] == [str(tmp_path / "ok" / "2.jpg"), str(tmp_path / "ok" / "3.jpg")]
    assert "2 image(s) skipped" in problems.summary()


def test_hf_route_reads_a_saved_local_copy_with_class_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=["apple_pie", "baby_back_ribs"])})
    images = [Image.new("RGB", (8, 8), (10 * i, 0, 0)) for i in range(3)]
    ds = datasets.Dataset.from_dict({"image": images, "label": [1, 0, 1]}, features=features)
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "food_copy"))
    split = load_benchmark("hf", tmp_path / "food_copy", dataset_name="food101")
    assert [s.sample_id for s in split] == ["food101:test:0", "food101:test:1", "food101:test:2"]
    assert [s.ground_truth for s in split] == ["baby back ribs", "apple pie", "baby back ribs"]
    assert split[1].image_path is None and split[1].open_image().getpixel((0, 0)) == (10, 0, 0)
    with pytest.raises(Exception, match="no column 'fine_label'"):
        load_benchmark("hf", tmp_path / "food_copy", label_column="fine_label")


def test_hf_preset_maps_our_split_names_and_checks_sizes(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    from speciarl.data import BenchmarkSizeWarning
    from speciarl.errors import ConfigError

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["apple_pie"])})
    ds = datasets.Dataset.from_dict({"image": [Image.new("RGB", (4, 4))], "label": [0]}, features=features)
    datasets.DatasetDict({"train": ds, "validation": ds}).save_to_disk(str(tmp_path / "ethz_food101"))
    with pytest.warns(BenchmarkSizeWarning, match="25250"):
        split = load_benchmark("hf", tmp_path / "ethz_food101", "official_test", preset="food101")
    assert [(s.sample_id, s.ground_truth) for s in split] == [("food101:official_test:0", "apple pie")]
    with pytest.raises(ConfigError, match="split_zhou_Food101.json"):
        load_benchmark("hf", tmp_path / "ethz_food101", "test", preset="food101")


def test_synthetic_benchmark_is_deterministic_and_has_a_taxonomy(tmp_path):
    import yaml

    a = write_synthetic(tmp_path / "a", per_class=2, seed=3)
    b = write_synthetic(tmp_path / "b", per_class=2, seed=3)
    c = write_synthetic(tmp_path / "c", per_class=2, seed=4)
    first = (a.root / "images/test/red_circle/0.png").read_bytes()
    assert first == (b.root / "images/test/red_circle/0.png").read_bytes()
    assert first != (c.root / "images/test/red_circle/0.png").read_bytes()
    test = load_benchmark("synthetic", a.root)
    assert len(test) == 18 and {s.ground_truth for s in test} == set(species_names())
    tree = yaml.safe_load(a.taxonomy.read_text())
    assert tree["name"] == "shape" and [g["name"] for g in tree["children"]] == ["circle", "square", "triangle"]
    leaves = {leaf["name"] for g in tree["children"] for leaf in g["children"]}
    assert leaves == set(species_names())


def test_verify_images_decodes_images_stored_inside_a_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(png, format="PNG")
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["a", "b"])})
    rows = {"image": [{"bytes": png.getvalue(), "path": None}, {"bytes": b"not an image", "path": None}],
            "label": [0, 1]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows, features=features)}).save_to_disk(
        str(tmp_path / "copy"))
    assert len(load_benchmark("hf", tmp_path / "copy")) == 2  # without verification both are listed
    checked = load_benchmark("hf", tmp_path / "copy", verify_images=True)
    assert [s.sample_id for s in checked] == ["copy:test:0"]
    assert [item.path for item in checked.skipped] == ["copy:test:1"]
    assert "UnidentifiedImageError" in checked.skipped[0].reason
