"""The explorer: one HTML page in which a learner clicks through a real graph's forward and backward pass.

    with tg.keep_values():                                  # every op keeps its output, for the values
        loss = ...                                          # the forward pass
    loss.backward(retain_grads=True, retain_graph=True)     # every tensor keeps its gradient, every op its
    page = tg.viz.explore(loss)                             # saved arrays; in Jupyter `page` shows inline
    page.save("lstm.html")                                  # one file: opens from disk, no server, no network

The page holds the drawing (`view` -> `to_dot` -> Graphviz's dot -Tsvg, as `draw` makes it), the numbers
(JSON, made here) and explorer.js and explorer.css, all inlined. Every number the page shows is computed
here from the recorded graph: each op's value (kept by keep_values), the gradient that arrived at it
(kept by retain_grads), and what its backward sent to each of its inputs. The engine keeps no gradient per
edge, so that one is made the way backward made it: the op's own `backward` run again on the gradient that
arrived and the arrays the op saved (which retain_graph keeps). Adding what each input received, in
backward's order, gives the running sums where gradients from several consumers meet. The browser only
lays the numbers out. Nothing here changes the recorded graph.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..core import Tensor, topological_order
from ..core.tensor import _dense  # a lazy gradient (speed/weight_grads.py) as an array
from .dot import scope_label, to_dot
from .draw import view
from .examples import sequence_loss
from .model import Graph, Summary, display_name, step_of
from .views import formula, forward_rule, local_derivative, pretty

MAX_ELEMENTS = 256  # an array of more elements goes into the page as its statistics only (the page says so)
SERIES = {"h": "‖dL/dh_t‖", "c": "‖dL/dc_t‖"}  # the tensors whose gradient norms the chart draws, per step

NO_DOT = (
    "Graphviz's dot program, which lays out the explorer's drawing, was not found, so the page has no drawing: install "
    "Graphviz (Debian/Ubuntu: sudo apt-get install graphviz) and explore again"
)
HOW = (
    "run the forward pass inside `with tg.keep_values():` (every op keeps its output), then "
    "`loss.backward(retain_grads=True, retain_graph=True)` (every tensor keeps its gradient, every op the arrays "
    "its backward needs), then tg.viz.explore(loss). For a small seeded model: tinygrad-rnn explore lstm --steps 5"
)


@dataclass
class Explorer:
    """One explorer page: `html` (the whole file), `data` (the numbers in it), `save(path)`; shows inline in Jupyter."""

    html: str = field(repr=False)
    data: dict = field(repr=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def __repr__(self) -> str:
        size = len(self.html.encode("utf-8")) / 1e6
        return f"Explorer({self.data['title']!r}, {len(self.data['forward'])} ops, {size:.2f} MB)"

    def _repr_html_(self) -> str:
        return f'<iframe srcdoc="{html.escape(self.html)}" style="width: 100%; height: 640px; border: 0"></iframe>'


def explore(
    loss: Tensor,
    level: str = "op",
    max_nodes: int | None = 400,
    title: str | None = None,
    max_elements: int = MAX_ELEMENTS,
    labels: str = "names",
) -> Explorer:
    """The explorer page of the graph that computed `loss` (backpropagated as the module docstring shows).

    level, max_nodes, labels: as `draw` (above max_nodes a coarser level is drawn, with a warning); the steps
    still go op by op, each lighting the box that holds its op. max_elements: arrays of more elements are
    kept as statistics only. Raises ValueError, saying what to run, if values, gradients or saved arrays are
    missing. Graphviz's dot lays out the drawing; without it the page has the steps, panels and chart but no
    drawing, and a warning says so.
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"explore: expected the Tensor to explore (the loss), got a {type(loss).__name__}")
    if loss._ctx is None:
        raise ValueError(f"explore: the tensor is a leaf, made by no op, so there is no graph to explore; {HOW}")
    order = topological_order(loss)
    _check(order)
    v = view(loss, level=level, max_nodes=max_nodes, show_loss=True)
    g = v.op_graph()
    title = title or f"{display_name(g.nodes[g.roots[0]].name, ()) or 'the graph'}: {len(order)} ops, {v.level} level"
    data = _numbers(g, order, max_elements)
    data |= {"title": title, "level": v.level, "max_elements": max_elements, "boxes": _boxes(v, data["nodes"])}
    import graphviz  # here, not with the package: only drawings need it

    try:
        svg = _svg(v, labels)
    except graphviz.ExecutableNotFound:
        warnings.warn(NO_DOT, stacklevel=2)
        svg = f'<p class="note">{NO_DOT}</p>'
    return Explorer(_page(title, svg, data), data)


def _boxes(v: Graph, nodes: dict) -> dict[str, str]:
    """Link the drawing and the traced nodes: each node's `drawn` lists the boxes that stand for it (a weight:
    itself and its stub in each step; at gate level, the box its op was folded into); the result maps each box
    to the traced node a click on it opens (itself, what a stub copies, else the last it stands for)."""
    for node in nodes.values():
        node["drawn"] = []
    boxes = {}
    for box in v.nodes.values():
        members = [m for m in box.members or (box.stub_of or box.id,) if m in nodes]
        for m in members:
            if box.id not in nodes[m]["drawn"]:
                nodes[m]["drawn"].append(box.id)
        own = box.stub_of or box.id
        if own in nodes or members:
            boxes[box.id] = own if own in nodes else members[-1]
    return boxes


def example_loss(kind: str, steps: int, layers: int = 1, seed: int = 0) -> Tensor:
    """The loss of `tinygrad-rnn render`'s seeded model (`sequence_loss`), backpropagated so it can be explored."""
    loss = sequence_loss(kind, steps, layers=layers, seed=seed, backward=False)  # the forward pass keeps values
    loss.backward(retain_grads=True, retain_graph=True)
    return loss


def _check(order: list) -> None:
    """Raise, saying what to run, if an op kept no value, no gradient, or no saved arrays."""
    n = len(order)
    missing = [
        (sum(fn.values is None for fn in order), "kept no value (the forward pass ran outside tg.keep_values())"),
        (sum(fn.grads is None for fn in order), "kept no gradient (no backward with retain_grads=True ran)"),
        (sum(fn.released for fn in order), "released their saved arrays (backward ran without retain_graph=True)"),
    ]
    said = [f"{k} of the {n} ops {what}" for k, what in missing if k]
    if said:
        raise ValueError(f"explore: {'; '.join(said)}. To explore a graph, {HOW}")


# -- the numbers -------------------------------------------------------------------------------------------


def _num(v: float) -> float | str:
    """A number for the page: float32's precision (7 digits) is all an op's value has; nan and inf as text."""
    v = float(v)
    return float(f"{v:.7g}") if np.isfinite(v) else str(v)


def _array(a: np.ndarray | None, max_elements: int) -> dict | None:
    """An array as the page shows it: shape, statistics, and (up to max_elements) the values, row-major."""
    if a is None:
        return None
    a = np.asarray(a)
    s = Summary.of(a)
    out = {"shape": list(a.shape), "size": int(a.size)}
    out |= {"min": _num(s.lo), "max": _num(s.hi), "mean": _num(s.mean), "norm": _num(s.norm)}
    if a.size <= max_elements:
        out["data"] = [_num(x) for x in np.asarray(a, dtype=np.float64).ravel()]
    return out


def _numbers(g: Graph, order: list, max_elements: int) -> dict:
    """The page's JSON: nodes (traced ids -> what the panel shows), forward and backward orders, what each
    op's backward sent to each input (with the running sums where several meet), and the time steps."""
    into = g.parents()
    items: dict[str, object] = {}  # traced id -> the Function or leaf Tensor
    for fn in order:
        items[g.id_of(fn)] = fn
        for p in fn.parents:
            if isinstance(p, Tensor):
                items[g.id_of(p)] = p
    steps = g.steps()
    nodes = {}
    for nid, n in g.nodes.items():
        item = items.get(nid)
        value, grad = _arrays(item)
        name = display_name(n.name, n.scope if n.kind == "op" else ())
        step = step_of(n.scope)
        nodes[nid] = {
            "name": name or _formula(g, nid, into),
            "named": bool(name),
            "kind": n.kind,
            "op": n.op,
            "args": n.args,
            "rule": pretty(n.rule),
            "forward": forward_rule(n) if n.kind == "op" else "",
            "scope": [scope_label((part,)) for part in n.scope],
            "shape": list(n.shape),
            "dtype": n.dtype,
            "requires_grad": n.requires_grad,
            "value": _array(value, max_elements),
            "grad": _array(grad, max_elements),
            "inputs": [[e.src, e.out] for e in into[nid]],
            "pieces": [[index, piece] for index, _, piece in n.pieces],
            "step": None if step is None else steps.index(step),
        }
    backward = _backward(g, order, items, nodes, max_elements)
    return {
        "root": g.roots[0],
        "nodes": nodes,
        "forward": [g.id_of(fn) for fn in reversed(order)],
        "backward": backward,
        **_steps(g, steps),
    }


def _formula(g: Graph, nid: str, into: dict) -> str:
    """What an unnamed tensor is called in the panel: how it was computed, as deep as fits in 40 characters
    ('h @ weight_hhᵀ + …'), else its op."""
    for depth in (3, 2, 1):
        text = formula(g, nid, into, depth=depth)
        if len(text) <= 40 and text != "…":
            return text
    return g.nodes[nid].op or g.nodes[nid].kind


def _arrays(item) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The value and gradient of a traced node: a leaf's data and .grad; an op's output (an op with several
    outputs, split or unbind: its pieces and their gradients joined, as its input's shape)."""
    if item is None:  # the ghost of what a detached leaf was cut from
        return None, None
    if isinstance(item, Tensor):
        return item.data, item.grad
    value = None if item.values is None else item.values[0] if len(item.shapes) == 1 else item.join(list(item.values))
    grads = item.grads
    if grads is None or all(dy is None for dy in grads):
        return value, None
    return value, grads[0] if len(item.shapes) == 1 else _dense(item.backward(*grads)[0])


def _backward(g: Graph, order: list, items: dict, nodes: dict, max_elements: int) -> list[dict]:
    """For each op in backward's order: what its backward sent to each input (dx, from the op's own backward
    run on the gradient that arrived), and where an input receives from several consumers, its running sum."""
    sent: list[list[np.ndarray | None]] = []
    counts: dict[tuple[str, int | None], int] = {}  # (input, which output of it) -> how many contributions
    for fn in order:
        dxs = [None if dx is None else np.asarray(_dense(dx)) for dx in fn.backward(*fn.grads)]
        sent.append(dxs)
        for p, dx in zip(fn.parents, dxs, strict=True):
            if dx is not None:
                key = _key(g, p)
                counts[key] = counts.get(key, 0) + 1
    running: dict[tuple[str, int | None], tuple[np.ndarray, int]] = {}
    steps = []
    for fn, dxs in zip(order, sent, strict=True):
        nid = g.id_of(fn)
        sends = []
        for arg, (p, dx) in enumerate(zip(fn.parents, dxs, strict=True)):
            key = _key(g, p)
            send = {"to": key[0], "out": key[1], "arg": arg, "rule": local_derivative(g.nodes[nid], arg)}
            if dx is None:
                send["grad"] = None
            else:
                total, k = running.get(key, (None, 0))
                total, k = (dx if total is None else total + dx), k + 1
                running[key] = total, k
                send |= {"grad": _array(dx, max_elements), "k": k, "of": counts[key]}
                if counts[key] > 1:
                    send["sum"] = _array(total, max_elements)
            sends.append(send)
        steps.append({"node": nid, "sends": sends})
    for (to, out), (total, _) in running.items():  # a .grad that is not the sum of what arrived: say so
        grad = _arrays(items[to])[1] if out is None else items[to].grads[out]
        if grad is not None and not np.allclose(total, grad, rtol=1e-4, atol=1e-6 * (1 + np.abs(grad).max())):
            nodes[to]["grad_note"] = (
                "its .grad is not the sum of what this backward sent it: it also holds gradients of earlier "
                "backward calls (call zero_grad between them), or a hook changed it"
            )
    return steps


def _key(g: Graph, parent) -> tuple[str, int | None]:
    """(traced id, which output) of a parent entry: a leaf, or (node, k); k only for an op with several outputs."""
    if isinstance(parent, Tensor):
        return g.id_of(parent), None
    node, k = parent
    return g.id_of(node), k if len(node.shapes) > 1 else None


def _steps(g: Graph, steps: list[tuple[str, ...]]) -> dict:
    """The time steps (each with its h_t and c_t: the last op named h and c in it) and, per chain of steps (a
    layer, a direction), the gradient norm of h_t and c_t at each step: the chart's series."""
    chains = list(dict.fromkeys(s[:-1] for s in steps))
    last: dict[tuple[tuple[str, ...], str], str] = {}
    for nid, n in g.nodes.items():
        s = step_of(n.scope)
        if s is not None and n.kind == "op" and n.name in SERIES:
            last[s, n.name] = nid
    out_steps, series = [], []
    for s in steps:
        t = s[-1].removeprefix("t=")
        out_steps.append(
            {
                "label": scope_label(s),
                "t": int(t) if t.isdigit() else len(out_steps),
                "chain": chains.index(s[:-1]),
                **{name: last.get((s, name)) for name in SERIES},
            }
        )
    for c, chain in enumerate(chains):
        for name, label in SERIES.items():
            points = []
            for k, s in enumerate(out_steps):
                nid = s[name]
                if s["chain"] == c and nid is not None and g.nodes[nid].grad is not None:
                    points.append([k, s["t"], _num(g.nodes[nid].grad.norm)])
            if points:
                parts = tuple(p for p in chain if p.startswith("layer=") or p in ("forward", "reverse"))
                where = scope_label(parts) if len(chains) > 1 else ""  # which layer, when there are several
                series.append({"key": name, "label": f"{label} {where}".strip(), "chain": c, "points": points})
    return {"steps": out_steps, "series": series}


# -- the drawing and the page -------------------------------------------------------------------------------

# In the SVG dot writes, each node is a group whose <title> is its DOT name, each edge one whose title is
# "tail->head" (a gate in a step's table of gates is a port: "gates_0_1:n15"). They become data attributes
# the script finds the drawing by; the titles go (a browser would show them as tooltips).
_NODE = re.compile(r'<g id="node\d+" class="node">\s*<title>([^<]*)</title>')
_EDGE = re.compile(r'<g id="edge\d+" class="edge">\s*<title>([^<]*)</title>')
_CELL = re.compile(r'<g id="a_cell_([^"]+)"><a xlink:href="#"')
_DROP = re.compile(r"<title>[^<]*</title>\n?|<!--.*?-->\n?", re.S)
_TD = re.compile(r'<td port="([^"]+)"')


def _svg(v: Graph, labels: str) -> str:
    """The drawing as inline SVG, each node, gate and edge tagged with the DOT names of what it stands for."""
    import graphviz

    # a gate in a step's table of gates gets an id, which dot writes (for a cell with a link) as a group of its own
    source = _TD.sub(lambda m: f'{m[0]} id="cell_{m[1]}" href="#"', to_dot(v, labels=labels).source)
    svg = graphviz.Source(source).pipe(format="svg", encoding="utf-8")
    svg = svg[svg.index("<svg") :]
    names = set(v.nodes)

    def end(text: str) -> str:  # an edge's end: a node, or a gate in a table ("gates_0_1:n15" -> "n15")
        head, _, port = text.rpartition(":")
        return text if text in names or not head else port if port in names else head

    def edge(m: re.Match) -> str:
        src, _, dst = html.unescape(m[1]).partition("->")
        return f'<g class="edge" data-src="{html.escape(end(src))}" data-dst="{html.escape(end(dst))}">'

    svg = _NODE.sub(lambda m: f'<g class="node" data-id="{m[1]}">' if m[1] in names else '<g class="table">', svg)
    svg = _EDGE.sub(edge, svg)
    svg = _CELL.sub(lambda m: f'<g class="node cell" data-id="{m[1]}"><a', svg)
    return _DROP.sub("", svg)


def _page(title: str, svg: str, data: dict) -> str:
    """The whole HTML file: the controls, the drawing, the side panel, the numbers, the script and its style."""
    here = resources.files(__package__)
    js, css = (here / "explorer.js").read_text(encoding="utf-8"), (here / "explorer.css").read_text(encoding="utf-8")
    numbers = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
{css}</style>
</head>
<body>
<header>
  <strong id="title">{html.escape(title)}</strong>
  <span class="group">
    <button id="prev" title="previous step (←)">◀ prev</button>
    <button id="next" title="next step (→)">next ▶</button>
    <span id="where" aria-live="polite"></span>
  </span>
  <span class="group">
    <button id="to-forward" title="to the first forward step (Home)">forward</button>
    <button id="to-backward" title="to the first backward step (B)">backward</button>
  </span>
  <label class="group" id="time">time step
    <input id="slider" type="range" min="0" value="0"> <span id="t"></span></label>
  <span class="group">
    <button id="zoom-out" title="smaller (-)">−</button>
    <button id="zoom-fit" title="fit the width (0)">fit</button>
    <button id="zoom-in" title="larger (+)">+</button>
  </span>
</header>
<main>
  <section id="chart"></section>
  <div id="graph">
{svg}
  </div>
  <aside>
    <section id="step"></section>
    <section id="node"></section>
  </aside>
</main>
<script type="application/json" id="explorer-data">{numbers}</script>
<script>
{js}</script>
</body>
</html>
"""
