"""The streaming report path (records.iter_keys + metrics.RunTally) gives the same numbers and the
same errors as the record-by-record path it replaced, with compact per-sample state."""

import json
import random

import pytest

from speciarl.categories import LABELS
from speciarl.metrics import (
    GROUP_ORDER, best_of_n, group_of, macro_average, predictions_by_sample, summarize, unbiased_best_of_k,
)
from speciarl.records import (
    GRADED_FIELDS, KeySet, Record, RecordError, completed_keys, completed_keyset, iter_json_lines, iter_keys,
    key_fields, read_records,
)
from speciarl.report.summary import k_values, summarize_run, summarize_tally, tally_file


def _write_run(path, seed, datasets=("cub200", "food101", "stanford_cars", "mine"), samples=40, n_range=(3, 9)):
    rng = random.Random(seed)
    rows = []
    for s in range(samples):
        dataset = datasets[s % len(datasets)]
        for i in range(rng.randint(*n_range)):
            category = rng.choice([*LABELS, None, "specific", "specific"])
            rows.append({"sample_id": f"{dataset}:{s}", "dataset": dataset, "ground_truth": f"class {s}",
                         "prediction_index": i, "answer": None if category is None else f"a{i}",
                         "category": category, "completion": "<think>…</think>"})
    rng.shuffle(rows)  # eval appends chunks as they finish: a sample's predictions are scattered
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _levels(per_dataset):
    groups = {}
    for dataset, summary in per_dataset.items():
        groups.setdefault(group_of(dataset), []).append(summary)
    return {"datasets": {d: s.to_dict() for d, s in sorted(per_dataset.items())},
            "groups": {g: macro_average(groups[g]).to_dict() for g in GROUP_ORDER if g in groups},
            "overall": macro_average(list(per_dataset.values())).to_dict()}


def _reference(records):
    """The numbers computed the old way: every record in memory, public metrics functions."""
    by_sample = predictions_by_sample(records)
    sizes = [len(p) for samples in by_sample.values() for p in samples.values()]
    out = {"predictions": len(records), "samples": len(sizes),
           "predictions_per_sample": {"min": min(sizes), "max": max(sizes)},
           **_levels({d: summarize(c for p in samples.values() for c in p) for d, samples in by_sample.items()})}
    out["best_of_n"] = {"n": max(sizes), **_levels({d: best_of_n(samples.values()) for d, samples in by_sample.items()})}
    out["best_of_k"] = {str(k): macro_average([unbiased_best_of_k(list(samples.values()), k)
                                               for samples in by_sample.values()]).to_dict()
                        for k in k_values(min(sizes))}
    return out


def _assert_close(actual, expected, where="summary"):
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            _assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=1e-12), where
    else:
        assert actual == expected, where


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_summary_equals_the_in_memory_computation(tmp_path, seed):
    path = _write_run(tmp_path / "run.jsonl", seed)
    records = read_records(path, required=GRADED_FIELDS)
    expected = _reference(records)
    _assert_close(summarize_tally(tally_file(path)), expected)
    _assert_close(summarize_run(records), expected)


def test_the_summary_does_not_depend_on_the_order_of_the_lines(tmp_path):
    """verify writes chunks as the judge finishes them, so two gradings of one run hold the same lines in
    another order: their summary.json must be the same to the last bit, not only to 1e-12."""
    path = _write_run(tmp_path / "run.jsonl", 5, samples=400, n_range=(4, 16))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    summaries = []
    for seed in range(3):
        random.Random(seed).shuffle(lines)
        shuffled = tmp_path / f"shuffled{seed}.jsonl"
        shuffled.write_text("".join(lines), encoding="utf-8")
        summaries.append(json.dumps(summarize_tally(tally_file(shuffled)), sort_keys=True))
    assert summaries[0] == summaries[1] == summaries[2]


def test_a_sample_id_reused_in_two_datasets_counts_in_each(tmp_path):
    rows = [{"sample_id": "x", "dataset": "cub200", "ground_truth": "a", "answer": "a", "category": "specific",
             "prediction_index": 0},
            {"sample_id": "x", "dataset": "food101", "ground_truth": "b", "answer": "c", "category": "wrong",
             "prediction_index": 1}]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize_tally(tally_file(path))
    assert summary["datasets"]["cub200"]["shares"]["specific"] == 1.0
    assert summary["datasets"]["food101"]["shares"]["wrong"] == 1.0
    assert summary["samples"] == 2
    _assert_close(summary, {k: v for k, v in _reference(read_records(path)).items()
                            if k not in ("best_of_n", "best_of_k")})


def test_duplicate_names_the_line_of_the_second_copy(tmp_path):
    path = _write_run(tmp_path / "run.jsonl", 0)
    lines = path.read_text().splitlines()
    lines.insert(7, lines[2])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError) as info:
        tally_file(path)
    assert info.value.line == 8 and info.value.field == "sample_id" and "duplicate record" in str(info.value)


GOOD = {"sample_id": "s", "dataset": "d", "ground_truth": "g", "answer": "a", "category": "specific"}


@pytest.mark.parametrize("change", [
    {}, {"category": None}, {"sample_id": 7}, {"split": 3}, {"split": None}, {"prediction_index": True},
    {"prediction_index": -2}, {"prediction_index": 2.0}, {"prediction_index": 5}, {"answer": 5},
    {"completion": ["x"]}, {"category": "Specific"}, {"category": 3}, {"dataset": None}, {"ground_truth": 1.5},
    {"user_field": {"kept": True}},
])
def test_fast_key_check_agrees_with_record_from_dict(change):
    data = {**GOOD, **change}
    try:
        record = Record.from_dict(data, path="f.jsonl", line=3, required=GRADED_FIELDS)
    except RecordError as exc:
        with pytest.raises(RecordError) as info:
            key_fields(data, "f.jsonl", 3, GRADED_FIELDS)
        assert str(info.value) == str(exc)
    else:
        sample_id, dataset, index, code = key_fields(data, "f.jsonl", 3, GRADED_FIELDS)
        assert (sample_id, dataset, index) == (record.sample_id, record.dataset, record.prediction_index)
        assert code == (0 if record.category is None else LABELS.index(record.category.value) + 1)


def test_missing_required_field_is_named_in_order():
    with pytest.raises(RecordError, match="field 'dataset': missing"):
        key_fields({"sample_id": "s"}, "f", 1, GRADED_FIELDS)


def test_json_lines_blank_lines_nan_and_a_cut_tail(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"a": 1}\n\n   \n{"a": NaN}\n{"a": "caf\xc3\xa9"}\n{"a": ')
    with pytest.raises(RecordError, match=r"r.jsonl:6: not a valid UTF-8 JSON line"):
        list(iter_json_lines(path))
    got = list(iter_json_lines(path, allow_partial_tail=True))
    assert [n for n, _ in got] == [1, 4, 5] and got[2][1] == {"a": "café"} and got[1][1]["a"] != got[1][1]["a"]
    path.write_bytes(b'{"a": 1}\n{"a": \n{"a": 2}')
    with pytest.raises(RecordError, match=":2: not a valid"):  # only an unterminated *last* line is forgiven
        list(iter_json_lines(path, allow_partial_tail=True))


def test_keyset_behaves_like_a_set_of_keys(tmp_path):
    rng = random.Random(0)
    keys = {(f"s{rng.randrange(50)}", rng.randrange(70)) for _ in range(500)}
    compact = KeySet(keys)
    assert len(compact) == len(keys) and set(compact) == keys and compact == keys
    assert all(k in compact for k in keys)
    assert ("s1", 999) not in compact and ("nope", 0) not in compact and "junk" not in compact
    assert not compact.add(next(iter(keys))) and compact.add(("new", 3)) and len(compact) == len(keys) + 1
    assert KeySet(keys) <= keys | {("z", 1)} and not compact <= keys
    full = KeySet([("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 2)])
    assert full.covers("a", 3) and full.covers("a", 2) and not full.covers("b", 3) and not full.covers("c", 1)
    both = completed_keyset(_write_run(tmp_path / "x.jsonl", 5), into=KeySet([("extra", 0)]))
    assert ("extra", 0) in both and len(both) == len(completed_keys(tmp_path / "x.jsonl")) + 1
    path = _write_run(tmp_path / "run.jsonl", 3)
    with open(path, "ab") as fh:
        fh.write(b'{"sample_id": "cut", "dat')  # a kill mid-write: resume ignores it
    assert completed_keyset(path) == completed_keys(path)
    assert completed_keyset(tmp_path / "absent.jsonl") == set()
    assert [key[0] for _, key in iter_keys(path, allow_partial_tail=True)][:1]


def test_parallel_reading_gives_the_same_numbers_and_errors(tmp_path, monkeypatch):
    import speciarl.report.summary as summary
    from speciarl.report.per_class import ClassAccumulator

    monkeypatch.setattr(summary, "PARALLEL_MIN_BYTES", 0)
    path = _write_run(tmp_path / "run.jsonl", 4, samples=120)
    with open(path, "a") as fh:
        fh.write("\n\n")  # blank lines at the end of a range must not shift later line numbers
    serial_classes, parallel_classes = ClassAccumulator(), ClassAccumulator()
    serial = summarize_tally(summary.tally_file(path, serial_classes, workers=1))
    parallel = summarize_tally(summary.tally_file(path, parallel_classes, workers=3))
    _assert_close(parallel, serial)
    assert parallel_classes.finish() == serial_classes.finish()
    # with another thread alive (eval's judge loop) the workers are started without fork: same numbers
    import threading

    stop = threading.Event()
    alive = threading.Thread(target=stop.wait)
    alive.start()
    try:
        _assert_close(summarize_tally(summary.tally_file(path, None, workers=2)), serial)
    finally:
        stop.set()
        alive.join()

    lines = path.read_text().splitlines()
    for bad_line, line, message in [(len(lines) - 5, '{"sample_id": 1}', "field 'dataset': missing"),
                                    (len(lines) - 3, lines[0], "duplicate record")]:
        broken = tmp_path / "broken.jsonl"
        broken.write_text("\n".join(lines[:bad_line - 1] + [line] + lines[bad_line - 1:]) + "\n")
        for workers in (1, 3):
            with pytest.raises(RecordError) as info:
                summary.tally_file(broken, ClassAccumulator(), workers=workers)
            assert info.value.line == bad_line and message in str(info.value), (workers, str(info.value))


# Lines that msgspec (report's fast path) and orjson / json (the general way) might read differently:
# the report must count or reject each exactly as the record-by-record path does.
_BASE = b'"sample_id":"s1","dataset":"cub200","ground_truth":"Laysan Albatross","answer":"albatross","category":"wrong"'
TRICKY_LINES = [
    b'{' + _BASE + b',"model":"\xff\xfe"}',  # invalid UTF-8 in a field report does not read
    b'{' + _BASE + b',"\xff":1}',  # ... in a key
    b'{' + _BASE + b',"model":"\xed\xa0\x80"}',  # an encoded surrogate
    b'{' + _BASE + b',"model":"\\ud800"}',  # a lone surrogate escape: only json reads it
    b'{' + _BASE + b',"x":1e999,"y":NaN}',  # json's infinity and NaN
    b'{' + _BASE + b',"x":123456789012345678901234567890}',
    b'{' + _BASE + b',"prediction_index":1.0}', b'{' + _BASE + b',"prediction_index":true}',
    b'{' + _BASE + b',"prediction_index":99999999999999999999999}',  # orjson: a float
    b'{' + _BASE + b',"prediction_index":3,"prediction_index":4}',  # duplicate keys: the last one counts
    b'{' + _BASE + b',"\\u0064ataset":"food101"}',  # an escaped key
    b'{' + _BASE.replace(b'"Laysan Albatross"', b'7') + b'}',  # a number as ground truth
    b'{' + _BASE.replace(b'"s1"', b'12') + b'}',
    b'{' + _BASE + b',"split":null}', b'{' + _BASE + b',"split":4}',
    b'{' + _BASE.replace(b'"wrong"', b'"Wrong"') + b'}', b'{' + _BASE.replace(b'"wrong"', b'null') + b'}',
    b'{' + _BASE.replace(b',"category":"wrong"', b'') + b'}', b'{' + _BASE.replace(b'"answer":"albatross",', b'') + b'}',
    b'{' + _BASE.replace(b'albatross', 'Albatros à pieds noirs'.encode()) + b'}',
    b'{' + _BASE + b',"completion":"\\u00e9\xc3\xa9"}\r',
    b'{' + _BASE + b',"x":' + b'[' * 600 + b']' * 600 + b'}',
    b'[' + _BASE.replace(b'":"', b'","') + b']', b'   ', b'{' + _BASE + b'} x',
]


@pytest.mark.parametrize("tricky", TRICKY_LINES)
def test_report_reads_every_line_like_the_record_path(tmp_path, tricky):
    from speciarl.report.per_class import ClassAccumulator, per_class_from_records

    good = _write_run(tmp_path / "good.jsonl", 3, samples=12).read_bytes().splitlines(keepends=True)
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"".join(good[:2]) + tricky + b"\n" + b"".join(good[2:]))
    try:
        records = read_records(path, required=GRADED_FIELDS)
    except RecordError as exc:
        with pytest.raises(RecordError) as info:
            tally_file(path, ClassAccumulator())
        assert str(info.value) == str(exc)
        return
    classes = ClassAccumulator()
    _assert_close(summarize_tally(tally_file(path, classes)), _reference(records))
    assert classes.finish() == per_class_from_records(records)


def test_per_class_counts_follow_each_prediction_s_own_ground_truth(tmp_path):
    """Per-class counts come from the samples' count vectors: a sample whose predictions name two
    ground truths still counts each prediction under its own."""
    from speciarl.report.per_class import ClassAccumulator, per_class_from_records

    path = _write_run(tmp_path / "run.jsonl", 4, samples=30)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for i, row in enumerate(rows[::3]):
        row["ground_truth"] = f"other {i % 4}"
    rows.append({**rows[0], "dataset": "food101", "prediction_index": 99})  # a sample id in two datasets
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = read_records(path, required=GRADED_FIELDS)
    classes = ClassAccumulator()
    tally_file(path, classes)
    assert classes.finish() == per_class_from_records(records)


def test_the_summary_does_not_depend_on_the_process_hash_seed(tmp_path):
    """Two report runs of one file give the same summary.json to the last bit, whatever the string hash
    seed of each process (sums over a set of categories once followed the set's per-process order)."""
    import os
    import subprocess
    import sys

    path = _write_run(tmp_path / "run.jsonl", 6, samples=200)
    code = ("import json, sys; from speciarl.report.summary import summarize_tally, tally_file; "
            "print(json.dumps(summarize_tally(tally_file(sys.argv[1])), sort_keys=True))")
    outputs = {subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(6)}
    assert len(outputs) == 1


def test_huge_prediction_indexes_are_counted_without_a_huge_bitset(tmp_path):
    """The format allows prediction_index up to 2^63 - 1; indexes past records.BITSET_LIMIT are kept in
    a set (a bit at 2^62 would need an int of 2^59 bytes). Counts, duplicates and merges still hold."""
    import tracemalloc

    from speciarl.metrics import DuplicatePrediction, RunTally
    from speciarl.records import BITSET_LIMIT

    huge = [2**62, 2**40, BITSET_LIMIT, BITSET_LIMIT - 1, 0]
    rows = [{**GOOD, "prediction_index": i, "category": c} for i, c in zip(huge, ["wrong", *["specific"] * 4])]
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tracemalloc.start()
    summary = summarize_tally(tally_file(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20
    assert summary == summarize_run(read_records(path))  # the record path agrees
    assert summary["predictions"] == 5 and summary["samples"] == 1
    assert summary["datasets"]["d"]["shares"]["wrong"] == 0.2
    path.write_text(path.read_text() + json.dumps({**GOOD, "prediction_index": 2**40}) + "\n")
    with pytest.raises(RecordError) as info:
        tally_file(path)
    assert info.value.line == 6 and "prediction_index 1099511627776" in str(info.value)

    keys = KeySet([("s", 2**62), ("s", 3)])
    assert ("s", 2**62) in keys and ("s", 2**61) not in keys and len(keys) == 2
    assert not keys.add(("s", 2**62)) and sorted(keys) == [("s", 3), ("s", 2**62)]
    assert KeySet((("s", i) for i in range(BITSET_LIMIT + 2))).covers("s", BITSET_LIMIT + 2)
    assert not keys.covers("s", BITSET_LIMIT + 2)

    a, b = RunTally(), RunTally()
    a.add("s", "d", 2**50, 0)
    b.add("s", "d", 2**50, 1)
    with pytest.raises(DuplicatePrediction, match=str(2**50)):
        a.merge(b)
    with pytest.raises(DuplicatePrediction):
        a.add("s", "d", 2**50, 2)
