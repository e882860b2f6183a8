"""`speciarl gallery`: graded runs → a static site to look at the answers, opened from file://.

Why plain HTML/CSS/JS shipped in the package (speciarl/report/gallery_site/): the page must open
from disk with no server and no network, and a gallery is a list, some filters and a dialog — no
framework earns its weight or a build step. Chromium refuses fetch() of local JSON under file://, so
the data are JavaScript files (`data/*.js`) that call `SPECIARL_GALLERY.index(...)` when loaded by a
<script> tag:

    index.html, classes.html, gallery.css, gallery.js    the page and the per-class page
    data/meta.js           runs, datasets, classes, chunk counts
    data/index-NNNN.js     INDEX_CHUNK samples each: id, class, thumbnail, per run best answer,
                           category, and the category histogram (runs with N > 1)
    data/detail-NNNN.js    completions and all N answers, loaded when a card is opened
    thumbs/xx/HASH.jpg     cached thumbnails (see speciarl.report.thumbs)

The page paints after meta.js and the first index chunk, loads the rest chunk by chunk, renders one
page of cards at a time, and lets the browser load thumbnails lazily.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import SpeciarlError
from ..records import write_atomic
from .gallery_classes import classes_page
from .gallery_data import CODES, GalleryData, RunInput, collect, iter_details, resolve_inputs
from .thumbs import make_thumb

INDEX_CHUNK = 2000  # samples per index chunk: the first paints fast, 30,300 images make 16 chunks
DETAIL_PREDICTIONS = 1500  # predictions (all runs together) per detail chunk, loaded on one click
SITE_FILES = ("index.html", "classes.html", "gallery.css", "gallery.js")
BUFFER_ENTRIES = 200_000  # detail entries held before they are appended to the chunks' spool files


@dataclass
class GalleryResult:
    out: Path
    samples: int
    runs: list[str]
    images: int
    thumbs_made: int
    bytes_total: int
    seconds: float

    def summary_line(self) -> str:
        return (f"gallery: {self.samples} samples x {len(self.runs)} runs, {self.images} thumbnails "
                f"({self.thumbs_made} new), {self.bytes_total / 1e6:.1f} MB in {self.seconds:.1f} s -> "
                f"{self.out / 'index.html'}")


def _js(call: str, *args: Any) -> str:
    return f"SPECIARL_GALLERY.{call}(" + ",".join(json.dumps(a, ensure_ascii=False, separators=(",", ":"))
                                                 for a in args) + ");\n"


def images_reachable(inputs: Sequence[str | os.PathLike[str]], probe: int = 200) -> bool:
    """Whether the first `probe` records of any input name an image file that exists (cheap check
    for `speciarl report` / `speciarl eval` before building a gallery)."""
    from ..records import iter_json_objects
    from .gallery_data import find_image

    for run in resolve_inputs(inputs):
        for i, (_, obj) in enumerate(iter_json_objects(run.path)):
            if i >= probe:
                break
            if find_image(obj.get("image"), run.image_roots) is not None:
                return True
    return False


def build_gallery(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    names: Sequence[str] | None = None,
    *,
    images: bool = True,
    log: Any = print,
) -> GalleryResult:
    """Write the gallery of the given runs (graded files or eval run directories) into out_dir."""
    t0 = time.perf_counter()
    runs = resolve_inputs(inputs, names)
    if log:
        log(f"gallery: reading {len(runs)} run(s): " + ", ".join(f"{r.name} ({r.path})" for r in runs))
    data = collect(runs, with_images=images)
    out = Path(out_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    order = data.ordered_ids()
    thumbs, made = _thumbnails(data, order, out / "thumbs", log)
    datasets = sorted({data.samples[s].dataset for s in order})
    class_keys = sorted({(data.samples[s].dataset, data.samples[s].ground_truth) for s in order})
    class_index = {k: i for i, k in enumerate(class_keys)}
    per_sample = sum(data.n_per_run)
    detail_size = max(1, DETAIL_PREDICTIONS // max(per_sample, 1))
    index_chunks = _write_index(data, order, thumbs, class_index, out / "data")
    if log:
        log(f"gallery: {len(order)} samples, {len(thumbs)} thumbnails; writing completions ({sum(data.n_per_run)} "
            "predictions per sample, all runs)")
    detail_chunks = _write_details(data, order, detail_size, out / "data")
    meta = {
        "version": 1,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": [{"name": r.name, "file": str(r.path), "n": n} for r, n in zip(runs, data.n_per_run)],
        "codes": list(CODES),
        "datasets": datasets,
        "classes": [[datasets.index(d), gt] for d, gt in class_keys],
        "total": len(order),
        "indexChunks": index_chunks, "indexChunkSize": INDEX_CHUNK,
        "detailChunks": detail_chunks, "detailChunkSize": detail_size,
        "images": len(thumbs),
    }
    write_atomic(out / "data" / "meta.js", _js("meta", meta))
    site = resources.files("speciarl.report") / "gallery_site"
    for name in SITE_FILES:
        if name != "classes.html":
            write_atomic(out / name, site.joinpath(name).read_bytes())
    write_atomic(out / "classes.html", classes_page(data, site.joinpath("classes.html").read_text(encoding="utf-8")))
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    result = GalleryResult(out=out, samples=len(order), runs=[r.name for r in runs], images=len(thumbs),
                           thumbs_made=made, bytes_total=total, seconds=time.perf_counter() - t0)
    if log:
        log(result.summary_line())
    return result


def _thumbnails(data: GalleryData, order: list[str], thumb_dir: Path, log: Any) -> tuple[dict[str, str], int]:
    """sample_id → thumbnail path relative to the site; thumbnails no sample uses any more are removed.

    Pillow releases the GIL while it decodes and encodes, so a small thread pool makes them in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    thumbs: dict[str, str] = {}
    made = 0
    with_image = [s for s in order if data.samples[s].image]
    progress = _progress(len(with_image), "thumbnails") if log and len(with_image) > 500 else None
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = pool.map(lambda sid: make_thumb(data.samples[sid].image, thumb_dir), with_image, chunksize=64)
        for sid, (name, new) in zip(with_image, results):
            made += new
            if name is not None:
                thumbs[sid] = f"thumbs/{name}"
            if progress is not None:
                progress.update(1)
    if progress is not None:
        progress.close()
    if thumb_dir.is_dir():
        keep = {thumb_dir.parent / t for t in thumbs.values()}
        for stale in thumb_dir.glob("*/*.jpg"):
            if stale not in keep:
                stale.unlink()
    return thumbs, made


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False)


def _write_index(data: GalleryData, order: list[str], thumbs: dict[str, str], class_index: dict[tuple[str, str], int],
                 folder: Path) -> int:
    chunks = 0
    for start in range(0, len(order), INDEX_CHUNK):
        ids = order[start:start + INDEX_CHUNK]
        runs = []
        for table, n in zip(data.per_run, data.n_per_run):
            states = [table.get(s) for s in ids]
            runs.append({
                "c": [-1 if st is None else st.best_code for st in states],
                "a": [None if st is None else st.answer for st in states],
                "h": [None if st is None else st.hist for st in states] if n > 1 else None,
            })
        chunk = {
            "ids": ids,
            "cls": [class_index[(data.samples[s].dataset, data.samples[s].ground_truth)] for s in ids],
            "img": [thumbs.get(s) for s in ids],
            "runs": runs,
        }
        write_atomic(folder / f"index-{chunks:04d}.js", _js("index", chunks, chunk))
        chunks += 1
    for stale in folder.glob("index-*.js"):
        if int(stale.stem.split("-")[1]) >= chunks:
            stale.unlink()
    return chunks


def _write_details(data: GalleryData, order: list[str], size: int, folder: Path) -> int:
    """Completions of every prediction, grouped into chunks of `size` samples, streamed from the
    record files a second time (spooled to disk per chunk, so memory stays bounded)."""
    chunk_of = {sid: i // size for i, sid in enumerate(order)}
    chunks = (len(order) + size - 1) // size
    spool = folder / ".spool"
    if spool.exists():
        shutil.rmtree(spool)
    spool.mkdir()
    buffer: dict[int, list[str]] = defaultdict(list)
    held = 0

    def flush() -> None:
        for k, lines in buffer.items():
            with open(spool / f"{k}.jsonl", "a", encoding="utf-8") as fh:
                fh.writelines(lines)
        buffer.clear()

    for run_index, run in enumerate(data.runs):
        for sid, entry in iter_details(run):
            buffer[chunk_of[sid]].append(json.dumps([run_index, sid, entry], ensure_ascii=False) + "\n")
            held += 1
            if held >= BUFFER_ENTRIES:
                flush()
                held = 0
    flush()
    n_runs = len(data.runs)
    for k in range(chunks):
        grouped: dict[str, dict[str, Any]] = {}
        for sid in order[k * size:(k + 1) * size]:
            grouped[sid] = {"img": data.samples[sid].image, "runs": [None] * n_runs}
        part = spool / f"{k}.jsonl"
        if part.exists():
            with open(part, encoding="utf-8") as fh:
                for line in fh:
                    run_index, sid, entry = json.loads(line)
                    preds = grouped[sid]["runs"][run_index]
                    if preds is None:
                        preds = grouped[sid]["runs"][run_index] = []
                    preds.append(entry)
        for item in grouped.values():
            for preds in item["runs"]:
                if preds:
                    preds.sort(key=lambda p: p[0])
        write_atomic(folder / f"detail-{k:04d}.js", _js("detail", k, grouped))
    shutil.rmtree(spool)
    for stale in folder.glob("detail-*.js"):
        if int(stale.stem.split("-")[1]) >= chunks:
            stale.unlink()
    return chunks


def run_gallery(inputs: Sequence[str], out_dir: str, names: Sequence[str] | None = None) -> GalleryResult:
    """The CLI's entry: build, then say where to open it."""
    if not inputs:
        raise SpeciarlError("give at least one graded records file or run directory")
    result = build_gallery(inputs, out_dir, names)
    print(f"open file://{(result.out / 'index.html').resolve()} (per class: classes.html)")
    return result


__all__ = ["GalleryResult", "RunInput", "build_gallery", "images_reachable", "run_gallery"]
