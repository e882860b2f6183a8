"""The demo's live view: one line per stage with its progress, elapsed time and expected time.

Why: each trainer draws its own progress bar, model loading and saving draw more, and TRL calls
deprecated transformers names that print FutureWarnings on every run: a newcomer cannot act on any
of it, and the stages they wait for drown in it. Here every stage is one line (a live bar on a
terminal, the final line otherwise), and the stage times go into demo.json (wall and CPU seconds:
CPU seconds are what a stage costs on an idle machine with one torch thread).

Thread contract: a StageView is used from the demo's main thread only (trainer callbacks run there).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# FutureWarnings that TRL (not the user's code) triggers through transformers' deprecated
# `gradient_checkpointing*` names; the demo's own configs use `activation_checkpointing`.
LIBRARY_WARNINGS = r"`(is_)?gradient_checkpointing\w*` is deprecated"


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class StepReporter:
    """Where a stage's steps go: `update`; trainers report through `trainer_callback` / `quiet`."""

    def update(self, completed: int, total: int | None = None) -> None:
        raise NotImplementedError

    def trainer_callback(self) -> Any:
        """A transformers TrainerCallback that moves this stage's line with the optimizer steps."""
        from transformers import TrainerCallback

        stage = self

        class StageCallback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                stage.update(state.global_step, state.max_steps)

        return StageCallback()

    def quiet(self, trainer: Any) -> Any:
        """The trainer without its own progress bar and printed log dicts, moving this line instead."""
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.pop_callback(ProgressCallback)
        trainer.pop_callback(PrinterCallback)
        trainer.add_callback(self.trainer_callback())
        return trainer


class Stage(StepReporter):
    """The running stage: advance it by steps, or hand its trainer callback to a Trainer."""

    def __init__(self, progress: Any, task: Any):
        self._progress = progress
        self._task = task
        self.cpu_elsewhere_s = 0.0  # CPU seconds of the stage's work done in another process

    def update(self, completed: int, total: int | None = None) -> None:
        self._progress.update(self._task, completed=completed, **({"total": total} if total else {}))


class StageView:
    """Stages run one after another; each leaves one line and its timings in `timings`."""

    def __init__(self, *, enabled: bool = True, console: Any = None):
        self.enabled = enabled
        self.console = console
        self.timings: dict[str, dict[str, float]] = {}

    def _progress(self, expected: dict[str, float]) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
        from rich.text import Text

        class Times(ProgressColumn):
            def render(self, task: Any) -> Text:
                spent = (task.finished_time if task.finished else task.elapsed) or 0
                return Text(f"{_clock(spent)} of ~{_clock(expected[task.description])} expected", no_wrap=True)

        return Progress(TextColumn("\\[demo] {task.description:<28}"), BarColumn(bar_width=12),
                        MofNCompleteColumn(), Times(), console=self.console, disable=not self.enabled)

    @contextmanager
    def stage(self, name: str, expected_s: float, total: int | None = None) -> Iterator[Stage]:
        wall, cpu = time.perf_counter(), time.process_time()
        progress = self._progress({name: expected_s})
        with progress:
            task = progress.add_task(name, total=total)
            stage = Stage(progress, task)
            yield stage
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu + stage.cpu_elsewhere_s
            done = progress.tasks[0].total or 1
            progress.update(task, completed=done, total=done)
        self.timings[name] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "expected_s": round(expected_s, 1)}

    @contextmanager
    def side_by_side(self, stages: dict[str, tuple[float, int | None]]) -> Iterator[StageGroup]:
        """Stages that run at the same time (other processes): one line each, in the order given.

        `stages`: name -> (expected seconds, total steps or None). The timings are the ones each
        stage's process measured (`StageGroup.finish`), so CPU seconds stay per stage.
        """
        progress = self._progress({name: e for name, (e, _) in stages.items()})
        group = StageGroup(progress)
        with progress:
            for name, (_, total) in stages.items():
                group.tasks[name] = progress.add_task(name, total=total, start=False)
            yield group
        for name, (expected_s, _) in stages.items():
            if name in group.timings:
                self.timings[name] = {**group.timings[name], "expected_s": round(expected_s, 1)}


class StageGroup:
    """The lines of stages running side by side; moved by the parent from its workers' reports."""

    def __init__(self, progress: Any):
        self._progress = progress
        self.tasks: dict[str, Any] = {}
        self.timings: dict[str, dict[str, float]] = {}

    def start(self, name: str) -> None:
        self._progress.start_task(self.tasks[name])

    def update(self, name: str, completed: int, total: int | None = None) -> None:
        self._progress.update(self.tasks[name], completed=completed, **({"total": total} if total else {}))

    def finish(self, name: str, wall_s: float, cpu_s: float) -> None:
        task = self.tasks[name]
        done = next(t.total for t in self._progress.tasks if t.id == task) or 1
        self._progress.start_task(task)  # no-op when its start was reported (a report can come late)
        self._progress.update(task, completed=done, total=done)
        self._progress.stop_task(task)
        self.timings[name] = {"wall_s": round(wall_s, 1), "cpu_s": round(cpu_s, 1)}


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """No model load/save progress bars and no FutureWarnings from inside TRL for the duration."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=LIBRARY_WARNINGS, category=FutureWarning)
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
