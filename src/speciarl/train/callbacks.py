"""What a researcher watches during training, besides TRL's own logs (TensorBoard / W&B / trackio).

- `rollouts/pass-NN.jsonl`: every rollout in the record schema plus `step`, `reward`, `tokens`, `rank`
  (the process that generated it), one file per pass over the data, so `speciarl report` reads a
  training log like an evaluation.
- `metrics.jsonl`: one JSON line per logging step (everything TRL logs, our categories included).
- a rich table of a few rollouts with their categories every K steps.
Both files are cut back to the resumed step when a run resumes, so a rerun never duplicates lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..records import RecordWriter, dumps, iter_json_objects, write_atomic


def _truncate_after(path: Path, step: int, dump: Callable[[Any], str]) -> list[dict[str, Any]]:
    """Keep the rows with `step` <= step (a last line cut by a kill goes too), written back with the
    writer's own `dump` so kept lines keep their bytes; returns the kept rows."""
    if not path.exists():
        return []
    kept = [row for _, row in iter_json_objects(path, allow_partial_tail=True) if row.get("step", 0) <= step]
    write_atomic(path, "".join(dump(row) + "\n" for row in kept))
    return kept


class RolloutLog:
    """Rollout records, one file per pass over the data: `<dir>/pass-01.jsonl`, `pass-02.jsonl`, ...

    A sample's k-th group of rollouts goes to pass k, so each file has unique (sample_id,
    prediction_index) keys and `speciarl report DIR/pass-01.jsonl DIR/pass-15.jsonl` compares the
    first and the last epoch. Main process only; cut back and recounted after a resume.
    """

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self._writers: dict[int, RecordWriter] = {}
        self._passes: dict[str, int] = {}

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("pass-*.jsonl"))

    def resume_at(self, step: int) -> None:
        self.close()
        self._passes = {}
        for path in self.files():
            number = int(path.stem.split("-")[1])
            for row in _truncate_after(path, step, dumps):  # RecordWriter's serialisation
                sid = row["sample_id"]
                self._passes[sid] = max(self._passes.get(sid, 0), number)

    def write(self, records: list[dict[str, Any]]) -> None:
        """Records of one generation batch (each sample's whole group)."""
        assigned: dict[str, int] = {}
        for record in records:
            sid = record["sample_id"]
            if sid not in assigned:
                assigned[sid] = self._passes[sid] = self._passes.get(sid, 0) + 1
            number = assigned[sid]
            if number not in self._writers:
                self.dir.mkdir(parents=True, exist_ok=True)
                self._writers[number] = RecordWriter(self.dir / f"pass-{number:02d}.jsonl")
            self._writers[number].write(record)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def read_rollouts(directory: str | Path) -> list[dict[str, Any]]:
    """Every logged rollout of a run (all passes), in step order."""
    rows = [row for path in sorted(Path(directory).glob("pass-*.jsonl")) for _, row in iter_json_objects(path)]
    return sorted(rows, key=lambda r: r["step"])


class SpeciarlLogCallback(TrainerCallback):
    """metrics.jsonl lines on every log; both logs cut back to the step a resumed run starts from."""

    def __init__(self, metrics_path: str | Path | None, rollout_log: RolloutLog | None):
        self.metrics_path = Path(metrics_path) if metrics_path else None
        self.rollout_log = rollout_log

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            if self.rollout_log is not None:
                self.rollout_log.resume_at(state.global_step)
            if self.metrics_path is not None:
                _truncate_after(self.metrics_path, state.global_step, json.dumps)  # as on_log writes

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.metrics_path is None or not state.is_world_process_zero or not logs:
            return
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        line = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float, str))}}
        with self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")

    def on_train_end(self, args, state, control, **kwargs):
        if self.rollout_log is not None:
            self.rollout_log.close()


def print_samples(step: int, records: list[dict[str, Any]]) -> None:
    """A small table of rollouts with their answers, categories and rewards."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"rollouts at step {step}", show_lines=False)
    for column in ("sample", "ground truth", "answer", "category", "reward"):
        table.add_column(column, overflow="fold")
    for r in records:
        cells = (r["sample_id"], r["ground_truth"], "—" if r["answer"] is None else r["answer"],
                 r["category"] or "parse failure", f"{r['reward']:+.2f}")
        table.add_row(*(Text(str(c)) for c in cells))  # Text: ids like "a:train:b" are not emoji codes
    Console(stderr=True, emoji=False).print(table)
