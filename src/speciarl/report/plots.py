"""PNG plots of a report (matplotlib with the Agg backend: no display needed)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..metrics import SHARE_KEYS
from ..records import write_atomic

# worst (red) to best (green); parse failures grey
COLORS = {
    "parse failure": "#9e9e9e", "wrong": "#d73027", "abstain": "#fc8d59", "generic": "#fee08b",
    "less specific": "#d9ef8b", "specific": "#66bd63", "more specific": "#1a9850",
}
STACK_ORDER = ("parse failure", "wrong", "abstain", "generic", "less specific", "specific", "more specific")
assert set(STACK_ORDER) == set(SHARE_KEYS)


def load_pyplot():
    """matplotlib's pyplot on the Agg backend (imported on first use: it takes most of a second)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_pyplot = load_pyplot


def _save(fig, path: Path) -> Path:
    """Write the figure atomically as PNG and free it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    write_atomic(path, buffer.getvalue())
    return path


def plot_category_shares(runs: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Stacked horizontal bars: one bar per (dataset, run), categories from wrong to more specific."""
    plt = _pyplot()
    bars: list[tuple[str, Mapping[str, float]]] = []
    datasets = sorted({d for run in runs.values() for d in run["datasets"]})
    for dataset in datasets:
        for name, run in runs.items():
            if dataset in run["datasets"]:
                label = dataset if len(runs) == 1 else f"{dataset} · {name}"
                bars.append((label, run["datasets"][dataset]["shares"]))
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(bars) + 1.6))
    y = range(len(bars))
    left = [0.0] * len(bars)
    for key in STACK_ORDER:
        widths = [shares.get(key) or 0.0 for _, shares in bars]
        ax.barh(list(y), widths, left=left, color=COLORS[key], label=key, edgecolor="white", linewidth=0.5)
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(list(y), [label for label, _ in bars])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of predictions")
    ax.set_title("Category shares per dataset")
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.4 / max(len(bars), 1)))
    return _save(fig, path)


def place_labels(ax, items: Sequence[tuple[float, float, str, Any]], *, markers: Sequence[tuple[float, float, float]] = (),
                 fontsize: float = 6) -> list[Any]:
    """Annotate points so that no two labels overlap, none covers a marker, none leaves the axes.

    `items` are (x, y, text, colour) in data coordinates; `markers` are (x, y, size in points) of every
    drawn marker, to keep clear of. Greedy, longest label first: each label tries offsets on rings of
    growing radius around its point (16 directions) and takes the first whose box clears every box
    placed so far, every marker and the axes' edge (else the one with the fewest collisions); a label
    moved away from its point gets a thin leader line; points on the same spot share one label. Why: datasets with similar numbers (Flowers,
    Food, Pets) otherwise print their names on top of each other.
    """
    import math

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_display = ax.transData.transform
    frame = ax.get_window_extent(renderer)
    scale = fig.dpi / 72  # points -> display pixels
    pad = 1.5 * scale
    boxes = []
    for x, y, size in markers:
        px, py = to_display((x, y))
        half = size * scale / 2
        boxes.append((px - half, py - half, px + half, py + half))
    directions = [(math.cos(math.pi * k / 8), math.sin(math.pi * k / 8)) for k in (0, 4, 8, 12, 2, 6, 10, 14, 1, 3, 5,
                                                                                 7, 9, 11, 13, 15)]
    merged: dict[tuple[int, int, str], list[Any]] = {}  # points drawn on the same spot share one label
    for x, y, text, color in items:
        px, py = to_display((x, y))
        key = (round(px / 3), round(py / 3), str(color))
        if key in merged:
            merged[key][2] += f", {text}"
        else:
            merged[key] = [x, y, text, color]
    texts = []
    for x, y, text, color in sorted(merged.values(), key=lambda item: -len(item[2])):  # long ones first
        best = None  # (collisions, annotation, box, radius, offset, ha, va)
        for radius in (5, 10, 16, 24, 34, 46, 60, 76, 95, 120):
            for dx, dy in directions:
                offset = (radius * dx, radius * dy)
                ha = "left" if dx > 0.3 else "right" if dx < -0.3 else "center"
                va = "bottom" if dy > 0.3 else "top" if dy < -0.3 else "center"
                label = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", fontsize=fontsize,
                                    color=color, ha=ha, va=va)
                box = label.get_window_extent(renderer)
                rect = (box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad)
                outside = rect[0] < frame.x0 or rect[1] < frame.y0 or rect[2] > frame.x1 or rect[3] > frame.y1
                collisions = 2 * outside + sum(_overlap(rect, other) for other in boxes)
                if best is None or collisions < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (collisions, label, rect, radius, offset, ha, va)
                else:
                    label.remove()
                if collisions == 0:
                    break
            if best is not None and best[0] == 0:
                break
        assert best is not None
        _, label, rect, radius, offset, ha, va = best
        if radius > 5:  # away from its point: the same label with a leader line
            label.remove()
            label = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", fontsize=fontsize,
                                color=color, ha=ha, va=va,
                                arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "#888888", "shrinkA": 0,
                                            "shrinkB": 2})
        boxes.append(rect)
        texts.append(label)
    return texts


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def plot_correctness_specificity(runs: Mapping[str, Mapping[str, Any]], path: Path,
                                 reference: Mapping[str, Any] | None = None) -> Path:
    """Correctness vs specificity, one marker per run (overall, large) and per dataset (small),
    with iso-HM curves so a better trade-off is simply further up and right.

    With a `reference` (report/reference.py), its published points (per dataset group) are drawn as
    hollow black diamonds labelled as published, and each run's own point for those groups as a
    filled diamond, so like is compared with like."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    for h in (0.5, 0.6, 0.7, 0.8, 0.9):
        xs = [h / 2 + i * (1 - h / 2) / 200 for i in range(1, 201)]  # correctness > h/2 keeps spec <= 1
        pts = [(c, h * c / (2 * c - h)) for c in xs if 2 * c - h > 0 and h * c / (2 * c - h) <= 1]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="#cccccc", lw=0.8, zorder=0)
        if pts:
            ax.annotate(f"HM {h:.1f}", pts[-1], fontsize=7, color="#999999", xytext=(-28, 3),
                        textcoords="offset points")
    cmap = plt.get_cmap("tab10")
    labels: list[tuple[float, float, str, Any]] = []
    markers: list[tuple[float, float, float]] = []

    def point(x: float, y: float, size: float, **style: Any) -> None:
        ax.scatter(x, y, s=size, **style)
        markers.append((x, y, size ** 0.5))

    reference_groups = _reference_points(reference) if reference else {}
    for i, (name, run) in enumerate(runs.items()):
        color = cmap(i % 10)
        levels = [(name, run)]
        if "best_of_n" in run:
            levels.append((f"{name} best-of-{run['best_of_n']['n']}", run["best_of_n"]))
        for j, (label, level) in enumerate(levels):
            marker = "o" if j == 0 else "*"
            overall = level["overall"]
            if overall["correctness"] is None:
                continue
            point(overall["correctness"], overall["specificity"], 110, color=color, marker=marker,
                  edgecolor="black", label=label, zorder=3)
            for dataset, s in level["datasets"].items():
                if s["correctness"] is not None and len(level["datasets"]) > 1:
                    point(s["correctness"], s["specificity"], 22, color=color, marker=marker, alpha=0.6)
                    labels.append((s["correctness"], s["specificity"], dataset, color))
            for group in reference_groups:
                s = level["groups"].get(group)
                if s and s["correctness"] is not None:
                    point(s["correctness"], s["specificity"], 60, color=color, marker="D", edgecolor="black",
                          zorder=3)
                    labels.append((s["correctness"], s["specificity"], group, color))
    legend = f"{reference['label']} ({reference['name']})" if reference else None
    for group, points in reference_groups.items():
        for method, (correctness, specificity) in points:
            point(correctness, specificity, 60, facecolor="none", edgecolor="black", marker="D", zorder=3,
                  label=legend)
            legend = None  # one legend entry for every published point
            suffix = f"{reference['name']}" + (f", {group}" if len(reference_groups) > 1 else "")
            labels.append((correctness, specificity, f"{method} ({suffix})", "black"))
    for h in (0.5, 0.6, 0.7, 0.8, 0.9):  # the iso-HM labels (drawn above) are obstacles too
        markers += [(c, h * c / (2 * c - h), 8) for c in (0.98, 1.0) if h * c / (2 * c - h) <= 1]
    fig.draw_without_rendering()  # label boxes need the final layout of the axes (no pixels needed)
    place_labels(ax, labels, markers=markers)
    ax.set_xlabel("correctness (generic or better)")
    ax.set_ylabel("specificity (specific among correct)")
    ax.set_title("Correctness vs specificity")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.2)
    return _save(fig, path)


def _reference_points(reference: Mapping[str, Any]) -> dict[str, list[tuple[str, tuple[float, float]]]]:
    """group -> [(method, (correctness, specificity))] for the published rows that give both."""
    out: dict[str, list[tuple[str, tuple[float, float]]]] = {}
    for row in reference["rows"]:
        for group, values in row["groups"].items():
            if "correctness" in values and "specificity" in values:
                out.setdefault(group, []).append((row["method"], (values["correctness"], values["specificity"])))
    return out


def plot_metric_vs_k(runs: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """Correctness, specificity and HM of best-of-k vs k (unbiased estimate), one line per run."""
    with_k = {name: run["best_of_k"] for name, run in runs.items() if "best_of_k" in run}
    if not with_k:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharex=True)
    for name, ks in with_k.items():
        k_values = [int(k) for k in ks]
        for ax, metric in zip(axes, ("correctness", "specificity", "hm")):
            ax.plot(k_values, [ks[str(k)][metric] for k in k_values], marker="o", label=name)
    for ax, title in zip(axes, ("correctness", "specificity", "HM")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k")
        ax.set_title(f"best-of-k {title}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return _save(fig, path)


MAX_LABELLED_CLASSES = 60  # more classes than this: only the largest gains and losses are drawn


def plot_per_class_specificity(per_class: Mapping[str, Mapping[tuple[str, str], Mapping[str, Any]]],
                               path: Path) -> Path | None:
    """Per class, sorted: the specificity change of each run against the first (two runs or more), or
    the specificity of the one run. Many classes: the 30 largest gains and 30 largest losses."""
    names = list(per_class)
    if not names:
        return None
    base = per_class[names[0]]
    panels: list[tuple[str, list[tuple[str, float]]]] = []
    multi = len({k[0] for k in base}) > 1
    label = (lambda k: f"{k[1]} ({k[0]})") if multi else (lambda k: k[1])  # noqa: E731
    if len(names) == 1:
        values = [(label(k), v["summary"]["specificity"]) for k, v in base.items() if v["summary"]["count"]]
        panels.append((f"specificity per class · {names[0]}", values))
    for name in names[1:]:
        other = per_class[name]
        values = [(label(k), other[k]["summary"]["specificity"] - base[k]["summary"]["specificity"])
                  for k in sorted(base.keys() & other.keys())
                  if base[k]["summary"]["count"] and other[k]["summary"]["count"]]
        panels.append((f"specificity change per class · {name} − {names[0]}", values))
    panels = [(t, sorted(v, key=lambda p: p[1], reverse=True)) for t, v in panels if v]
    if not panels:
        return None
    half = MAX_LABELLED_CLASSES // 2
    panels = [(t + (f" (top and bottom {half} of {len(v)})" if len(v) > MAX_LABELLED_CLASSES else ""),
               v if len(v) <= MAX_LABELLED_CLASSES else v[:half] + v[-half:]) for t, v in panels]
    plt = _pyplot()
    heights = [len(v) * 0.16 + 0.9 for _, v in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, sum(heights) + 0.4), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (title, values) in zip(axes[:, 0], panels):
        y = list(range(len(values)))
        colors = [COLORS["specific"] if v >= 0 else COLORS["wrong"] for _, v in values]
        ax.barh(y, [v for _, v in values], color=colors)
        ax.set_yticks(y, [n for n, _ in values], fontsize=6)
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.6)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)
