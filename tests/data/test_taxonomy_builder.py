"""`speciarl data taxonomy` on fabricated copies of the archives; the file grades with the taxonomy judge."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from archives import make_aircraft, make_cars, make_pets  # noqa: E402

from speciarl.cli import main  # noqa: E402
from speciarl.errors import SpeciarlError  # noqa: E402
from speciarl.judges import build_judge  # noqa: E402

pytest.importorskip("scipy")


def grades(taxonomy: Path, levels: int, pairs):
    judge = build_judge({"type": "taxonomy", "taxonomy": str(taxonomy), "less_specific_levels": levels})
    return [v.category.value if v.ok else f"error: {v.error}" for v in judge.grade(pairs)]


def test_fgvc_aircraft(tmp_path, capsys):
    root = make_aircraft(tmp_path)
    out = tmp_path / "aircraft.yaml"
    assert main(["data", "taxonomy", "--benchmark", "fgvc_aircraft", "--root", str(root), "--out", str(out)]) == 0
    # the train split has no family file: its variants are placed by the test split
    assert "wrote 4 labels (train, test)" in capsys.readouterr().out
    text = out.read_text()
    assert text.startswith("# TaxonomyJudge file for fgvc_aircraft") and "less_specific_levels: 2" in text
    pairs = [("707-320", "Boeing 707"), ("707-320", "Boeing"), ("A300B4", "A300"), ("A300B4", "aircraft"),
             ("F/A-18", "Boeing 707"), ("Cessna 172", "Cessna 172"), ("A300B4", "Airbus A300B4"),
             ("Boeing 707", "707-320"), ("F/A-18", "Airbus"), ("Boeing 737", "737-800")]
    assert grades(out, 2, pairs) == ["less specific", "less specific", "less specific", "generic", "wrong",
                                     "specific", "specific", "more specific", "wrong",
                                     "error: ground truth 'boeing 737' is not in taxonomy " + str(out)]


def test_stanford_cars(tmp_path):
    root = make_cars(tmp_path)
    out = tmp_path / "cars.yaml"
    assert main(["data", "taxonomy", "--benchmark", "stanford_cars", "--root", str(root), "--out", str(out)]) == 0
    pairs = [("Acura RL Sedan 2012", "Acura"), ("Acura RL Sedan 2012", "Acura RL Sedan"), ("Acura RL Sedan 2012", "car"),
             ("Acura RL Sedan 2012", "2012 Acura RL Sedan"), ("Acura RL Sedan 2012", "Aston Martin"),
             ("Aston Martin", "Aston Martin V8 Vantage Coupe 2012")]
    assert grades(out, 2, pairs) == ["less specific", "less specific", "generic", "specific", "wrong", "more specific"]


def test_oxford_pets_species_is_generic_with_levels_0(tmp_path, capsys):
    root = make_pets(tmp_path)
    out = tmp_path / "pets.yaml"
    assert main(["data", "taxonomy", "--benchmark", "oxford_pets", "--root", str(root), "--out", str(out)]) == 0
    assert "less_specific_levels: 0" in capsys.readouterr().out
    pairs = [("american bulldog", "dog"), ("Abyssinian", "dog"), ("cat", "Maine Coon"), ("great pyrenees", "animal"),
             ("Maine Coon", "Abyssinian")]
    assert grades(out, 0, pairs) == ["generic", "wrong", "more specific", "generic", "wrong"]


def test_unsupported_benchmark_and_missing_archive(tmp_path):
    from speciarl.data.taxonomy_builder import build_taxonomy

    with pytest.raises(SpeciarlError, match="supports fgvc_aircraft"):
        build_taxonomy("cub200", tmp_path, tmp_path / "x.yaml")
    with pytest.raises(SpeciarlError):
        build_taxonomy("oxford_pets", tmp_path / "nothing", tmp_path / "x.yaml")
    assert not (tmp_path / "x.yaml").exists()


def test_fgvc_without_family_files_is_an_error_naming_what_is_missing(tmp_path):
    from speciarl.data.taxonomy_builder import build_taxonomy

    root = make_aircraft(tmp_path)
    (root / "data" / "images_family_test.txt").unlink()
    with pytest.raises(SpeciarlError, match="no family/manufacturer for 4 label"):
        build_taxonomy("fgvc_aircraft", root, tmp_path / "x.yaml")
