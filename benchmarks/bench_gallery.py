"""Benchmark the gallery at paper scale: build time, output size, and the page in headless chromium.

    python benchmarks/bench_gallery.py [--samples 30300] [--runs 3] [--bon-samples 30300] [--no-browser]

Writes Food-101-sized graded runs (101 classes, 512x384 JPEGs, completions of ~300 characters):
`--runs` greedy runs over `--samples` images, and one best-of-64 run over the first `--bon-samples`
images (0 skips it). Times `build_gallery` for the greedy runs (first build, which makes every
thumbnail, then a rebuild with cached thumbnails) and for greedy + best-of-64 together (thumbnails
cached); prints
wall and CPU seconds and the output sizes. With chromium (tools/ensure_chromium.sh), opens each
gallery from file:// and reports first contentful paint, first cards, all chunks loaded, and the
time of a dataset/category filter and of a text search over every sample. Writing the inputs is
not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

from speciarl.report.gallery import build_gallery  # noqa: E402

CATEGORIES = ("wrong", "abstain", "generic", "less specific", "specific", "more specific")
WEIGHTS = (0.15, 0.02, 0.08, 0.15, 0.55, 0.05)


def write_images(root: Path, samples: int) -> list[str]:
    from PIL import Image, ImageDraw

    paths = []
    for i in range(samples):
        path = root / f"class_{i % 101:03d}" / f"{100000 + i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img = Image.new("RGB", (512, 384), ((37 * i) % 256, (91 * i) % 256, (53 * i + 17) % 256))
        draw = ImageDraw.Draw(img)
        draw.ellipse((60 + i % 90, 50, 360, 330), fill=((17 * i) % 256, 200, (7 * i) % 256))
        img.save(path, quality=85)
        paths.append(str(path))
    return paths


def write_run(path: Path, images: list[str], n: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i, image in enumerate(images):
            gt = f"dish number {i % 101}"
            for j in range(n):
                category = rng.choices(CATEGORIES, WEIGHTS)[0]
                answer = gt if category == "specific" else f"food {rng.randrange(400)}"
                reasoning = " ".join(rng.choice(("plate", "sauce", "crisp", "golden", "layered", "served", "bowl"))
                                     for _ in range(40))
                fh.write(json.dumps({
                    "sample_id": f"food101:test:{100000 + i}", "dataset": "food101", "split": "test",
                    "ground_truth": gt, "prediction_index": j, "image": image, "answer": answer,
                    "completion": f"<think>{reasoning}</think><answer>{answer}</answer>", "category": category,
                }) + "\n")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_build(inputs: list[Path], out: Path) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = build_gallery(inputs, out, log=None)
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def page_weight(out: Path) -> tuple[int, int]:
    """(bytes loaded before any interaction without thumbnails, bytes of all detail chunks)."""
    upfront = sum((out / f).stat().st_size for f in ("index.html", "gallery.js", "gallery.css"))
    upfront += sum(p.stat().st_size for p in (out / "data").glob("meta.js"))
    upfront += sum(p.stat().st_size for p in (out / "data").glob("index-*.js"))
    details = sum(p.stat().st_size for p in (out / "data").glob("detail-*.js"))
    return upfront, details


def browser_timings(out: Path, tmp: Path) -> dict[str, float]:
    from browser import chromium
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium(tmp) as driver:
        driver.get((out / "index.html").resolve().as_uri())
        WebDriverWait(driver, 300).until(lambda d: d.execute_script("return document.body.dataset.loaded === '1'"))
        t = driver.execute_script("""
            const g = SPECIARL_GALLERY, fcp = performance.getEntriesByName('first-contentful-paint')[0];
            const time = (f) => { const t0 = performance.now(); f(); return performance.now() - t0; };
            const set = (id, v) => { const s = document.getElementById(id); s.value = v;
                                     s.dispatchEvent(new Event('change')); };
            const filter = time(() => set('f-run-0', '4'));
            const transition = time(() => { set('f-run-0', ''); set('f-transition', 'changed'); });
            set('f-transition', '');
            const search = time(() => { document.getElementById('f-search').value = 'food 12'; set('f-dataset', ''); });
            return {fcp: fcp ? fcp.startTime : -1, first_cards: g.timings.firstCards, all_loaded: g.timings.allLoaded,
                    filter, transition, search, heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : -1};""")
        return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bon-samples", type=int, default=30300, help="images of the best-of-64 run (0: none)")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gallery-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        images = write_images(tmp / "images", args.samples)
        runs = []
        for r in range(args.runs):
            runs.append(tmp / f"run{r}.jsonl")
            write_run(runs[-1], images, 1, seed=r)
        bon = None
        if args.bon_samples:
            bon = tmp / "bo64.jsonl"
            write_run(bon, images[: args.bon_samples], 64, seed=99)
        print(f"(inputs written in {time.perf_counter() - t0:.0f} s; not counted)")
        rows = []
        out = tmp / "gallery"
        wall, cpu, res = timed_build(runs, out)
        rows.append((f"{args.samples} x {args.runs} runs, first build", wall, cpu, res, out))
        wall, cpu, res = timed_build(runs, out)
        rows.append((f"{args.samples} x {args.runs} runs, rebuild (cached thumbs)", wall, cpu, res, out))
        if bon is not None:
            out_bon = tmp / "gallery-bo64"
            shutil.copytree(out / "thumbs", out_bon / "thumbs")  # same images: time the records, not thumbnails
            wall, cpu, res = timed_build([*runs[:2], bon], out_bon)
            rows.append((f"2 greedy runs + best-of-64 over {args.bon_samples}", wall, cpu, res, out_bon))
        print(f"{'case':<48} {'wall s':>8} {'cpu s':>8} {'thumbs':>7} {'total MB':>9} {'upfront MB':>10} "
              f"{'details MB':>10} {'thumb kB':>8}")
        for name, wall, cpu, res, folder in rows:
            upfront, details = page_weight(folder)
            thumbs = list((folder / "thumbs").glob("*/*.jpg"))
            avg = sum(p.stat().st_size for p in thumbs) / max(len(thumbs), 1) / 1e3
            print(f"{name:<48} {wall:8.1f} {cpu:8.1f} {res.thumbs_made:7d} {res.bytes_total / 1e6:9.1f} "
                  f"{upfront / 1e6:10.2f} {details / 1e6:10.1f} {avg:8.1f}")
        if not args.no_browser:
            print(f"\n{'gallery in headless chromium (ms)':<48} {'FCP':>7} {'cards':>7} {'loaded':>7} {'filter':>7} "
                  f"{'trans.':>7} {'search':>7}")
            seen = set()
            for name, _, _, _, folder in rows:
                if folder in seen:
                    continue
                seen.add(folder)
                t = browser_timings(folder, tmp / f"profile-{len(seen)}")
                print(f"{name:<48} {t['fcp']:7.0f} {t['first_cards']:7.0f} {t['all_loaded']:7.0f} {t['filter']:7.0f} "
                      f"{t['transition']:7.0f} {t['search']:7.0f}")
        print(f"\n(machine: {os.cpu_count()} CPUs; timings on a shared machine vary — compare CPU seconds)")


if __name__ == "__main__":
    main()
