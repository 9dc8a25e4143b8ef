"""The DOT the renderer writes: styles, escaping, determinism, layout through `dot`, and golden files.

Golden files live in tests/golden/. After an intended change to the drawings, regenerate them with
    UPDATE_GOLDEN=1 python -m pytest tests/test_viz_dot.py
and look at the diff before committing it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.viz.dot import HIGHLIGHT, GradScale, scope_label
from tinygrad_rnn.viz.examples import LAYERS, sequence_loss, unrolled_loss

GOLDEN = Path(__file__).parent / "golden"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def attrs(source: str, name: str) -> str:
    """The attribute text of node `name` in DOT source: its own line, or its row in a table of gates."""
    match = re.search(rf"^\t+{re.escape(name)} \[(.*)\]$", source, re.M)
    match = match or re.search(rf'<td port="{re.escape(name)}"([^>]*)>', source)
    assert match, f"node {name} not in the DOT text"
    return match[1]


def dot_name(source: str, name: str) -> str:
    """The DOT node that draws `name`: itself, or the table of gates that has it as a row (a port)."""
    for line in source.splitlines():
        if f'<td port="{name}"' in line:
            return line.split()[0]
    return name


def svg_texts(dot: str) -> list[str]:
    svg = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=True).stdout
    root = ET.fromstring(svg)
    return [el.text for el in root.iter("{http://www.w3.org/2000/svg}text") if el.text]


# -- text ----------------------------------------------------------------------------------------


def test_same_graph_same_text_in_another_process():
    """No id(), no set or hash order: a fresh interpreter with another hash seed writes the same DOT."""
    code = (
        "from tinygrad_rnn import viz; from tinygrad_rnn.viz.examples import unrolled_loss, sequence_loss\n"
        "a, _ = unrolled_loss('rnn', 3); b, _ = unrolled_loss('lstm', 3)\n"
        "print(viz.draw(a, b, level='gate').source + viz.draw(sequence_loss('gru', 2, layers=2)).source)"
    )
    texts = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert texts[0] == texts[1] and "cluster" in texts[0]


def test_scope_labels():
    assert scope_label(("t=3",)) == "t = 3"
    assert scope_label(("t=0..9",)) == "t = 0 … 9  (×10)"
    assert scope_label(("layer=1", "forget_gate")) == "layer 1 · forget gate"


def test_article_colours_without_gradients():
    loss, _ = unrolled_loss("lstm", 2, backward=False)
    g = viz.view(loss, level="gate")
    source = viz.to_dot(g).source
    boxes = [nid for nid, n in g.nodes.items() if n.kind == "layer"]
    circles = [nid for nid, n in g.nodes.items() if n.kind == "pointwise"]
    assert len(boxes) == 8 and all(dot_name(source, b).startswith("gates_") for b in boxes)  # 4 gates, 2 steps
    assert all('bgcolor="#ffd966"' in attrs(source, b) for b in boxes)  # a gate is a yellow box
    assert all('fillcolor="#f4b6c2"' in attrs(source, c) and "shape=circle" in attrs(source, c) for c in circles)
    assert "legend" not in source and "blues9" not in source


def test_gradient_colours_and_legend():
    loss, xs = unrolled_loss("rnn", 12)
    g = viz.view(loss, level="cell")
    source = viz.to_dot(g).source
    assert "gradient norm (fill colour)" in source  # the legend, under the title
    scale = GradScale.of(g)
    colour = {
        nid: int(re.search(r"fillcolor=\"/blues9/(\d)\"", attrs(source, nid))[1]) for nid in ("cell_in_0", "cell_in_11")
    }
    assert colour["cell_in_0"] < colour["cell_in_11"]  # the gradient reaching x_0 is smaller: paler
    assert colour["cell_in_11"] == scale.colour(np.linalg.norm(xs[11].grad))


def test_grad_scale():
    scale = GradScale(-8, 0)
    assert [scale.colour(10.0**k) for k in (-12, -8, -4, 0, 3)] == [1, 1, 5, 9, 9]
    assert scale.colour(0.0) == 1 and scale.tick(5) == -4


def test_focus_highlights_and_dims():
    loss, _ = unrolled_loss("lstm", 2, backward=False)
    g = viz.view(loss, level="gate", focus="forget_gate")
    source = viz.to_dot(g).source
    for nid, n in g.nodes.items():
        assert (f'color="{HIGHLIGHT}"' in attrs(source, nid)) == n.focus


def test_backward_cut_and_loop_edges_are_styled():
    source = viz.draw(sequence_loss("lstm", 2), backward=True).source
    assert "dir=back" in source and "dx = dy·(1 − y²)" in source  # tanh's rule, in its own variables
    source = viz.draw(sequence_loss("lstm", 3), rolled=True).source
    assert re.search(r'label="h ×3"[^\]]*constraint=false', source)
    cell = tg.nn.RNNCell(2, 3, rng=np.random.default_rng(0))
    x = tg.Tensor(np.ones((1, 2), dtype=np.float32))
    with tg.scope("t=0"):
        h0 = cell(x)
    with tg.scope("t=1"):
        h1 = cell(x, h0.detach())
    assert 'label="✂ detach()"' in viz.draw(h1).source


def test_steps_are_kept_in_a_row():
    """An invisible edge from each step to the inputs of the next keeps stubs and x_t from jumping back."""
    loss = sequence_loss("lstm", 3)
    g, source = viz.view(loss), viz.draw(loss).source
    later = [n.id for n in g.nodes.values() if n.stub_of and n.kind != "sink" and "t=0" not in n.scope]
    assert len(later) == 2 * 2  # steps 1 and 2 each have two stubs: the input projection and weight_hh.T
    for stub in later:
        assert re.search(rf"-> {stub} \[style=invis\]", source), stub


@needs_dot
@pytest.mark.parametrize("level", viz.LEVELS)
def test_layout_runs_left_to_right(level):
    """Laid out by dot, every node of step t lies left of every node of step t+1 (two models drawn together)."""
    g = viz.view(unrolled_loss("lstm", 4)[0], unrolled_loss("rnn", 4)[0], level=level)
    plain = subprocess.run(["dot", "-Tplain"], input=viz.to_dot(g).source.encode(), capture_output=True, check=True)
    lines = [line.split() for line in plain.stdout.decode().splitlines()]
    source = viz.to_dot(g).source
    at = {line[1]: float(line[2]) for line in lines if line[0] == "node"}
    x = {nid: at[dot_name(source, nid)] for nid in g.nodes}
    spans = {}
    for s in g.steps():
        xs = [x[nid] for nid, n in g.nodes.items() if n.scope[: len(s)] == s]
        spans[s] = (min(xs), max(xs))
    assert list(spans) == [(m, f"t={t}") for m in ("lstm", "rnn") for t in range(4)]
    for model in ("lstm", "rnn"):
        row = [spans[(model, f"t={t}")] for t in range(4)]
        assert all(a[1] < b[0] for a, b in pairwise(row))


# -- through dot -------------------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("kind", list(LAYERS))
def test_every_level_and_view_renders(kind):
    for loss, xs in ((sequence_loss(kind, 3, layers=2), None), unrolled_loss(kind, 3)):
        for level in viz.LEVELS:
            for rolled in (False, True):
                focus = (loss, xs[0]) if xs else "layer=1"
                dot = viz.draw(loss, level=level, rolled=rolled, backward=rolled, focus=focus)
                assert dot.pipe(format="svg").startswith(b"<?xml")


@needs_dot
def test_any_name_renders_safely():
    """Names and scopes with quotes, braces, angle brackets, backslashes, newlines and DOT escapes."""
    nasty = ['say "hi"', "{braces} |pipe|", "<b>not html</b>", "back\\slash", "two\nlines", "\\N \\G \\l", "end\\"]
    x = tg.Tensor(np.ones(2), requires_grad=True, name=nasty[0])
    with tg.scope('scope "<x>"\\'), tg.scope("t=0"):
        y = x
        for name in nasty[1:]:
            y = y * 2.0
            y.name = name
    source = viz.draw(y.sum(), backward=True).source
    texts = svg_texts(source)
    joined = "\n".join(texts)
    for name in nasty:
        for line in name.split("\n"):
            assert line in joined, line
    assert 'scope "<x>"\\' in joined
    texts = svg_texts(viz.draw(y.sum(), level="gate", rolled=True).source)
    assert "<b>not html</b>" in "\n".join(texts)


@needs_dot
@pytest.mark.parametrize(
    ("name", "shown"),
    [("a\x00b", "a\\x00b"), ("a\ud800b", "a\ufffdb"), ("bell\x07 tab\t cr\r", "bell\\x07 tab\t cr\\r")],
    ids=["nul", "lone-surrogate", "control"],
)
def test_unprintable_characters_in_names_render(name, shown):
    """NUL (which ends dot's strings), the other control characters (which XML cannot hold: in the gate
    tables, the title and the SVG) and a lone surrogate (which UTF-8 cannot encode), in the names of
    tensors and scopes: drawn, shown as Python writes them or as U+FFFD."""
    x = tg.Tensor(np.ones((1, 2)), requires_grad=True, name=name)
    with tg.scope(name), tg.scope("t=0"):
        with tg.scope("forget_gate"):
            f = (x * 2.0).sigmoid()
        with tg.scope("input_gate"):
            i = (x * 3.0).sigmoid()
    f.name, i.name = name, "i"
    loss = (f * i).sum()
    loss.name = name
    loss.backward(retain_grads=True)
    for level in viz.LEVELS:
        texts = svg_texts(viz.draw(loss, level=level, title=name).source)  # the SVG parses as XML
        assert any(shown in text for text in texts), (level, texts)


# -- golden files ------------------------------------------------------------------------------------


def golden_tiny():
    a = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="a")
    b = tg.Tensor(np.array([3.0, -1.0]), requires_grad=True, name="b")
    with tg.keep_values():  # label every node with its value
        loss = (a * b + 1.0).sum()
    loss.name = "loss"
    loss.backward(retain_grads=True)
    return viz.draw(loss, backward=True)


GOLDEN_CASES = {
    "tiny_backward": golden_tiny,
    "rnn_gate_2_steps": lambda: viz.draw(unrolled_loss("rnn", 2, backward=False)[0], level="gate"),
    "lstm_op_2_steps": lambda: viz.draw(sequence_loss("lstm", 2)),
    "lstm_cell_rolled": lambda: viz.draw(sequence_loss("lstm", 3), level="cell", rolled=True),
    "gru_gate_focus": lambda: viz.draw(sequence_loss("gru", 2), level="gate", focus="update_gate"),
}


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_golden_dot(name):
    path = GOLDEN / f"{name}.dot"
    source = GOLDEN_CASES[name]().source
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(source, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 python -m pytest tests/test_viz_dot.py"
    assert source == path.read_text(encoding="utf-8"), f"{name} drew differently from {path} (see module docstring)"


@needs_dot
@pytest.mark.parametrize("backward", [False, True])
def test_the_reverse_direction_of_a_bidirectional_layer_is_drawn_in_the_order_of_t(backward):
    """Its steps run from t = T-1 down to 0: written end to start, they still stand left to right by t."""
    import json

    tg.manual_seed(0)
    lstm = tg.nn.LSTM(3, 4, bidirectional=True)
    out, _ = lstm(tg.Tensor(np.random.default_rng(0).standard_normal((4, 1, 3))))
    loss = (out[-1] ** 2).sum()
    loss.backward(retain_grads=True)
    source = viz.to_dot(viz.view(loss, level="cell", backward=backward)).source
    layout = json.loads(subprocess.run(["dot", "-Tjson"], input=source.encode(), capture_output=True).stdout)
    objects = layout["objects"]
    chains = {}  # direction -> [(t, left edge of the step's box)]
    for box in objects:
        if box.get("label", "").startswith("t = ") and "bb" in box:
            inside = " ".join(objects[k].get("label", "") for k in box.get("nodes", []))
            direction = "reverse" if "reverse" in inside else "forward"
            chains.setdefault(direction, []).append((int(box["label"][4:]), float(box["bb"].split(",")[0])))
    assert sorted(chains) == ["forward", "reverse"]
    for direction, steps in chains.items():
        assert [t for t, _ in sorted(steps, key=lambda step: step[1])] == [0, 1, 2, 3], direction


def test_a_named_activation_outside_any_scope_is_drawn():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x.tanh()
    h.name = "h"
    assert "tanh" in viz.to_dot(viz.view(h.sum())).source
