"""The figures as a reader sees them: readable at a docs page's width, no label on another, the
article's drawing conventions (gate order, one module in detail), and the commands the docs quote."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygrad_rnn import viz
from tinygrad_rnn.viz import figures
from tinygrad_rnn.viz.examples import sequence_loss, unrolled_loss

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGE_PX = 880  # a docs page's width, and a repository's front page
MIN_PX = 8  # the smallest text a reader can still read
MAX_PT = 900  # wider than this, a figure is shrunk on the page
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def shown_svgs() -> list[Path]:
    """Every SVG that a page of the docs (or the README) shows."""
    found = set()
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+\.svg)\)", page.read_text(encoding="utf-8")):
            found.add((page.parent / target).resolve())
    return sorted(found)


def smallest_text_px(svg: Path) -> float:
    """The height in pixels of the smallest text of an SVG shown PAGE_PX wide (or at its own size if
    narrower). Graphviz writes sizes in points: 1 pt = 4/3 px."""
    root = ET.parse(svg).getroot()
    width_px = float(root.get("width").removesuffix("pt")) * 4 / 3
    sizes = [float(t.get("font-size")) for t in root.iter(f"{SVG}text") if t.get("font-size")]
    assert sizes, f"{svg} has no text"
    return min(sizes) * 4 / 3 * min(1.0, PAGE_PX / width_px)


def test_the_docs_show_figures():
    names = {p.name for p in shown_svgs()}
    assert {f"{name}.svg" for name in figures.FIGURES} <= names  # every figure make figures draws is shown


@pytest.mark.parametrize("svg", shown_svgs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shown_figure_is_readable_at_page_width(svg):
    px = smallest_text_px(svg)
    assert px >= MIN_PX, f"{svg.name}: its smallest text is {px:.1f} px high shown {PAGE_PX} px wide"
    width = float(ET.parse(svg).getroot().get("width").removesuffix("pt"))
    assert width <= MAX_PT, f"{svg.name} is {width:.0f} pt wide: wider than a page"


def text_boxes(obj: dict, key: str) -> list[tuple[float, float, float, float, str]]:
    """The boxes (x0, y0, x1, y1, text) of the texts in one of dot -Tjson's drawing lists."""
    boxes, size = [], 14.0
    for op in obj.get(key, []):
        if op["op"] == "F":
            size = op["size"]
        elif op["op"] == "T":
            (x, y), w = op["pt"], op["width"]
            x0 = {"l": x, "c": x - w / 2, "r": x - w}[op["align"]]
            boxes.append((x0, y - 0.25 * size, x0 + w, y + 0.8 * size, op["text"]))
    return boxes


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def curve_points(points: list, n: int = 12) -> list[tuple[float, float]]:
    """Points along a piecewise cubic Bézier curve (dot -Tjson's "b" drawing op), n per piece."""
    out = []
    for k in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[k : k + 4]
        for j in range(n + 1):
            t = j / n
            w = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t**3)
            out.append(tuple(sum(wi * p[axis] for wi, p in zip(w, (p0, p1, p2, p3), strict=True)) for axis in (0, 1)))
    return out


def collisions(source: str) -> list[tuple[str, str]]:
    """Laid out by dot: the edge labels (label, head or tail label) that overlap a box's title or another
    label, and the box titles that an edge's line runs through."""
    layout = json.loads(
        subprocess.run(["dot", "-Tjson"], input=source.encode(), capture_output=True, check=True).stdout
    )
    titles = [b for o in layout.get("objects", []) if o["name"].startswith("cluster") for b in text_boxes(o, "_ldraw_")]
    edges = [e for e in layout.get("edges", []) if e.get("style") != "invis"]
    labels = [b for e in edges for k in ("_ldraw_", "_tldraw_", "_hldraw_") for b in text_boxes(e, k)]
    hits = [(a[4], t[4]) for a in labels for t in titles if overlap(a, t)]
    hits += [(a[4], b[4]) for k, a in enumerate(labels) for b in labels[k + 1 :] if overlap(a, b)]
    lines = [p for e in edges for op in e.get("_draw_", []) if op["op"] == "b" for p in curve_points(op["points"])]
    hits += sorted({("a line", t[4]) for t in titles for x, y in lines if t[0] < x < t[2] and t[1] < y < t[3]})
    return hits


@needs_dot
@pytest.mark.parametrize("name", list(figures.FIGURES))
def test_no_label_or_line_sits_on_a_title_or_another_label(name):
    assert not collisions(figures.FIGURES[name]().source), f"{name}: drawn over each other"


@needs_dot
def test_the_collision_check_sees_collisions():
    assert overlap((0, 0, 10, 5, "h"), (5, 2, 20, 8, "t = 1")) and not overlap((0, 0, 10, 5, "h"), (11, 0, 20, 5, "t"))
    crossed = (
        'digraph { subgraph cluster_a { label="a long title here"; x } y -> x; z -> x; y -> z [label="a long label"] }'
    )
    assert collisions(crossed)  # an edge from outside the box runs through its title


# -- the article's conventions ---------------------------------------------------------------------------


def gate_rows(source: str) -> list[list[str]]:
    """The gates of each step's table of gates, top to bottom, by their drawn names."""
    tables = re.findall(r"gates_\S+ \[label=<<table.*?</table>>", source)
    return [
        [re.sub(r"[₀-₉]", "", cell).split()[-1] for cell in re.findall(r"<font[^>]*>([^<]*)</font>", t)] for t in tables
    ]


@pytest.mark.parametrize(
    ("kind", "order"),
    [
        ("lstm", ["f", "i", "C̃", "o"]),
        ("peephole", ["f", "i", "C̃", "o"]),
        ("coupled", ["f", "C̃", "o"]),
        ("gru", ["r", "z"]),
    ],
)
def test_gates_keep_the_articles_order_in_every_step(kind, order):
    """Forget, input, candidate, output: the same rows in the same order in each of 5 steps, at gate
    level and at op level (a table keeps its rows' order in any layout; separate boxes do not)."""
    for level in ("gate", "op"):
        for direction in ("LR", "TB"):
            source = viz.draw(sequence_loss(kind, 5), level=level, labels="names", direction=direction).source
            # at op level the GRU's n reads r through ops of its own (r * (h @ W_hnᵀ + b_hn)), so it is a row too
            expected = order + ["n"] if (kind, level) == ("gru", "op") else order
            assert gate_rows(source) == [expected] * 5, (level, direction)


def test_the_chain_draws_one_module_in_detail():
    loss, _ = unrolled_loss("lstm", 3, backward=False)
    g = viz.view(loss, level="cell", detail=1)
    assert [n.kind for n in g.nodes.values()].count("cell") == 2  # steps 0 and 2 are boxes
    opened = {n.kind for n in g.nodes.values() if n.scope[-1:] != ("t=0",) and "t=1" in n.scope}
    assert {"layer", "pointwise", "join", "input", "cell_out"} == opened  # x₁, gates, ⊙ and +, h₁
    focus = viz.view(loss, level="cell", detail=1, focus="forget_gate")
    assert {n.scope[1] for n in focus.nodes.values() if n.focus} == {"t=1"}  # one module, not every step


def test_the_loss_is_drawn_only_when_asked_at_cell_level():
    loss, _ = unrolled_loss("rnn", 3)
    hidden = viz.view(loss, level="cell")
    shown = viz.view(loss, level="cell", show_loss=True)
    assert not any(n.kind == "group" for n in hidden.nodes.values())
    assert [n.name for n in shown.nodes.values() if n.kind == "group"] == ["loss"]


def test_the_count_of_elided_steps():
    assert [viz.views.elided(n, 3, 2) for n in (5, 6, 7, 30)] == [0, 0, 2, 25]  # one step is drawn as itself
    loss, _ = unrolled_loss("rnn", 6)
    assert not any(n.kind == "ellipsis" for n in viz.view(loss, level="cell", elide=(3, 2)).nodes.values())


def test_long_chains_are_elided():
    loss, _ = unrolled_loss("lstm", 30)
    g = viz.view(loss, level="cell", elide=(3, 2))
    assert [n.scope[-1] for n in g.nodes.values() if n.kind == "cell"] == ["t=0", "t=1", "t=2", "t=28", "t=29"]
    (dots,) = [n for n in g.nodes.values() if n.kind == "ellipsis"]
    assert dots.scope[-1] == "t=3..27" and dots.note == "25 steps"
    with pytest.raises(ValueError, match="elide"):
        viz.view(loss, level="cell", elide=(0, 2))


def test_one_minus_is_one_circle():
    loss, _ = unrolled_loss("coupled", 2, backward=False)
    g = viz.view(loss, level="gate")
    ops = [n.op for n in g.nodes.values() if n.kind == "pointwise" and n.scope[1] == "t=1"]
    assert "1−" in ops and "neg" not in ops


def test_one_colour_scale_for_drawings_side_by_side():
    a, _ = unrolled_loss("rnn", 20)
    b, _ = unrolled_loss("lstm", 20, forget_bias=3.0)
    lo, hi = viz.grad_range(a, b)
    legends = [
        re.findall(r"<font[^>]*>([^<]+)</font></td>", viz.draw(t, level="cell", grad_scale=(lo, hi)).source)
        for t in (a, b)
    ]
    assert legends[0] == legends[1] and len(legends[0]) == 9
    with pytest.raises(ValueError, match="no"):
        viz.grad_range(unrolled_loss("rnn", 2, backward=False)[0])


# -- what the docs say a command draws -------------------------------------------------------------------


@needs_dot
def test_the_rnn_pages_command_draws_x_in_and_h_out(tmp_path):
    """docs/rnn.md: `tinygrad-rnn render rnn --steps 4 --level cell` draws the article's unrolled RNN."""
    command = re.search(r"`(tinygrad-rnn render rnn [^`]*)`", (ROOT / "docs" / "rnn.md").read_text(encoding="utf-8"))[1]
    args = shlex.split(command)[1:]
    done = subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = args[args.index("--out") + 1]
    texts = [t.text for t in ET.parse(tmp_path / out).getroot().iter(f"{SVG}text") if t.text]
    assert sorted(t for t in texts if t.startswith("x")) == [f"x{chr(0x2080 + k)}" for k in range(4)]
    assert sorted(t for t in texts if t.startswith("h")) == [f"h{chr(0x2080 + k)}" for k in range(4)]
    assert texts.count("A") == 4
    assert not [t for t in texts if "weight" in t or "@" in t or "loss" in t or "bias" in t]


def test_gradient_flow_draws_its_models_on_one_scale(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "demos" / "gradient_flow.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    if not (tmp_path / "rnn_graph.svg").exists():
        pytest.skip("Graphviz's dot is not installed")
    legends, titles = [], []
    for kind in ("rnn", "lstm", "gru"):
        texts = [t.text for t in ET.parse(tmp_path / f"{kind}_graph.svg").getroot().iter(f"{SVG}text") if t.text]
        legends.append([t for t in texts if re.fullmatch(r"[\d.e+-]+", t)][-9:])
        titles.append(texts[0])
    assert legends[0] == legends[1] == legends[2] and len(legends[0]) == 9
    assert all("T = 7 steps (2 of them as ⋯)" in title for title in titles)  # the smoke run's 7 steps
    for kind in ("rnn", "lstm", "gru"):  # and they are: steps 3 and 4 in one box
        texts = [t.text for t in ET.parse(tmp_path / f"{kind}_graph.svg").getroot().iter(f"{SVG}text") if t.text]
        assert any(re.fullmatch(r"t = 3 … 4\s+\(×2\)", t) for t in texts), kind
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "‖dL/dh_0‖ / ‖dL/dh_6‖" in summary  # the last step by its number, as the docs write it


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"labels": "short"}, "labels must be"),
        ({"direction": "up"}, "direction must be"),
        ({"level": "cell", "detail": 7}, "step 7 is not one of the 3"),
        ({"level": "op", "detail": 1}, "level='cell'"),
        ({"level": "cell", "elide": (0, 1)}, "each at least 1"),
        ({"level": "cell", "rolled": True, "elide": (1, 1)}, "unrolled"),
    ],
)
def test_bad_drawing_options_say_what_is_allowed(options, message):
    loss, _ = unrolled_loss("rnn", 3)
    with pytest.raises(ValueError, match=message):
        viz.draw(loss, **options)


def test_the_render_title_says_how_many_steps_are_drawn(tmp_path):
    from tinygrad_rnn import cli

    out = tmp_path / "long.dot"
    assert cli.main(["render", "rnn", "--steps", "30", "--level", "cell", "--elide", "3", "2", "--out", str(out)]) == 0
    assert "rnn, 30 steps (25 of them as ⋯), 1 layer: cell level" in out.read_text(encoding="utf-8")


def test_the_backward_figure_starts_at_a_one_node_loss():
    loss, _ = unrolled_loss("lstm", 2, loss="sum")
    g = viz.view(loss, backward=True)
    first = min((e for e in g.edges if e.order), key=lambda e: e.order)
    assert first.label == "1: dx = broadcast(dy, x.shape)" and g.nodes[first.dst].name == "loss"
    with pytest.raises(ValueError, match="loss must be"):
        unrolled_loss("lstm", 2, loss="mean")


def test_a_focus_that_is_neither_scopes_nor_two_tensors_is_a_type_error():
    loss, xs = unrolled_loss("rnn", 3)
    for focus in (loss, xs[0], (loss,), (loss, "forget_gate"), ()):
        with pytest.raises(TypeError, match="two tensors"):
            viz.view(loss, level="cell", focus=focus)
