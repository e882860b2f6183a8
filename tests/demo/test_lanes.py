"""Stages side by side in forked workers: results by name, one line per stage, errors raised here."""

from __future__ import annotations

import os

import pytest

from speciarl.demo.lanes import Job, expected_schedule, expected_wall, run_side_by_side
from speciarl.demo.progress import StageView


def _square(x: int, stage) -> tuple[int, int]:
    for step in range(1, 4):
        stage.update(step, 3)
    return x * x, os.getpid()


def _fail(stage) -> None:
    raise ValueError("job failed in its worker")


def _jobs() -> list[Job]:
    return [Job(f"square {x}", _square, (x,), 1.0, 3) for x in range(4)]


@pytest.mark.parametrize("workers", [1, 4])
def test_results_and_timings_by_stage_whatever_the_workers(workers: int) -> None:
    view = StageView(enabled=False)
    results = run_side_by_side(view, _jobs(), workers)
    assert list(results) == [f"square {x}" for x in range(4)]
    assert [value for value, _ in results.values()] == [0, 1, 4, 9]
    pids = {pid for _, pid in results.values()}
    assert (pids == {os.getpid()}) if workers == 1 else (os.getpid() not in pids)
    assert list(view.timings) == list(results)
    assert all(t["wall_s"] >= 0 and t["cpu_s"] >= 0 and t["expected_s"] == 1.0 for t in view.timings.values())


def test_a_failing_job_raises_in_the_parent() -> None:
    jobs = [*_jobs()[:2], Job("fails", _fail, (), 1.0)]
    with pytest.raises(ValueError, match="failed in its worker"):
        run_side_by_side(StageView(enabled=False), jobs, 3)


def test_expected_times_share_the_cores() -> None:
    assert expected_wall([40, 40, 40, 16], 1, cpus=2) == 136  # one after another
    assert expected_wall([], 4, cpus=2) == 0
    # all four at once on 2 cores: the short one ends at 32 s, then three share the cores until 68 s
    assert [end for _, end in expected_schedule([40, 40, 40, 16], 4, cpus=2)] == pytest.approx([68, 68, 68, 32])
    assert expected_wall([40, 40, 40, 16], 2, cpus=2) == pytest.approx(80)  # two lanes: 40 + 40
    assert expected_wall([40, 40, 40, 16], 4, cpus=8) == pytest.approx(40)
