"""Every benchmark loader against a small fabricated copy of its official archive layout."""

from __future__ import annotations

import warnings

import pytest
from helpers import archives

from speciarl.data import BenchmarkSizeWarning, MissingDataError, list_benchmarks, load_benchmark
from speciarl.errors import ConfigError


def _load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BenchmarkSizeWarning)  # fabricated archives are small on purpose
        return load_benchmark(*args, **kwargs)


def _by_id(split):
    return {s.sample_id: s for s in split}


def test_registry_lists_the_paper_benchmarks_with_sizes_and_sources():
    benches = {b.name: b for b in list_benchmarks()}
    expected = {"cub200": 5794, "flowers102": 2463, "food101": 30300, "oxford_pets": 3669,
                "stanford_cars": 8041, "fgvc_aircraft": 3333, "caltech101": 2465}
    for name, size in expected.items():
        assert benches[name].expected_sizes["test"] == size
        assert benches[name].source and benches[name].unpack
    assert {"imagefolder", "manifest", "hf", "synthetic"} <= set(benches)


def test_cub200_official_layout(tmp_path):
    archives.make_cub(tmp_path)
    test = _load("cub200", tmp_path)  # the parent of CUB_200_2011/ works too
    assert test.split == "test" and len(test) == 3
    sample = _by_id(test)["cub200:test:1"]
    assert sample.ground_truth == "Black footed Albatross"
    assert sample.image_path.is_file() and sample.image_path.name.startswith("Black_footed_Albatross_0000")
    assert sorted(s.ground_truth for s in test) == ["Black footed Albatross", "Bobolink", "Laysan Albatross"]
    assert len(set(test)) == 3  # samples hash by id even though attributes is a dict
    train = _load("cub200", tmp_path / "CUB_200_2011", "train")
    assert len(train) == 6 and not set(_by_id(train)) & set(_by_id(test))


def test_fgvc_aircraft_keeps_family_and_manufacturer(tmp_path):
    archives.make_aircraft(tmp_path)
    test = _by_id(_load("fgvc_aircraft", tmp_path))
    assert set(test) == {f"fgvc_aircraft:test:{i}" for i, *_ in archives.AIRCRAFT}
    hornet = test["fgvc_aircraft:test:0056978"]
    assert hornet.ground_truth == "F/A-18"
    assert hornet.attributes == {"family": "F/A-18", "manufacturer": "McDonnell Douglas"}
    assert test["fgvc_aircraft:test:1025794"].ground_truth == "Cessna 172"  # variants may contain spaces
    assert test["fgvc_aircraft:test:0034309"].attributes["family"] == "Boeing 707"
    train = _load("fgvc_aircraft", tmp_path, "train")
    assert [s.ground_truth for s in train] == ["707-320", "Cessna 172"]
    # CoOp's layout: the contents of data/ in a folder of their own
    (tmp_path / "fgvc-aircraft-2013b" / "data").rename(tmp_path / "fgvc_aircraft")
    assert set(_by_id(_load("fgvc_aircraft", tmp_path))) == set(test)


def test_flowers102_uses_the_coop_split_and_its_class_names(tmp_path):
    root = archives.make_flowers(tmp_path)
    test = _load("flowers102", tmp_path)
    assert [s.sample_id for s in test] == [f"flowers102:test:image_0000{i}" for i in (7, 8, 9)]
    assert [s.ground_truth for s in test] == ["pink primrose", "hard-leaved pocket orchid", "canterbury bells"]
    assert len(_load("flowers102", root, "train")) == 4 and len(_load("flowers102", root, "val")) == 2
    official = _load("flowers102", root, "official_test")
    assert [s.image_path.name for s in official] == [f"image_0000{i}.jpg" for i in (6, 7, 8, 9)]
    assert official[0].ground_truth == "canterbury bells"  # image 6 has label 3 in imagelabels.mat


def test_flowers102_split_file_by_path_and_clear_error_when_missing(tmp_path):
    root = archives.make_flowers(tmp_path / "a", split_file=False)
    with pytest.raises(MissingDataError) as info:
        _load("flowers102", root)
    message = str(info.value)
    assert "split_zhou_OxfordFlowers.json" in message and "CoOp" in message and "split_file" in message
    other = archives.make_flowers(tmp_path / "b") / "split_zhou_OxfordFlowers.json"
    moved = tmp_path / "elsewhere.json"
    other.rename(moved)
    assert len(_load("flowers102", root, split_file=str(moved))) == 3


def test_food101_coop_and_official_splits(tmp_path):
    root = archives.make_food(tmp_path)
    coop = _load("food101", tmp_path)
    assert [s.sample_id for s in coop] == ["food101:test:apple_pie/101251", "food101:test:baby_back_ribs/1009131"]
    assert [s.ground_truth for s in coop] == ["apple pie", "baby back ribs"]
    official = _load("food101", root, "official_test")
    assert [s.sample_id for s in official] == ["food101:official_test:apple_pie/1005649",
                                               "food101:official_test:baby_back_ribs/1005293"]
    (root / "split_zhou_Food101.json").unlink()
    with pytest.raises(MissingDataError, match="split_zhou_Food101.json"):
        _load("food101", root)
    assert len(_load("food101", root, "official_train")) == 4  # the official split needs no CoOp file


def test_oxford_pets_breed_from_file_name(tmp_path):
    archives.make_pets(tmp_path)
    test = _by_id(_load("oxford_pets", tmp_path))
    assert test["oxford_pets:test:american_bulldog_12"].ground_truth == "american bulldog"
    assert test["oxford_pets:test:great_pyrenees_7"].attributes == {"species": "dog"}
    assert test["oxford_pets:test:Maine_Coon_3"].ground_truth == "Maine Coon"
    assert test["oxford_pets:test:Abyssinian_201"].attributes == {"species": "cat"}
    assert len(_load("oxford_pets", tmp_path, "trainval")) == 2
    with pytest.raises(ConfigError, match="trainval"):
        _load("oxford_pets", tmp_path, "train")


def test_stanford_cars_from_mat_files_keeps_make(tmp_path):
    archives.make_cars(tmp_path)
    test = _load("stanford_cars", tmp_path)
    assert [s.ground_truth for s in test] == [archives.CAR_NAMES[i] for i in (0, 1, 2, 2)]
    assert [s.attributes["make"] for s in test] == ["AM General", "Acura", "Aston Martin", "Aston Martin"]
    assert test[0].sample_id == "stanford_cars:test:00001" and test[0].image_path.parent.name == "cars_test"
    train = _load("stanford_cars", tmp_path, "train")
    assert [s.image_path.parent.name for s in train] == ["cars_train", "cars_train"]


def test_caltech101_coop_split(tmp_path):
    archives.make_caltech(tmp_path)
    test = _load("caltech101", tmp_path)
    assert [s.ground_truth for s in test] == ["accordion", "face", "leopard", "water lilly"]
    assert test[1].sample_id == "caltech101:test:Faces_easy/image_0002"


@pytest.mark.parametrize(
    "name, expect",
    [("cub200", "CUB_200_2011.tgz"), ("fgvc_aircraft", "fgvc-aircraft-2013b.tar.gz"),
     ("flowers102", "102flowers.tgz"), ("food101", "food-101.tar.gz"), ("oxford_pets", "annotations.tar.gz"),
     ("stanford_cars", "cars_meta.mat"), ("caltech101", "101_ObjectCategories")],
)
def test_missing_archive_says_what_to_download_and_where(tmp_path, name, expect):
    with pytest.raises(MissingDataError) as info:
        load_benchmark(name, tmp_path / "nowhere")
    assert expect in str(info.value) and str(tmp_path / "nowhere") in str(info.value)


def test_size_check_warns_on_a_full_split_of_the_wrong_size(tmp_path):
    archives.make_cub(tmp_path)
    with pytest.warns(BenchmarkSizeWarning, match="5794"):
        load_benchmark("cub200", tmp_path)


def test_missing_and_corrupt_images_are_skipped_with_paths(tmp_path):
    root = archives.make_cub(tmp_path)
    test = _load("cub200", root)
    gone, broken = test[0].image_path, test[1].image_path
    gone.unlink()
    archives.write_corrupt(broken)
    listed = _load("cub200", root)
    assert len(listed) == 2 and listed.skipped[0].path == str(gone)
    checked = _load("cub200", root, verify_images=True)
    assert len(checked) == 1
    assert {s.path for s in checked.skipped} == {str(gone), str(broken)}
    assert "2 skipped" in checked.summary()


def test_unknown_names_options_and_splits_are_config_errors(tmp_path):
    archives.make_cub(tmp_path)
    with pytest.raises(ConfigError, match="known: .*cub200"):
        load_benchmark("cub", tmp_path)
    with pytest.raises(ConfigError, match="unknown option"):
        load_benchmark("cub200", tmp_path, split_file="x.json")
    with pytest.raises(ConfigError, match="unknown split"):
        load_benchmark("cub200", tmp_path, "validation")


def test_limit_keeps_the_dataset_order_after_the_size_check(tmp_path):
    archives.make_food(tmp_path)
    with pytest.warns(BenchmarkSizeWarning, match="found 2"):
        first = load_benchmark("food101", tmp_path, limit=1)
    assert [s.sample_id for s in first] == ["food101:test:apple_pie/101251"]
