"""Demo stages side by side: one worker process per stage, each on one torch thread.

After the warm start, the three GRPO runs and the warm start's evaluation read only files already on
disk, write only their own folders, and seed their own random numbers (TRL's trainer seeds torch,
numpy and Python when it is built and when it trains; predictions are seeded per sample and
prediction index). So which process runs such a stage, and when, changes no byte of its result.
All of them at once, rather than one per core, lets the OS share the cores out: three GRPO runs of
about equal length on two cores end together, where two lanes would leave one run for the end.

Workers are forked, so they start with the libraries the demo already imported (a fresh interpreter
would import torch, transformers and TRL again: ~7 CPU seconds each), and they are forked before the
live view starts, so no display thread is running at the fork.

Thread contract: only the parent's main thread touches the view. A worker reports its stage's steps
as (name, event, completed, total) tuples on a queue that the parent drains between result checks.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .progress import StageGroup, StageView, StepReporter


@dataclass(frozen=True)
class Job:
    """One stage: `fn(*args, reporter)` (a module-level function: it is sent to a worker by name)."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    expected_s: float
    total: int | None = None


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(jobs: int) -> int:
    """All jobs at once on a multi-core machine; on one core, one after another in this process."""
    return jobs if available_cpus() > 1 else 1


def expected_schedule(durations: Sequence[float], workers: int, cpus: int | None = None) -> list[tuple[float, float]]:
    """(start, end) wall seconds of jobs taking these CPU seconds, taken in this order by `workers`
    processes that share `cpus` cores evenly (one worker: one after another)."""
    cpus = cpus or available_cpus()
    left = list(durations)
    start, end = [0.0] * len(left), [0.0] * len(left)
    waiting, running, now = list(range(len(left))), [], 0.0
    while waiting or running:
        while waiting and len(running) < max(1, workers):
            job = waiting.pop(0)
            running.append(job)
            start[job] = now
        rate = min(1.0, cpus / len(running))
        step = min(left[j] for j in running) / rate
        now += step
        for j in list(running):
            left[j] -= step * rate
            if left[j] <= 1e-9:
                running.remove(j)
                end[j] = now
    return list(zip(start, end, strict=True))


def expected_wall(durations: Sequence[float], workers: int, cpus: int | None = None) -> float:
    """Wall seconds until the last of these jobs ends (expected_schedule)."""
    return max((end for _, end in expected_schedule(durations, workers, cpus)), default=0.0)


class _GroupReporter(StepReporter):
    """A stage run in the parent itself (one worker): its steps go straight to its line."""

    def __init__(self, group: StageGroup, name: str):
        self._group, self._name = group, name

    def update(self, completed: int, total: int | None = None) -> None:
        self._group.update(self._name, completed, total)


class _QueueReporter(StepReporter):
    """A stage run in a worker: its steps go to the parent on the queue."""

    def __init__(self, reports: Any, name: str):
        self._reports, self._name = reports, name

    def update(self, completed: int, total: int | None = None) -> None:
        self._reports.put((self._name, "update", completed, total))


_reports: Any = None  # in a worker process only: its queue to the parent, set once by _init_worker


def _init_worker(reports: Any) -> None:
    global _reports
    _reports = reports
    # HF tokenizers warns (and disables its thread pool) in a fork of a process that used it; say it here.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def _run_in_worker(job: Job) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    _reports.put((job.name, "start", 0, None))
    result = job.fn(*job.args, _QueueReporter(_reports, job.name))
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run_side_by_side(view: StageView, jobs: Sequence[Job], workers: int) -> dict[str, Any]:
    """Run the jobs (in this order, as workers free up) on `workers` processes; results by name.

    With one worker the jobs run in this process, one after another. A job's exception is raised
    here (the other workers are stopped).
    """
    stages = {job.name: (job.expected_s, job.total) for job in jobs}
    if workers <= 1:
        results = {}
        with view.side_by_side(stages) as group:
            for job in jobs:
                group.start(job.name)
                wall, cpu = time.perf_counter(), time.process_time()
                results[job.name] = job.fn(*job.args, _GroupReporter(group, job.name))
                group.finish(job.name, time.perf_counter() - wall, time.process_time() - cpu)
        return results

    context = multiprocessing.get_context("fork")
    reports = context.Queue()
    pool = context.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(reports,))
    try:
        with view.side_by_side(stages) as group:
            results = _collect(pool, reports, group, jobs)
        pool.close()
    finally:
        pool.terminate()
        pool.join()  # the workers' CPU time now counts in the parent's RUSAGE_CHILDREN
    return results


class Forked:
    """`fn(*args)` in a forked process while this one goes on (a context manager).

    `result()` waits and gives (value, CPU seconds the process spent), or raises its exception.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any):
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        self._future = self._pool.submit(_timed, fn, args)

    def result(self) -> tuple[Any, float]:
        return self._future.result()

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _timed(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, float]:
    cpu = time.process_time()
    return fn(*args), time.process_time() - cpu


def _collect(pool: Any, reports: Any, group: StageGroup, jobs: Sequence[Job]) -> dict[str, Any]:
    pending = {job.name: pool.apply_async(_run_in_worker, (job,)) for job in jobs}
    results: dict[str, Any] = {}
    while pending:
        try:
            name, event, completed, total = reports.get(timeout=0.2)
        except queue.Empty:
            pass
        else:
            if name not in results:  # a late step report of a finished stage changes nothing
                if event == "start":
                    group.start(name)
                else:
                    group.update(name, completed, total)
        for name, pending_result in list(pending.items()):
            if pending_result.ready():
                results[name], wall, cpu = pending_result.get()  # a worker's exception is raised here
                group.finish(name, wall, cpu)
                del pending[name]
    return {job.name: results[job.name] for job in jobs}
