"""`speciarl report --reference paper` (published rows beside the runs) and collision-free labels in
the correctness-specificity scatter."""

import json
from itertools import combinations
from pathlib import Path

import pytest

from speciarl.cli import main
from speciarl.report.reference import load_reference, reference_names

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_reference_rows_render_labelled_as_published(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(EXAMPLES / "zero_shot.jsonl"), str(EXAMPLES / "speciarl.jsonl"), "--out", str(out),
                 "--reference", "paper", "--no-gallery"]) == 0
    printed = capsys.readouterr().out
    reference = load_reference("paper")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"]["source"] == reference["source"] and summary["reference"]["rows"] == reference["rows"]
    md = (out / "summary.md").read_text()
    group_table = md.split("## By dataset group")[1].split("## By dataset\n")[0]
    for row in reference["rows"]:
        fine = row["groups"]["fine-grained"]
        line = next(x for x in group_table.splitlines() if x.startswith(f"| {row['method']} (published, paper)"))
        assert f"{fine['specificity']:.3f} / {fine['correctness']:.3f} / {fine['hm']:.3f}" in line
        assert line.count("|") == 5  # run + in-domain, fine-grained, very fine-grained
    assert "Source: " in group_table and "published numbers, not computed here" in group_table
    # the runs' own rows are unchanged and come first
    assert group_table.index("| zero_shot |") < group_table.index("(published, paper)")
    assert "SpeciaRL (published, paper)" in printed and "0.920 / 0.848 / 0.883" in printed
    assert (out / "correctness_specificity.png").stat().st_size > 5000


def test_without_reference_nothing_published_appears(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(EXAMPLES / "zero_shot.jsonl"), "--out", str(out), "--no-gallery"]) == 0
    assert "published" not in (out / "summary.md").read_text() and "reference" not in json.loads(
        (out / "summary.json").read_text())


@pytest.mark.parametrize("content, message", [
    (None, "neither a known reference"),
    ("{oops", "not a JSON reference file"),
    ('{"rows": []}', "needs 'source'"),
    ('{"source": "me", "rows": [{"method": "x", "groups": {"fine-grained": {"hm": 1.7}}}]}', "in [0, 1]"),
    ('{"source": "me", "rows": [{"method": "x", "groups": {"fine-grained": {"f1": 0.5}}}]}', "metrics must be"),
])
def test_bad_reference_is_a_clear_error_before_anything_is_written(tmp_path, capsys, content, message):
    ref = tmp_path / "ref.json"
    if content is not None:
        ref.write_text(content)
    out = tmp_path / "rep"
    assert main(["report", str(EXAMPLES / "zero_shot.jsonl"), "--out", str(out), "--reference", str(ref)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_own_reference_file_and_names():
    assert "paper" in reference_names()
    assert load_reference("paper")["label"] == "published"


def test_labels_of_crowded_points_do_not_overlap_and_stay_inside():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speciarl.report.plots import place_labels

    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    # six datasets a few pixels apart (what made names overprint), two right at the corner
    points = [(0.80 + 0.012 * i, 0.70 + 0.01 * i, name) for i, name in enumerate(
        ["flowers102", "food101", "oxford_pets", "cub200", "stanford_cars", "fgvc_aircraft"])]
    points += [(1.0, 1.0, "corner one"), (0.995, 0.998, "corner two, a longer label")]
    for x, y, _ in points:
        ax.scatter(x, y, s=22)
    fig.canvas.draw()
    texts = place_labels(ax, [(x, y, t, "black") for x, y, t in points], markers=[(x, y, 22 ** 0.5) for x, y, _ in points])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t, renderer) for t in texts]  # the text itself, not its leader line
    frame = ax.get_window_extent(renderer)
    assert sorted(t.get_text() for t in texts) == sorted(t for _, _, t in points)
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    for box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
    plt.close(fig)


def test_labels_of_points_on_one_spot_are_merged():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speciarl.report.plots import place_labels

    fig, ax = plt.subplots()
    fig.canvas.draw()
    texts = place_labels(ax, [(0.5, 0.5, "a", "red"), (0.5, 0.5, "b", "red"), (0.5, 0.5, "c", "blue")])
    assert sorted(t.get_text() for t in texts) == ["a, b", "c"]
    plt.close(fig)
