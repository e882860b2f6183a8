"""The gallery's per-class page (classes.html): static HTML rendered here, numbers from speciarl.metrics.

Per class and run: n, correctness, specificity, HM (and best-of-N for runs with N > 1); the classes
that gained or lost most between the first run and each other run; each class's most frequent
wrong answers (confusions) and less-specific answers (what the model says instead).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote
from typing import Any

from ..metrics import summarize_counts
from .gallery_data import CODES, GalleryData, best_of_n_by_class
from .per_class import class_changes

TOP_CHANGES = 15


def _num(value: float | None, run: str, metric: str) -> str:
    if value is None:
        return '<td class="num">–</td>'
    return (f'<td class="num" data-run="{escape(run)}" data-metric="{metric}" data-value="{value!r}">'
            f"{value:.3f}</td>")


def _count(value: float, run: str) -> str:
    return f'<td class="num" data-run="{escape(run)}" data-metric="count" data-value="{value!r}">{int(value)}</td>'


def _gallery_link(key: tuple[str, str]) -> str:
    """index.html showing only this class's cards (gallery.js reads the fragment)."""
    return escape("index.html#class=" + quote(key[0], safe="") + "/" + quote(key[1], safe=""))


def _answers(pairs: list[list[Any]]) -> str:
    if not pairs:
        return "–"
    return ", ".join(f"{escape(str(text))} <span class=\"muted\">×{int(n)}</span>" for text, n in pairs)


def _class_table(data: GalleryData, names: list[str]) -> str:
    best = {i: {k: summarize_counts(dict(zip(CODES, h))).to_dict() for k, h in best_of_n_by_class(data, i).items()}
            for i, n in enumerate(data.n_per_run) if n > 1}
    head = ['<th rowspan="2">dataset</th><th rowspan="2">class</th>']
    sub = []
    for i, name in enumerate(names):
        cols = ["n", "correct", "specific", "HM"] + (["best-of-N HM"] if i in best else [])
        head.append(f'<th colspan="{len(cols)}">{escape(name)}</th>')
        sub += [f"<th>{c}</th>" for c in cols]
    rows = []
    keys = sorted({k for table in data.classes for k in table})
    for key in keys:
        cells = [f"<td>{escape(key[0])}</td>", f'<td><a href="{_gallery_link(key)}">{escape(key[1])}</a></td>']
        for i, (name, table) in enumerate(zip(names, data.classes)):
            s = table.get(key, {}).get("summary")
            if s is None:
                cells += ['<td class="num">–</td>'] * (4 + (i in best))
                continue
            cells += [_count(s["count"], name), _num(s["correctness"], name, "correctness"),
                      _num(s["specificity"], name, "specificity"), _num(s["hm"], name, "hm")]
            if i in best:
                cells.append(_num(best[i][key]["hm"], f"{name} best-of-N", "hm"))
        rows.append(f'<tr data-dataset="{escape(key[0])}" data-class="{escape(key[1])}">{"".join(cells)}</tr>')
    return (f'<table id="per-class"><thead><tr>{"".join(head)}</tr><tr>{"".join(sub)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _changes(data: GalleryData, names: list[str]) -> str:
    if len(names) < 2:
        return "<p class=\"muted\">One run: nothing to compare (give two runs to see gains and losses).</p>"
    parts = []
    for i in range(1, len(names)):
        rows = class_changes(data.classes[0], data.classes[i])
        gains = [r for r in rows if r["delta_hm"] > 0][:TOP_CHANGES]
        losses = [r for r in reversed(rows) if r["delta_hm"] < 0][:TOP_CHANGES]
        for title, chosen in (("largest gains", gains), ("largest losses", losses)):
            body = "".join(
                f"<tr><td>{escape(r['dataset'])}</td><td>{escape(r['class'])}</td>"
                f"<td class=\"num\">{r['base']['hm']:.3f}</td><td class=\"num\">{r['other']['hm']:.3f}</td>"
                + "".join(f"<td class=\"num delta {'pos' if r[f'delta_{m}'] > 0 else 'neg' if r[f'delta_{m}'] < 0 else ''}\">{r[f'delta_{m}']:+.3f}</td>" for m in ("correctness", "specificity", "hm"))
                + "</tr>" for r in chosen) or '<tr><td colspan="7" class="muted">none</td></tr>'
            parts.append(
                f"<h3>{escape(names[i])} vs {escape(names[0])}: {title} (by HM)</h3><table class=\"changes\">"
                f"<thead><tr><th>dataset</th><th>class</th><th>HM {escape(names[0])}</th><th>HM {escape(names[i])}</th>"
                f"<th>Δ correct</th><th>Δ specific</th><th>Δ HM</th></tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts)


def _answer_table(data: GalleryData, names: list[str]) -> str:
    rows = []
    keys = sorted({k for table in data.classes for k in table})
    for key in keys:
        for name, table in zip(names, data.classes):
            entry = table.get(key)
            if entry is None:
                continue
            rows.append(f"<tr><td>{escape(key[0])}</td><td>{escape(key[1])}</td><td>{escape(name)}</td>"
                        f"<td>{_answers(entry['wrong_answers'])}</td><td>{_answers(entry['less_specific_answers'])}</td></tr>")
    return ('<table id="answers"><thead><tr><th>dataset</th><th>class</th><th>run</th><th>most frequent wrong answers '
            '(confusions)</th><th>most frequent less-specific answers</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def classes_page(data: GalleryData, template: str) -> str:
    """classes.html from its template (placeholders {{RUNS}}, {{CLASSES}}, {{CHANGES}}, {{ANSWERS}})."""
    names = [r.name for r in data.runs]
    runs = ", ".join(f"{escape(r.name)} (N={n})" for r, n in zip(data.runs, data.n_per_run))
    return (template.replace("{{RUNS}}", runs)
            .replace("{{CLASSES}}", _class_table(data, names))
            .replace("{{CHANGES}}", _changes(data, names))
            .replace("{{ANSWERS}}", _answer_table(data, names)))
