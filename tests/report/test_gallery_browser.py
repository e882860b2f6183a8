"""The gallery in a real browser: Debian's headless chromium (Selenium + Debian's chromedriver) opens
it from file://, applies filters, checks the visible counts against summary.json, opens a card, and
saves a screenshot (its path is printed; pytest -s shows it).

Two galleries: two tiny CPU `speciarl eval` runs of configs/eval/tiny_cpu.yaml (real images; greedy
vs best-of-2), and the example runs (no reachable images: placeholders) plus a run whose answer and
completion are hostile HTML.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from browser import chromium, console_errors  # noqa: E402

from speciarl.categories import CORRECT, SPECIFIC_OR_FINER, order  # noqa: E402
from speciarl.metrics import best_category, predictions_by_sample  # noqa: E402
from speciarl.records import GRADED_FIELDS, read_records  # noqa: E402
from speciarl.report.gallery import build_gallery  # noqa: E402
from speciarl.report.run import build_report  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CLI = [sys.executable, "-m", "speciarl.cli"]
WAIT_S = 30


def _eval(config: Path, cwd: Path) -> Path:
    proc = subprocess.run(CLI + ["eval", str(config), "--no-progress"], cwd=cwd, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("run directory: "))
    return cwd / line.removeprefix("run directory: ").split(" (")[0]


@pytest.fixture(scope="module")
def eval_runs(tmp_path_factory) -> tuple[Path, Path]:
    """Greedy and best-of-2 tiny CPU evals of the same generated shapes benchmark (real PNG images)."""
    cwd = tmp_path_factory.mktemp("evals")
    greedy = _eval(REPO / "configs/eval/tiny_cpu.yaml", cwd)
    config = yaml.safe_load((REPO / "configs/eval/tiny_cpu.yaml").read_text())
    config.update(name="tiny-cpu-bo2", sampling={"n": 2, "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 48,
                                                 "seed": 1}, report={"plots": False})
    (cwd / "bo2.yaml").write_text(yaml.safe_dump(config))
    return greedy, _eval(cwd / "bo2.yaml", cwd)


def _wait(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(lambda d: condition(d), message=f"timed out waiting for {what}")


def _open(driver, index_html: Path) -> None:
    driver.get(index_html.resolve().as_uri())
    _wait(driver, lambda d: d.execute_script("return document.body.dataset.loaded === '1'"), "all data chunks")


def _select(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.support.select import Select

    Select(driver.find_element("id", element_id)).select_by_value(value)


def _select_by_text(driver, element_id: str, text: str) -> None:
    from selenium.webdriver.support.select import Select

    Select(driver.find_element("id", element_id)).select_by_visible_text(text)


def _matches(driver) -> int:
    return int(driver.find_element("id", "match-count").get_attribute("data-value"))


def _await_matches(driver, expected: int) -> int:
    """The match count once the debounced search has applied the whole typed text and the count equals
    `expected`, else the last value seen. Waiting for the count alone is not enough: a prefix typed on a
    slow machine can already give the expected count, and the final filter then re-renders the cards."""
    def settled(d) -> bool:
        query = d.find_element("id", "f-search").get_attribute("value").strip().lower()
        return d.find_element("id", "match-count").get_attribute("data-query") == query and _matches(d) == expected

    try:
        _wait(driver, settled, f"{expected} matches for the whole search text")
    except Exception:  # noqa: BLE001 - the assert below reports the value
        pass
    return _matches(driver)


def _stats(driver) -> dict[tuple[str, str], dict[str, float]]:
    rows = driver.execute_script("""
        return [...document.querySelectorAll('#stats tr[data-run]')].map(tr => ({
          run: tr.dataset.run, kind: tr.dataset.kind,
          cells: Object.fromEntries([...tr.querySelectorAll('td[data-value]')].map(td => [td.dataset.metric, +td.dataset.value]))}));""")
    return {(r["run"], r["kind"]): r["cells"] for r in rows}


def _assert_equals_summary(cells: dict[str, float], summary: dict) -> None:
    assert cells["count"] == summary["count"]
    for metric in ("correctness", "specificity", "hm"):
        assert cells[metric] == pytest.approx(summary[metric], abs=1e-9), metric
    for label, share in summary["shares"].items():
        assert cells[label] == pytest.approx(share * summary["count"], abs=1e-6), label


def _best_by_sample(path: Path) -> dict[str, object]:
    records = read_records(path, required=GRADED_FIELDS)
    return {sid: best_category(c) for ds in predictions_by_sample(records).values() for sid, c in ds.items()}


def _shown_answers(path: Path) -> dict[str, object]:
    """Per sample the record whose answer a card shows: best category, then lowest prediction_index."""
    shown: dict[str, object] = {}
    for r in read_records(path, required=GRADED_FIELDS):
        old = shown.get(r.sample_id)
        if old is None or (order(r.category), -r.prediction_index) > (order(old.category), -old.prediction_index):
            shown[r.sample_id] = r
    return shown


def _screenshot(driver, path: Path) -> None:
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    print(f"gallery screenshot: {path}")


def test_eval_runs_side_by_side_in_chromium(eval_runs, tmp_path):
    greedy, bo2 = eval_runs
    for run_dir in eval_runs:  # speciarl eval wrote each run's own gallery (its images are reachable)
        assert (run_dir / "report" / "gallery" / "index.html").is_file()
    out = tmp_path / "gallery"
    result = build_gallery([greedy, bo2], out, log=None)
    assert result.images == result.samples == 36
    summaries = {name: json.loads((d / "report" / "summary.json").read_text())["runs"][name]
                 for name, d in zip(("tiny-cpu", "tiny-cpu-bo2"), eval_runs)}
    best_a, best_b = _best_by_sample(greedy / "verified.jsonl"), _best_by_sample(bo2 / "verified.jsonl")
    with chromium(tmp_path) as driver:
        _open(driver, out / "index.html")
        assert _matches(driver) == 36
        _wait(driver, lambda d: d.execute_script(
            "const i = document.querySelector('.card img.thumb'); return i && i.complete && i.naturalWidth > 0"),
            "a thumbnail")
        # dataset filter: the counts are summary.json's numbers for that dataset, best-of-2 included
        _select_by_text(driver, "f-dataset", "synthetic")
        stats = _stats(driver)
        _assert_equals_summary(stats[("tiny-cpu", "all")], summaries["tiny-cpu"]["datasets"]["synthetic"])
        _assert_equals_summary(stats[("tiny-cpu-bo2", "all")], summaries["tiny-cpu-bo2"]["datasets"]["synthetic"])
        _assert_equals_summary(stats[("tiny-cpu-bo2", "best")],
                               summaries["tiny-cpu-bo2"]["best_of_n"]["datasets"]["synthetic"])
        # category filter in one run
        _select(driver, "f-run-0", "0")  # wrong
        wrong = summaries["tiny-cpu"]["datasets"]["synthetic"]
        assert _matches(driver) == round(wrong["shares"]["wrong"] * wrong["count"]) > 0
        assert len(driver.find_elements("css selector", ".card")) == _matches(driver)
        _select(driver, "f-run-0", "")
        # transitions greedy -> best-of-2
        _select(driver, "f-from", "0")
        _select(driver, "f-to", "1")
        tests = {"changed": lambda a, b: a != b,
                 "gain": lambda a, b: a in CORRECT - SPECIFIC_OR_FINER and b in SPECIFIC_OR_FINER,
                 "regression": lambda a, b: a in CORRECT and b not in CORRECT and (b is None or b.value == "wrong")}
        for kind, test in tests.items():
            _select(driver, "f-transition", kind)
            expected = sum(test(best_a[s], best_b[s]) for s in best_a)
            assert _matches(driver) == expected, kind
        assert sum(tests["changed"](best_a[s], best_b[s]) for s in best_a) > 0
        _select(driver, "f-transition", "")
        # text search over ground truth and answers
        needle = read_records(greedy / "verified.jsonl")[0].ground_truth
        driver.find_element("id", "f-search").send_keys(needle.upper())
        texts = defaultdict(list)  # per sample: id, ground truth and the answer each run's card shows
        for run_dir in eval_runs:
            for sid, record in _shown_answers(run_dir / "verified.jsonl").items():
                texts[sid] += [sid, record.ground_truth, record.answer or ""]
        expected = sum(any(needle.lower() in t.lower() for t in parts) for parts in texts.values())
        assert _await_matches(driver, expected) == expected and expected > 0
        _screenshot(driver, tmp_path / "gallery-eval.png")
        # open a card: the full completion of each run
        first = driver.find_element("css selector", ".card")
        sid = driver.execute_script("return SPECIARL_GALLERY.ids[+arguments[0].dataset.i]", first)
        first.click()
        _wait(driver, lambda d: d.find_elements("css selector", "#detail-body pre.completion"), "the completion")
        completion = next(r.completion for r in read_records(greedy / "verified.jsonl") if r.sample_id == sid)
        texts = [e.get_attribute("textContent") for e in driver.find_elements("css selector", "#detail-body pre.completion")]
        assert completion in texts
        assert len(driver.find_elements("css selector", "#detail-body section[data-run='tiny-cpu-bo2'] details")) == 2
        _screenshot(driver, tmp_path / "gallery-eval-card.png")
        assert console_errors(driver) == []
        driver.get((out / "classes.html").resolve().as_uri())
        assert len(driver.find_elements("css selector", "#per-class tbody tr")) == 9
        assert console_errors(driver) == []


def test_example_runs_without_images_and_hostile_text(tmp_path):
    hostile = tmp_path / "hostile.jsonl"
    payload = '<img src=x onerror="window.__pwned=1">'
    hostile.write_text(json.dumps({
        "sample_id": "cub200:test:0", "dataset": "cub200", "ground_truth": "Black footed Albatross",
        "answer": payload, "category": "wrong", "completion": f"<think></script>{payload}</think>",
    }) + "\n")
    runs = [EXAMPLES / "zero_shot.jsonl", EXAMPLES / "speciarl.jsonl", EXAMPLES / "zero_shot_bo8.jsonl", hostile]
    out = tmp_path / "gallery"
    build_gallery(runs, out, log=None)
    summary = build_report(runs)["runs"]
    with chromium(tmp_path) as driver:
        _open(driver, out / "index.html")
        cards = driver.find_elements("css selector", ".card")
        assert len(cards) == _matches(driver) == 60
        assert len(driver.find_elements("css selector", ".card .ph")) == 60  # placeholders, no broken images
        assert not driver.find_elements("css selector", ".card img")
        _select_by_text(driver, "f-dataset", "cub200")
        stats = _stats(driver)
        for name in ("zero_shot", "speciarl", "zero_shot_bo8"):
            _assert_equals_summary(stats[(name, "all")], summary[name]["datasets"]["cub200"])
        _assert_equals_summary(stats[("zero_shot_bo8", "best")], summary["zero_shot_bo8"]["best_of_n"]["datasets"]["cub200"])
        _select_by_text(driver, "f-class", "Painted Bunting")  # class filter, within the dataset
        bunting = {r.sample_id for r in read_records(runs[0]) if r.ground_truth == "Painted Bunting"}
        assert _matches(driver) == len(bunting) > 0
        _select(driver, "f-class", "")
        _select(driver, "f-run-1", "correct")
        cub = summary["speciarl"]["datasets"]["cub200"]
        assert _matches(driver) == round(cub["correctness"] * cub["count"])
        _select_by_text(driver, "f-dataset", "all")
        _select(driver, "f-run-1", "")
        _select(driver, "f-run-3", "absent")
        assert _matches(driver) == 59
        _select(driver, "f-run-3", "")
        driver.find_element("id", "f-search").send_keys("onerror")
        assert _await_matches(driver, 1) == 1
        driver.find_element("css selector", ".card").click()
        _wait(driver, lambda d: len(d.find_elements("css selector", "#detail-body section[data-run='zero_shot_bo8'] details")) == 8,
              "the 8 answers of the best-of-8 run")
        assert payload in driver.find_element("id", "detail-body").get_attribute("textContent")
        assert driver.execute_script("return window.__pwned === undefined")
        assert not driver.find_elements("css selector", "#detail-body img, .card img")
        _screenshot(driver, tmp_path / "gallery-examples-card.png")
        assert console_errors(driver) == []
        # the per-class page links each class to its cards (a class name with a slash included)
        driver.get((out / "classes.html").resolve().as_uri())
        driver.find_element("link text", "F/A-18").click()
        _wait(driver, lambda d: d.execute_script("return document.body.dataset.loaded === '1'"), "the gallery")
        fa18 = {r.sample_id for r in read_records(runs[0]) if r.ground_truth == "F/A-18"}
        assert _matches(driver) == len(fa18) > 0
        assert {c.get_attribute("textContent") for c in driver.find_elements("css selector", ".card .gt")} == {"F/A-18"}
        assert console_errors(driver) == []
