"""The writer side of records: `dump_line` (orjson when it writes the same bytes, else the standard
library) and `graded_dict` (verify's hot path) produce exactly what the Record path produced."""

from __future__ import annotations

import json

import pytest

from speciarl.categories import Category
from speciarl.records import (
    Record, RecordWriter, dump_line, dumps, graded_dict, iter_json_lines, key_fields, write_records_atomic,
)


def reference_line(data) -> bytes:
    """What every writer wrote before orjson: the standard library's compact, non-ASCII JSON."""
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


EVERY_CHARACTER = "".join(chr(c) for c in range(0x800)) + "\u2028\u2029\ufeff\uffff\U0001f600\U0010ffff"


@pytest.mark.parametrize("value", [
    "plain", EVERY_CHARACTER, 'quote " backslash \\ tab \t nul \x00 del \x7f', "", 0, -1, 2**63 - 1, -2**63,
    2**64 - 1, 2**64, -2**63 - 1, 10**40, True, False, None, [1, "a", None, [True]], {"k": {"é": ["x"]}},
    0.1, 1e-05, 1e16, 1e22, -0.0, float("nan"), float("inf"), [1, 2.5], {"deep": [{"f": 3.0}]},
])
def test_dump_line_writes_the_standard_librarys_bytes(value):
    data = {"sample_id": "s", "dataset": "d", "ground_truth": "g", "value": value, EVERY_CHARACTER: 1}
    assert dump_line(data) == reference_line(data)
    assert dumps(data) + "\n" == reference_line(data).decode("utf-8")


def test_dump_line_of_a_lone_surrogate_fails_as_before():
    with pytest.raises(UnicodeEncodeError):
        dump_line({"sample_id": "s\ud800"})


def test_writers_write_the_reference_bytes(tmp_path):
    rows = [{"sample_id": f"s{i}", "dataset": "d", "ground_truth": "g", "x": x}
            for i, x in enumerate(["é", 1.5, None, 2**70, [0.1]])]
    with RecordWriter(tmp_path / "a.jsonl") as writer:
        writer.write(rows[0])
        writer.write_many(rows[1:])
    write_records_atomic(tmp_path / "b.jsonl", rows)
    expected = b"".join(reference_line(r) for r in rows)
    assert (tmp_path / "a.jsonl").read_bytes() == expected == (tmp_path / "b.jsonl").read_bytes()


VARIANTS = [
    {},
    {"split": "val", "prediction_index": 7},
    {"completion": "<answer>x</answer>", "prompt_name": "p", "prompt_hash": "h", "model": "m"},
    {"completion": None, "prompt_name": None, "model": None, "answer": None},
    {"prompt_name": 3, "model": ["a", 1]},  # unchecked fields are kept as they are
    {"answer_normalized": "old", "ground_truth_normalized": "old", "category": "wrong", "judge": "old"},
    {"category": None},
    {"mine": 1, "graded": "user's", "extra": {"a": 1}, "zz": 0.5},  # the user's own columns, in order
    {"sample_id": 12},  # a number as an id: Record converts it to a string
    {"dataset": 3, "ground_truth": 4},
    {"split": 2},
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("grade", [("dog ", "dog", "specific"), (None, None, None), ("cat", "cat", "wrong")])
def test_graded_dict_equals_the_record_path(variant, grade):
    data = {"mine_first": "x", "sample_id": "s1", "dataset": "toy", "ground_truth": "Dog", **variant}
    key_fields(data, "f.jsonl", 1)
    answer, normalized, label = grade
    record = Record.from_dict(data)
    record.answer, record.answer_normalized, record.ground_truth_normalized = answer, normalized, "dog"
    record.category = None if label is None else Category(label)
    record.judge, record.graded = "judge:x", True
    got = graded_dict(data, answer, normalized, "dog", label, "judge:x")
    assert list(got.items()) == list(record.to_dict().items())
    assert dump_line(got) == dump_line(record)


def test_graded_lines_read_back_as_the_same_records(tmp_path):
    data = {"sample_id": "s", "dataset": "d", "ground_truth": "Husky", "answer": " husky ", "note": "n"}
    write_records_atomic(tmp_path / "g.jsonl", [graded_dict(data, "husky", "husky", "husky", "specific", "j")])
    [(_, back)] = list(iter_json_lines(tmp_path / "g.jsonl"))
    record = Record.from_dict(back)
    assert record.category is Category.SPECIFIC and record.graded and record.extra == {"note": "n"}
