import json

import pytest

from speciarl.categories import Category
from speciarl.records import (
    GRADED_FIELDS, Record, RecordError, RecordWriter, check_unique, completed_keys, read_records, write_records_atomic,
)


def _write(path, lines):
    path.write_bytes(b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines))


def test_roundtrip_keeps_unknown_fields_and_parse_failure(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [
        {"sample_id": "cub200:test:1", "dataset": "cub200", "ground_truth": "Laysan Albatross",
         "answer": "albatross", "category": "less specific", "my_column": [1, 2]},
        {"sample_id": "cub200:test:2", "dataset": "cub200", "ground_truth": "Crested Auklet",
         "answer": None, "category": None, "prediction_index": 3},
    ]
    _write(src, [json.dumps(r) for r in rows])
    records = read_records(src, required=GRADED_FIELDS)
    assert records[0].category is Category.LESS_SPECIFIC and records[0].extra == {"my_column": [1, 2]}
    assert records[1].parse_failure and records[1].key == ("cub200:test:2", 3)
    out = tmp_path / "out.jsonl"
    write_records_atomic(out, records)
    again = [json.loads(l) for l in out.read_text().splitlines()]
    assert again[0]["my_column"] == [1, 2] and again[0]["category"] == "less specific"
    assert again[1]["category"] is None and "category" in again[1]


def test_ungraded_record_has_no_category_key():
    record = Record(sample_id="s", dataset="d", ground_truth="g", completion="<answer>x</answer>")
    assert "category" not in record.to_dict() and not record.graded


@pytest.mark.parametrize(
    "line, field, message",
    [
        ('{"dataset": "d", "ground_truth": "g", "answer": "a", "category": "specific"}', "sample_id", "missing"),
        ('{"sample_id": "s", "dataset": "d", "ground_truth": "g", "answer": "a", "category": "Specific"}',
         "category", "unknown category"),
        ('{"sample_id": "s", "dataset": "d", "ground_truth": "g", "answer": "a", "category": "specific", '
         '"prediction_index": -1}', "prediction_index", "integer"),
        ('{"sample_id": "s", "dataset": "d", "ground_truth": "g", "answer": 5, "category": "specific"}',
         "answer", "string"),
        ('[1, 2]', None, "JSON object"),
        ('{"sample_id": "s", ', None, "not a valid UTF-8 JSON line"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path, line, field, message):
    path = tmp_path / "bad.jsonl"
    good = '{"sample_id": "ok", "dataset": "d", "ground_truth": "g", "answer": "a", "category": "specific"}'
    _write(path, [good, "", line])
    with pytest.raises(RecordError) as info:
        read_records(path, required=GRADED_FIELDS)
    assert info.value.line == 3 and info.value.field == field
    assert str(path) in str(info.value) and message in str(info.value)


def test_non_utf8_is_an_error_with_line(tmp_path):
    path = tmp_path / "bin.jsonl"
    _write(path, [b'{"sample_id": "\xff\xfe", "dataset": "d", "ground_truth": "g"}'])
    with pytest.raises(RecordError, match=r"bin.jsonl:1"):
        read_records(path)


def test_duplicates_are_rejected(tmp_path):
    records = [Record("s", "d", "g"), Record("t", "d", "g"), Record("s", "d", "g")]
    with pytest.raises(RecordError, match="duplicate record for sample 's'"):
        check_unique(records, tmp_path / "x.jsonl")
    check_unique(records[:2], tmp_path / "x.jsonl")


def test_writer_trims_partial_tail_and_resumes(tmp_path):
    path = tmp_path / "pred.jsonl"
    with RecordWriter(path) as writer:
        writer.write(Record("a", "d", "g"))
        writer.write(Record("b", "d", "g"))
    with open(path, "ab") as fh:  # a kill in the middle of a write
        fh.write(b'{"sample_id": "c", "datas')
    assert completed_keys(path) == {("a", 0), ("b", 0)}
    with RecordWriter(path) as writer:
        writer.write(Record("c", "d", "g"))
    assert [r.sample_id for r in read_records(path)] == ["a", "b", "c"]
    assert completed_keys(tmp_path / "missing.jsonl") == set()
