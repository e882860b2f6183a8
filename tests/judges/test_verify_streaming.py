"""`speciarl verify` streams: bounded chunks in the judge's hands, the whole input checked before any
grading, compact resume keys; the output is the same as grading everything at once."""

from __future__ import annotations

import concurrent.futures
import json
import threading

import pytest

import speciarl.pipeline.verify as verify
from speciarl.judges import build_judge
from speciarl.records import RecordError, read_records

TREE = """
name: animal
children:
  - name: dog
    children: [{name: spitz, children: [{name: samoyed}]}, {name: poodle}]
  - name: cat
"""
ANSWERS = ["samoyed", "dog", "cat", "spitz", "animal", "I don't know"]


def rows(n_samples, n=4):
    out = []
    for s in range(n_samples):
        for i in range(n):
            row = {"sample_id": f"s{s}", "dataset": "toy", "ground_truth": "samoyed", "prediction_index": i}
            k = (s * n + i) % 8
            row["completion"] = "no tags at all" if k == 7 else f"<think>hm</think><answer>{ANSWERS[k % 6]}</answer>"
            out.append(row)
    return out


def write(path, data):
    path.write_text("".join(json.dumps(r) + "\n" for r in data))
    return path


class CountingJudge:
    """A real taxonomy judge, with the most chunks it ever held at once counted. Each grade is handed
    back 5 ms late (a judge is never instant), so several chunks are in its hands however the
    threads are scheduled."""

    def __init__(self, taxonomy):
        self.judge = build_judge({"type": "taxonomy", "taxonomy": str(taxonomy), "cache": "none"})
        self.identity, self.stats, self.normalize = self.judge.identity, self.judge.stats, self.judge.normalize
        self.outstanding = self.most = 0
        self.lock = threading.Lock()

    def submit(self, pairs):
        with self.lock:
            self.outstanding += 1
            self.most = max(self.most, self.outstanding)
        late: concurrent.futures.Future = concurrent.futures.Future()
        self.judge.submit(pairs).add_done_callback(
            lambda f: threading.Timer(0.005, lambda: late.set_result(f.result())).start())
        late.add_done_callback(self._done)
        return late

    def _done(self, _):
        with self.lock:
            self.outstanding -= 1

    def close(self):
        self.judge.close()


@pytest.fixture
def taxonomy(tmp_path):
    path = tmp_path / "tree.yaml"
    path.write_text(TREE)
    return path


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30])  # read twice / kept from the first pass
def test_bounded_window_grades_every_record_once_like_the_judge_alone(keep_bytes, tmp_path, taxonomy, monkeypatch):
    monkeypatch.setattr(verify, "KEEP_BYTES", keep_bytes)
    monkeypatch.setattr(verify, "WINDOW", 3)
    data = rows(150)
    src = write(tmp_path / "pred.jsonl", data)
    judge = CountingJudge(taxonomy)
    result = verify.run_verify(src, tmp_path / "out.jsonl", judge, progress=False)
    judge.close()
    assert 1 < judge.most <= 3  # never more than the window in the judge's hands
    out = read_records(tmp_path / "out.jsonl")
    assert sorted(r.key for r in out) == sorted((r["sample_id"], r["prediction_index"]) for r in data)
    assert result.ok and result.written == len(data) and result.parse_failures == len(data) // 8
    reference = build_judge({"type": "taxonomy", "taxonomy": str(taxonomy), "cache": "none"})
    for record in out:
        if record.answer is None:
            assert record.category is None and "no tags" in record.completion
        else:
            assert record.category == reference.grade([("samoyed", record.answer)])[0].category
    assert sum(result.counts.values()) + result.parse_failures == len(data)


def test_a_bad_last_line_stops_everything_before_grading(tmp_path, taxonomy):
    data = rows(40)
    for bad, message in [(dict(data[3]), "duplicate record for sample 's0' prediction_index 3"),
                         ({"sample_id": "x", "dataset": "toy", "ground_truth": "g"}, "neither a 'completion'")]:
        src = write(tmp_path / "pred.jsonl", [*data, bad])
        out = tmp_path / "out.jsonl"
        with pytest.raises(RecordError) as info:
            verify.run_verify(src, out, {"type": "taxonomy", "taxonomy": str(taxonomy)}, progress=False)
        assert info.value.line == len(data) + 1 and message in str(info.value)
        assert not out.exists()


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30])  # read twice / kept from the first pass
def test_resume_skips_what_is_done_and_ignores_a_cut_last_line(keep_bytes, tmp_path, taxonomy, monkeypatch):
    monkeypatch.setattr(verify, "KEEP_BYTES", keep_bytes)
    data = rows(30)
    first = write(tmp_path / "first.jsonl", data[:50])
    out = tmp_path / "out.jsonl"
    verify.run_verify(first, out, {"type": "taxonomy", "taxonomy": str(taxonomy)}, progress=False)
    with open(out, "a") as fh:
        fh.write('{"sample_id": "s20", "dataset": "toy", "groun')  # a kill mid-write
    src = write(tmp_path / "all.jsonl", data)
    result = verify.run_verify(src, out, {"type": "taxonomy", "taxonomy": str(taxonomy)}, progress=False)
    assert result.input_records == len(data) and result.skipped == 50 and result.written == len(data) - 50
    keys = [r.key for r in read_records(out)]
    assert len(keys) == len(set(keys)) == len(data)


class CountingEachJudge(CountingJudge):
    """The same, through `submit_each` (many chunks per call, each handed back when graded)."""

    def submit_each(self, groups, on_done):
        with self.lock:
            self.outstanding += len(groups)
            self.most = max(self.most, self.outstanding)
            self.calls = getattr(self, "calls", 0) + 1

        def counted(done):
            with self.lock:
                self.outstanding -= len(done)
            on_done(done)

        return self.judge.submit_each(groups, counted)


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30])  # read twice / kept from the first pass
def test_chunks_go_in_groups_within_the_window_and_match_one_chunk_per_call(keep_bytes, tmp_path, taxonomy,
                                                                          monkeypatch):
    monkeypatch.setattr(verify, "KEEP_BYTES", keep_bytes)
    monkeypatch.setattr(verify, "WINDOW", 12)
    monkeypatch.setattr(verify, "GROUP", 5)
    src = write(tmp_path / "pred.jsonl", rows(150))
    each = CountingEachJudge(taxonomy)
    result = verify.run_verify(src, tmp_path / "each.jsonl", each, progress=False)
    each.close()
    assert 5 <= each.most <= 12 and each.calls >= (600 - 75) // 8 // 5
    one = CountingJudge(taxonomy)  # no submit_each: one call per chunk
    reference = verify.run_verify(src, tmp_path / "one.jsonl", one, progress=False)
    one.close()
    by_key = {(r["sample_id"], r["prediction_index"]): r for r in map(json.loads, open(tmp_path / "one.jsonl"))}
    lines = [json.loads(line) for line in open(tmp_path / "each.jsonl")]
    assert len(lines) == len(by_key) == 600
    assert all(list(line.items()) == list(by_key[line["sample_id"], line["prediction_index"]].items())
               for line in lines)
    assert result.counts == reference.counts and result.written == reference.written == 600
