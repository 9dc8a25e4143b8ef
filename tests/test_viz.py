"""The renderer's graph model and views (tinygrad_rnn/viz): checked on the model itself, no Graphviz needed."""

from __future__ import annotations

import gc
import re
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import topological_order, viz
from tinygrad_rnn.viz.examples import LAYERS, sequence_loss, unrolled_loss
from tinygrad_rnn.viz.model import step_of
from tinygrad_rnn.viz.views import number_backward

GATES = {  # the named tensors each cell makes in every step: (layer boxes, pointwise circles) at gate level
    "rnn": ({"h"}, set()),
    "lstm": ({"i", "f", "g", "o"}, {"c", "h"}),
    "peephole": ({"i", "f", "g", "o"}, {"c", "h"}),
    "coupled": ({"f", "g", "o"}, {"i", "c", "h"}),
    "gru": ({"r", "z", "n"}, {"h"}),
}


def by_step(g: viz.Graph) -> dict[tuple[str, ...], list[viz.Node]]:
    out: dict[tuple[str, ...], list[viz.Node]] = {}
    for n in g.nodes.values():
        s = step_of(n.scope)
        if s is not None:
            out.setdefault(s, []).append(n)
    return out


def step_clusters(c: viz.Cluster) -> list[viz.Cluster]:
    """The outermost clusters inside a time step (a step merged with the cell scope inside it counts)."""
    if step_of(c.scope) is not None:
        return [c]
    return [s for child in c.children for s in step_clusters(child)]


def tiny():
    a = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="a")
    b = tg.Tensor(np.array([3.0, -1.0]), requires_grad=True, name="b")
    y = a * b
    y.name = "y"
    return a, b, (y + 1.0).sum()


# -- the traced model --------------------------------------------------------------------------------


def test_trace_copies_the_graph_in_forward_order():
    a, b, loss = tiny()
    g = viz.trace(loss)
    assert [n.kind for n in g.nodes.values()] == ["input", "input", "op", "const", "op", "op"]
    assert [n.op for n in g.nodes.values() if n.kind == "op"] == ["mul", "add", "sum"]
    assert list(g.nodes) == [f"n{k}" for k in range(6)]  # ids from positions, never from id()
    position = {nid: k for k, nid in enumerate(g.nodes)}
    assert len(g.edges) == 5 and all(position[e.src] < position[e.dst] for e in g.edges)
    assert g.nodes[g.id_of(a)].name == "a" and g.roots == (g.id_of(loss),)
    assert g.nodes[g.id_of(loss)].value.values == (3.0,)  # (1·3 + 1) + (2·(-1) + 1): tiny tensors keep values
    with pytest.raises(KeyError, match="not part of the drawn graph"):
        g.id_of(tg.Tensor([1.0]))


def test_summaries_and_gradients():
    a, b, loss = tiny()
    loss.backward(retain_grads=True)
    g = viz.trace(loss)
    y = g.nodes[g.id_of(loss)]
    assert y.grad.values == (1.0,)
    assert g.nodes[g.id_of(a)].grad.values == (3.0, -1.0)  # d(sum(a*b+1))/da = b
    big = viz.Summary.of(np.arange(10.0))
    assert big.values is None and (big.mean, big.lo, big.hi) == (4.5, 0.0, 9.0)
    assert big.norm == pytest.approx(np.sqrt(285.0))


def test_drawing_changes_nothing_in_the_recorded_graph():
    def grads(draw_first: bool):
        loss = sequence_loss("lstm", 3, backward=False)
        if draw_first:
            viz.draw(loss, level="gate", backward=True)
        loss.backward()
        return loss
        # (the parameters are fresh each time: same seed)

    drawn, plain = grads(True), grads(False)
    a, b = viz.trace(drawn), viz.trace(plain)
    assert [n.grad for n in a.nodes.values()] == [n.grad for n in b.nodes.values()]


def test_a_released_graph_can_still_be_drawn():
    loss = sequence_loss("gru", 3)  # backward without retain_graph released the saved arrays
    assert viz.view(loss, backward=True).edges
    assert topological_order(loss)  # the order needs only the graph's shape, which stays
    with pytest.raises(tg.BackwardError):
        loss.backward()  # backward needs the saved arrays too


def test_backward_order_is_the_engines():
    loss = sequence_loss("lstm", 3, backward=False)
    loss.backward(retain_graph=True)
    g = viz.trace(loss)
    assert list(g.order) == [g.id_of(node) for node in topological_order(loss)]


def test_leaves_are_drawn_where_they_are_used():
    loss = sequence_loss("lstm", 3)
    g = viz.trace(loss)
    weights = {n.name: n for n in g.nodes.values() if n.kind == "param"}
    assert weights["weight_hh"].scope == ("lstm", "layer=0")  # shared by the steps: their common scope
    loss, xs = unrolled_loss("rnn", 3)
    g = viz.trace(loss)
    assert [g.nodes[g.id_of(x)].scope for x in xs] == [("rnn", f"t={t}", "rnncell") for t in range(3)]


def test_same_graph_same_model_and_text():
    first, second = sequence_loss("peephole", 3), sequence_loss("peephole", 3)
    assert viz.view(first, level="gate") == viz.view(second, level="gate")
    assert viz.draw(first).source == viz.draw(second).source
    assert not re.search(r"0x[0-9a-f]{6,}|\b\d{9,}\b", viz.draw(first).source)  # no addresses or id()s


# -- unrolled structure ------------------------------------------------------------------------------


@pytest.mark.parametrize("level", viz.LEVELS)
def test_one_cluster_per_time_step_in_order(level):
    g = viz.view(sequence_loss("lstm", 5), level=level)
    assert [step_of(c.scope)[-1] for c in step_clusters(g.scope_tree())] == [f"t={t}" for t in range(5)]
    g = viz.view(unrolled_loss("rnn", 12)[0], level=level)  # a hand-written loop: t=10 comes after t=9
    assert [step_of(c.scope)[-1] for c in step_clusters(g.scope_tree())] == [f"t={t}" for t in range(12)]


@pytest.mark.parametrize("level", viz.LEVELS)
def test_every_step_is_drawn_identically(level):
    """Inside each step the same nodes in the same order (step 0 also has the initial state h_0, c_0)."""
    for kind in LAYERS:
        steps = list(by_step(viz.view(sequence_loss(kind, 5), level=level)).items())

        def signature(s, nodes):
            step = s[-1].removeprefix("t=")  # a step's own piece of the layer's input, [k] in step k, is [t]
            own = [(n.name or "").replace(f"[{step}]", "[t]").replace(f"_{step}", "_t") for n in nodes]
            return [
                (n.scope[len(s) :], n.kind, n.op, name) for n, name in zip(nodes, own, strict=True) if n.kind != "const"
            ]

        middle = [signature(s, nodes) for s, nodes in steps[1:-1]]
        assert middle[0] and all(sig == middle[0] for sig in middle), kind
        assert signature(*steps[0]) == middle[0], kind


def test_a_cluster_per_layer_with_its_steps():
    g = viz.view(sequence_loss("gru", 3, layers=2), level="cell")
    (lstm,) = g.scope_tree().children
    assert [c.scope for c in lstm.children] == [("gru", "layer=0"), ("gru", "layer=1")]
    assert all(len(step_clusters(layer)) == 3 for layer in lstm.children)


def test_op_level_has_every_gate_scope_in_every_step():
    g = viz.view(sequence_loss("lstm", 3))
    gates = {"input_gate", "forget_gate", "candidate", "cell_state", "output_gate"}
    for step in step_clusters(g.scope_tree()):
        assert {c.scope[-1] for c in step.children} == gates


@pytest.mark.parametrize("kind", list(LAYERS))
def test_gate_level_has_each_gate_in_each_step(kind):
    layers, pointwise = GATES[kind]
    for loss in (sequence_loss(kind, 3), unrolled_loss(kind, 3)[0]):
        steps = by_step(viz.view(loss, level="gate"))
        assert len(steps) == 3
        for nodes in steps.values():
            assert {n.name for n in nodes if n.kind == "layer"} == layers
            assert {n.name for n in nodes if n.kind == "pointwise" and n.name} == pointwise


def test_gate_level_boxes_take_the_articles_inputs():
    """Each LSTM layer box gets h_{t-1} and x_t; the peephole boxes also get c (i and f the old, o the new)."""
    for kind, peeping in (("lstm", set()), ("peephole", {"i", "f", "o"})):
        loss, xs = unrolled_loss(kind, 3)
        g = viz.view(loss, level="gate")
        into = g.parents()
        for t in (1, 2):
            boxes = {n.name: n for n in by_step(g)[(kind, f"t={t}")] if n.kind == "layer"}
            for name, box in boxes.items():
                sources = {g.nodes[e.src].name for e in into[box.id]}
                assert {"h", f"x_{t}"} <= sources
                assert ("c" in sources) == (name in peeping)


def test_cell_level_is_one_box_per_step():
    loss, xs = unrolled_loss("lstm", 4)
    g = viz.view(loss, level="cell")
    cells = [n for n in g.nodes.values() if n.kind == "cell"]
    assert len(cells) == 4 and all(n.name == "lstmcell" for n in cells)
    assert [n.name for n in g.nodes.values() if n.kind == "cell_in"] == [f"x_{t}" for t in range(4)]
    # from each step to the next: h_t from the step's drawn h_t, the cell state from its box, named
    assert [(e.src, e.dst, e.label) for e in g.edges if e.dst.startswith("cell_") and e.src != f"cell_in_{e.dst[-1]}"][
        :3
    ] == [("cell_0", "cell_out_0", ""), ("cell_out_0", "cell_1", ""), ("cell_0", "cell_1", "C")]
    carried = [(e.src, e.dst, e.label) for e in g.edges if e.src[-1] != e.dst[-1]]
    assert sorted(carried) == sorted(
        [(f"cell_out_{t}", f"cell_{t + 1}", "") for t in range(3)]
        + [(f"cell_{t}", f"cell_{t + 1}", "C") for t in range(3)]
    )
    assert [g.nodes[f"cell_out_{t}"].name for t in range(4)] == ["h"] * 4
    # a box shows the gradient of the step's h; an input node that of x_t
    h_last = viz.trace(loss)
    h_ids = [n for n in h_last.nodes.values() if n.name == "h"]
    assert cells[-1].grad == h_ids[-1].grad
    assert g.nodes["cell_in_0"].grad.norm == pytest.approx(np.linalg.norm(xs[0].grad))


def test_node_counts():
    def count(level, steps):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no size guard here
            return len(viz.view(sequence_loss("lstm", steps), level=level, max_nodes=None).nodes)

    assert count("cell", 20) < 80
    for level in viz.LEVELS:  # linear in T: each step adds the same number of nodes
        n2, n4, n8 = count(level, 2), count(level, 4), count(level, 8)
        assert n8 - n4 == 2 * (n4 - n2) > 0
    assert count("op", 8) > count("gate", 8) > count("cell", 8)


# -- shared weights --------------------------------------------------------------------------------


def test_shared_weights_are_stubs_in_each_step():
    loss = sequence_loss("lstm", 4)
    g = viz.view(loss)
    # The layer transposes weight_hh once; every step uses that transpose, drawn as a stub in each step.
    (w,) = [n for n in g.nodes.values() if n.args.endswith("of weight_hh") and n.stub_of is None]
    stubs = [n for n in g.nodes.values() if n.stub_of == w.id]
    assert [step_of(n.scope)[-1] for n in stubs] == [f"t={t}" for t in range(4)]
    assert w.note == "shared by 4 steps" and not g.consumers()[w.id]  # no edges across the picture
    assert all(g.consumers()[s.id] for s in stubs)
    (leaf,) = [n for n in g.nodes.values() if n.name == "weight_hh"]
    weight_hh = dict(tg.nn.LSTM(3, 4, rng=np.random.default_rng(0)).named_parameters())["weight_hh_l0"]
    assert leaf.grad.norm > 0 and leaf.shape == weight_hh.shape  # the leaf keeps the total gradient
    assert [e.dst for e in g.edges if e.src == leaf.id] == [w.id]  # one edge: into its transpose


def test_a_split_is_one_node_feeding_each_gate_its_piece():
    loss = sequence_loss("lstm", 3)
    g = viz.view(loss)
    into = g.parents()
    splits = [n for n in g.nodes.values() if n.op == "split"]
    assert [step_of(n.scope)[-1] for n in splits] == ["t=0", "t=1", "t=2"]
    for n in splits:
        assert n.shape == (1, 16) and [shape for _, shape, _ in n.pieces] == [(1, 4)] * 4
        outs = {g.nodes[e.dst].name: e.out for e in g.edges if e.src == n.id}
        assert outs == {"i": 0, "f": 1, "g": 2, "o": 3}  # PyTorch's gate order
    # its gradient is the pieces' gradients joined, as the engine's backward joins them
    split_grad = splits[-1].grad
    pieces = [g.nodes[e.dst] for e in g.edges if e.src == splits[-1].id]
    assert split_grad is not None and split_grad.norm > 0
    assert all(p.kind == "op" for p in pieces) and len(pieces) == 4 and into[splits[-1].id]
    labels = [e.label for e in viz.view(loss, backward=True).edges]
    assert sum(bool(re.fullmatch(r"\d+: dx = dy·y·\(1 − y\)", s)) for s in labels) == 3 * 3  # 3 sigmoids a step
    assert sum(s.endswith(": dx = concatenate(dys, axis)") for s in labels) == 3  # the split's own rule
    # a layer hands step t its piece of the input projection: one unbind, a stub of piece t in step t
    (unbind,) = [n for n in g.nodes.values() if n.op == "unbind" and n.stub_of is None]
    assert unbind.note == "a piece for each of 3 steps" and not g.consumers()[unbind.id]
    stubs = [n for n in g.nodes.values() if n.stub_of == unbind.id]
    assert [(step_of(n.scope)[-1], n.piece, n.shape) for n in stubs] == [(f"t={t}", t, (1, 16)) for t in range(3)]
    dot = viz.draw(loss).source
    assert "(x @ weight_ihᵀ + bias_ih + bias_hh)[2]" in dot  # step 2's stub


def test_a_split_used_outside_the_steps_or_twice_draws():
    x = tg.Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, name="x")
    a, b = x.chunk(2, axis=1)
    loss = (a * b + a).sum()
    loss.backward(retain_grads=True)
    g = viz.view(loss)
    (split,) = [n for n in g.nodes.values() if n.op == "split"]
    assert sorted(e.out for e in g.edges if e.src == split.id) == [0, 0, 1]
    np.testing.assert_allclose(split.grad.norm, np.linalg.norm(np.concatenate([a.grad, b.grad], axis=1)), rtol=1e-6)
    g = viz.view(loss, backward=True)
    labels = {(g.nodes[e.dst].op, e.label.split(": ")[1]) for e in g.edges if e.label}
    assert {("mul", "da = dy·b"), ("mul", "db = dy·a")} <= labels  # each op's rule, in its own variables
    assert ("split", "dx = concatenate(dys, axis)") in labels  # the split's: the pieces' dy, joined


def test_pieces_are_drawn_with_their_names_grads_and_cuts():
    x = tg.Tensor(np.arange(12.0).reshape(2, 6), requires_grad=True, name="x")
    rows = x.unbind(0)
    a, b, c = rows[1].chunk(3)  # a piece of a piece
    b.name = "b"
    (b * c).sum().backward(retain_grads=True)
    into = (g := viz.view((b * c).sum())).parents()
    (mul,) = [n for n in g.nodes.values() if n.op == "mul"]
    assert viz.views.formula(g, mul.id, into) == "b·(x[1][..., 4:6])"  # a piece of a piece
    # a piece drawn by itself: its node stands for the split's input, whose gradient is all the
    # pieces' joined (a's is zero), whichever of them are drawn
    drawn = viz.view(b)
    (split,) = [n for n in drawn.nodes.values() if n.op == "split"]
    joined = np.concatenate([np.zeros(2), b.grad, c.grad])
    assert split.grad is not None and split.grad.norm == pytest.approx(float(np.linalg.norm(joined)))
    assert split.pieces[1][2] == "b" and np.array_equal(b.grad, c.data)  # b's own name and gradient
    # a detached piece is drawn as a cut from its split, even once the piece itself is gone
    with tg.keep_values():
        p, q = x.chunk(2, axis=1)
    d = p.detach()
    del p
    g = viz.view((q * d).sum())
    (cut,) = [e for e in g.edges if e.kind == "cut"]
    assert g.nodes[cut.src].op == "split" and cut.out == 0
    g = viz.view(d)  # the split alive (q holds it) but not drawn: a ghost with the piece's value
    (ghost,) = [n for n in g.nodes.values() if n.kind == "cut"]
    assert ghost.value.lo == 0.0 and ghost.value.hi == 8.0  # columns 0..2 of x: 0, 1, 2, 6, 7, 8


def test_rolled_views_name_each_steps_piece_t():
    for level in viz.LEVELS:
        dot = viz.draw(sequence_loss("lstm", 3), level=level, rolled=True).source
        # at cell level the step's piece of the input projection is the article's x_t
        assert ("xₜ" if level == "cell" else "(x @ weight_ihᵀ + bias_ih + bias_hh)[t]") in dot, level
        assert "[2]" not in dot and "unbind(" not in dot, level


def test_gathered_outputs_end_in_sinks():
    g = viz.view(sequence_loss("rnn", 4))
    (stack,) = [n for n in g.nodes.values() if n.op == "stack" and n.kind == "op"]
    sinks = [n for n in g.nodes.values() if n.kind == "sink"]
    assert [n.stub_of for n in sinks] == [stack.id] * 3  # steps 0..2; the last step's edge is real
    feeders = {step_of(g.nodes[e.src].scope) for e in g.edges if e.dst == stack.id}
    assert feeders == {("rnn", "layer=0", "t=3")}


# -- rolled ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", viz.LEVELS)
def test_rolled_is_one_step_with_loops(level):
    loss = sequence_loss("lstm", 5)
    unrolled, rolled = viz.view(loss, level=level), viz.view(loss, level=level, rolled=True)
    assert len(rolled.nodes) < len(unrolled.nodes)
    assert [c.scope[-1] for c in step_clusters(rolled.scope_tree())] == ["t=0..4"]
    loops = {e.label for e in rolled.edges if e.kind == "loop"}
    assert {"h ×5", "C ×5"} <= loops  # the cell state by the article's name


def test_rolled_cell_is_the_articles_first_figure():
    loss, xs = unrolled_loss("rnn", 4)
    g = viz.view(loss, level="cell", rolled=True)
    kinds = [n.kind for n in g.nodes.values()]
    assert kinds == ["cell_in", "cell", "cell_out"]  # x_t in, A, h_t out: the loss only when asked
    assert [n.kind for n in viz.view(loss, level="cell", rolled=True, show_loss=True).nodes.values()][-1] == "group"
    assert g.nodes["cell_in_3"].name == "x_t"  # x_0 .. x_3 merged
    (loop,) = [e for e in g.edges if e.kind == "loop"]
    assert (loop.src, loop.dst, loop.label) == ("cell_out_3", "cell_3", "h ×4")  # from h_t back into A


# -- focus -------------------------------------------------------------------------------------------


def test_focus_on_a_gate():
    g = viz.view(sequence_loss("lstm", 3), level="gate", focus="forget_gate")
    assert {n.name for n in g.nodes.values() if n.focus} == {"f"}
    assert sum(n.focus for n in g.nodes.values()) == 3
    assert all(e.focus == (g.nodes[e.src].focus or g.nodes[e.dst].focus) for e in g.edges)
    both = viz.view(sequence_loss("lstm", 3), level="gate", focus=("input_gate", "candidate"))
    assert {n.name for n in both.nodes.values() if n.focus} == {"i", "g"}
    with pytest.raises(ValueError, match="forget_gate"):  # a typo lists the scopes that exist
        viz.view(sequence_loss("lstm", 2), focus="forgot_gate")


@pytest.mark.parametrize("level", viz.LEVELS)
def test_focus_on_the_path_between_two_tensors(level):
    loss, xs = unrolled_loss("rnn", 3)
    g = viz.view(loss, level=level, focus=(loss, xs[0]))
    on = {nid for nid, n in g.nodes.items() if n.focus}
    x0 = next(nid for nid, n in g.nodes.items() if g.id_of(xs[0]) in n.members)
    x1 = next(nid for nid, n in g.nodes.items() if g.id_of(xs[1]) in n.members)
    assert x0 in on and x1 not in on
    assert all(e.focus == (e.src in on and e.dst in on) for e in g.edges)
    with pytest.raises(ValueError, match="no path"):
        viz.view(loss, focus=(xs[1], xs[0]))
    with pytest.raises(TypeError):
        viz.view(loss, focus=(loss, "forget_gate"))


# -- backward ----------------------------------------------------------------------------------------


def test_backward_view_numbers_edges_in_the_engines_order():
    a, b, loss = tiny()
    g = viz.view(loss, backward=True)
    labels = sorted((e.order, e.label) for e in g.edges if e.order is not None)
    assert [label for _, label in labels] == [
        "1: dx = broadcast(dy, x.shape)",  # each op's own rule (ops.py), in the op's own variables,
        "2: da = dy",  # which its node states (y = a + b): each step of the chain rule checkable by hand
        "3: da = dy·b",
        "4: db = dy·a",
    ]
    source = viz.draw(loss, backward=True, labels="names").source
    assert "y = x.sum(axis)" in source and "y = a + b" in source and "y = a·b" in source
    const = next(e for e in g.edges if g.nodes[e.src].kind == "const")
    assert const.order is None and const.label == ""  # no gradient flows into a constant


def test_backward_view_at_coarse_levels_and_one_root_only():
    loss = sequence_loss("lstm", 3)
    g = viz.view(loss, level="gate", backward=True)
    numbers = {int(e.label) for e in g.edges if e.order is not None}
    assert numbers == set(range(1, len(numbers) + 1))  # an op edge drawn as several edges keeps one number
    with pytest.raises(ValueError, match="one tensor"):
        number_backward(viz.trace(loss, sequence_loss("rnn", 2)))


# -- truncated BPTT ------------------------------------------------------------------------------------


def detached_pair():
    cell = tg.nn.RNNCell(2, 3, rng=np.random.default_rng(0))
    x = tg.Tensor(np.ones((1, 2), dtype=np.float32), name="x")
    with tg.scope("t=0"):
        h0 = cell(x)
    cut = h0.detach()
    with tg.scope("t=1"):
        h1 = cell(x, cut)
    return h0, h1


def test_detach_is_drawn_as_a_cut():
    h0, h1 = detached_pair()
    g = viz.view(h1)  # the first chunk is not drawn: a ghost of h0 stands for it
    (cut,) = [e for e in g.edges if e.kind == "cut"]
    assert g.nodes[cut.src].kind == "cut" and g.nodes[cut.src].name == "h"
    both = viz.view(h0, h1)  # both chunks drawn: the cut joins the real h0 to its detached copy
    (cut,) = [e for e in both.edges if e.kind == "cut"]
    assert cut.src == both.id_of(h0)
    assert any(e.kind == "cut" for e in viz.view(h1, level="cell").edges)


# -- size guard ----------------------------------------------------------------------------------------


def test_size_guard_switches_to_a_coarser_level():
    loss = sequence_loss("lstm", 28)  # 440 nodes at op level
    with pytest.warns(viz.GraphTooLargeWarning, match="max_nodes=None") as caught:
        g = viz.view(loss)
    assert g.level == "gate" and len(caught) == 1 and "'op'" in str(caught[0].message)
    with pytest.warns(viz.GraphTooLargeWarning) as caught:
        g = viz.view(loss, max_nodes=100)
    assert g.level == "cell" and len(caught) == 2
    with pytest.warns(viz.GraphTooLargeWarning, match="coarsest"):
        assert viz.view(loss, level="cell", max_nodes=10).level == "cell"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert viz.view(loss, max_nodes=None).level == "op"


def test_bad_arguments():
    loss = sequence_loss("rnn", 2)
    with pytest.raises(ValueError, match="level"):
        viz.view(loss, level="neuron")
    with pytest.raises(ValueError, match="at least one"):
        viz.trace()
    with pytest.raises(TypeError, match="not a Tensor"):
        viz.trace(np.ones(3))


def test_cut_is_drawn_after_the_previous_chunk_is_freed():
    """The usual truncated-BPTT loop drops the previous chunk's graph; the cut is still drawn, named."""
    import gc

    h0, h1 = detached_pair()
    del h0
    gc.collect()
    g = viz.view(h1)
    (cut,) = [e for e in g.edges if e.kind == "cut"]
    assert g.nodes[cut.src].kind == "cut" and g.nodes[cut.src].name == "h"


def test_layer_state_detached_between_chunks_is_drawn_as_a_cut():
    lstm = tg.nn.LSTM(3, 4, rng=np.random.default_rng(0))
    x = tg.Tensor(np.random.default_rng(1).standard_normal((2, 1, 3)).astype(np.float32))
    _, state = lstm(x)
    state = tg.nn.detach_state(state)  # the previous chunk's graph is dropped here
    output, _ = lstm(x, state)
    cuts = [e for e in viz.view(output.sum()).edges if e.kind == "cut"]
    assert len(cuts) == 2  # h_0 and c_0 of the second chunk


def test_a_reshape_after_the_steps_is_drawn_in_its_step():
    """h_t.unsqueeze(0) after a loop, gathered by tg.cat: each reshape is drawn in the step of its h_t."""
    cell, x = tg.nn.RNNCell(3, 4, rng=np.random.default_rng(0)), tg.Tensor(np.ones((3, 2, 3), dtype=np.float32))
    h, hs = None, []
    for t in range(3):
        with tg.scope(f"t={t}"):
            h = cell(x[t], h)
        hs.append(h)
    g = viz.view(tg.cat([h.unsqueeze(0) for h in hs]).sum())
    reshapes = [n for n in g.nodes.values() if n.op == "reshape"]
    assert [step_of(n.scope)[-1] for n in reshapes] == ["t=0", "t=1", "t=2"]


@pytest.mark.parametrize("gather", ["stack", "unsqueeze and cat"])
def test_gathering_input_leaves_before_a_layer_draws(gather):
    """Input leaves gathered before a layer, by tg.stack or as a reshape of each leaf and a cat: found in review."""
    xs = [tg.Tensor(np.ones((1, 3), dtype=np.float32) * t, name=f"x{t}", requires_grad=True) for t in range(3)]
    x = tg.stack(xs) if gather == "stack" else tg.cat([x.unsqueeze(0) for x in xs])
    out, _ = tg.nn.LSTM(3, 4, rng=np.random.default_rng(0))(x)
    loss = out[-1].sum()
    loss.backward(retain_grads=True)
    for level in viz.LEVELS:
        assert viz.view(loss, level=level).nodes
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    assert len(viz.trace(x.reshape(-1).sum()).nodes) == 3


def test_focus_between_the_loss_and_a_layers_input_or_weight():
    """A layer's input and weight_hh reach the steps through shared nodes drawn as stubs."""
    lstm = tg.nn.LSTM(3, 4, rng=np.random.default_rng(0))
    x = tg.Tensor(np.random.default_rng(1).standard_normal((3, 2, 3)).astype(np.float32), requires_grad=True)
    out, _ = lstm(x)
    loss = out.sum()
    for source in (x, lstm.weight_hh_l0):
        g = viz.view(loss, focus=(loss, source))
        focused = {n.id for n in g.nodes.values() if n.focus}
        assert g.id_of(source) in focused and g.id_of(loss) in focused
        assert {step_of(g.nodes[nid].scope)[-1] for nid in focused if step_of(g.nodes[nid].scope)} == {
            "t=0",
            "t=1",
            "t=2",
        }


def test_a_drawing_is_freed_by_reference_counting_alone():
    """Drawing makes no reference cycle: nothing is left for the garbage collector to find."""
    loss, xs = unrolled_loss("lstm", 3)
    views = [{}, {"level": "gate"}, {"level": "cell", "detail": 1}, {"rolled": True, "backward": True}]
    views += [{"level": "cell", "elide": (1, 1)}, {"focus": "forget_gate"}, {"focus": (loss, xs[0])}]
    viz.draw(loss)  # what is made once (imports, caches) is made now
    gc.collect()
    gc.disable()
    try:
        for options in views:
            viz.draw(loss, **options).source
            assert gc.collect() == 0, options
    finally:
        gc.enable()
