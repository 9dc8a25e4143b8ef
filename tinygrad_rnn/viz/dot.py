"""The DOT writer: a view of the graph model (views.py) -> a graphviz.Digraph. It only reads the model.

Looks follow "Understanding LSTM Networks": time runs left to right (or, with direction="TB", top
down), one cluster per time step, a step's gates one table in the article's order; at gate level
the layers are yellow boxes and the pointwise ops pink circles; at cell level each step is the
module A (green) with x_t (blue) in and h_t (purple) out, a plain chain of them drawn as the
article's columns (x_t below, h_t above). When the graph was
backpropagated with `retain_grads=True`, nodes are instead filled by log10 of their gradient's norm
(Graphviz's 'blues9' scheme, pale = small), with a legend, so a vanishing gradient fades visibly.

Every piece of text from the graph (names, scopes, op arguments) goes through `_text` (DOT labels)
or `_html` (the HTML-like tables of gates and the title), which make backslashes, quotes, angle
brackets and newlines literal, and show what neither DOT nor XML can carry as `_printable` writes
it (NUL as \\x00, a lone surrogate as U+FFFD), so any name renders safely.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from .model import Cluster, Edge, Graph, Node, Summary, display_name, natural, step_of
from .views import forward_rule, node_formula

if TYPE_CHECKING:  # graphviz is imported when a drawing is made, not with the package
    import graphviz

PALETTE = "blues9"  # a Graphviz colour scheme: colours 1 (palest) to 9 (darkest)
DIM = "#d9d9d9"
HIGHLIGHT = "#d62728"
SYMBOLS = {"add": "+", "mul": "×", "div": "÷", "neg": "−", "sigmoid": "σ", "matmul": "@", "sum": "Σ", "pow": "^"}

STYLES: dict[str, dict[str, str]] = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#eef2f7"},
    "param": {"shape": "box", "style": "filled", "fillcolor": "#d9ead3", "peripheries": "2"},
    "input": {"shape": "box", "style": "filled", "fillcolor": "#dbe9f6"},
    "const": {"shape": "plaintext", "fontcolor": "#666666", "fontsize": "9"},
    "stub": {"shape": "box", "style": "dashed", "fontsize": "9", "fontcolor": "#555555", "height": "0.2"},
    "cut": {"shape": "box", "style": "dashed", "color": HIGHLIGHT, "fontcolor": HIGHLIGHT},
    "layer": {"shape": "box", "style": "filled", "fillcolor": "#ffd966"},
    "pointwise": {"shape": "circle", "style": "filled", "fillcolor": "#f4b6c2", "margin": "0.02"},
    "cell": {"shape": "box", "style": "rounded,filled", "fillcolor": "#b7e1cd", "fontsize": "12"},
    "cell_in": {"shape": "ellipse", "style": "filled", "fillcolor": "#a6cee3", "margin": "0.02"},
    "cell_out": {"shape": "circle", "style": "filled", "fillcolor": "#cab2d6", "margin": "0.02"},
    "group": {"shape": "box", "style": "rounded,filled", "fillcolor": "#eeeeee"},
    "ellipsis": {"shape": "plaintext", "fontsize": "14"},
    "join": {"shape": "point", "width": "0.07", "color": "#555555"},
}
# The article's order of a cell's scopes (forget, input, candidate, cell state, output; GRU: reset,
# update, candidate): of the gates in a step's table, and of the boxes in a step (others keep theirs).
GATE_SCOPES = {"forget_gate": 1, "reset_gate": 1, "input_gate": 2, "update_gate": 2, "candidate": 3, "cell_state": 4}
GATE_SCOPES |= {"output_gate": 5, "hidden": 6}


@dataclass(frozen=True)
class GradScale:
    """Maps a gradient norm to a colour 1..9 on a log10 scale from 10**lo to 10**hi."""

    lo: int
    hi: int

    @classmethod
    def of(cls, g: Graph) -> GradScale | None:
        """The scale spanning the graph's gradients, or None if no op carries one (no retain_grads)."""
        if not any(n.grad is not None and n.kind not in ("param", "input", "const") for n in g.nodes.values()):
            return None
        logs = [math.log10(n.grad.norm) for n in g.nodes.values() if n.grad is not None and n.grad.norm > 0]
        if not logs:
            return cls(-1, 0)
        lo, hi = math.floor(min(logs)), math.ceil(max(logs))
        return cls(lo, max(hi, lo + 1))

    def colour(self, norm: float) -> int:
        if norm <= 0:
            return 1
        x = (math.log10(norm) - self.lo) / (self.hi - self.lo)
        return 1 + round(min(max(x, 0.0), 1.0) * 8)

    def tick(self, colour: int) -> float:
        """The log10 norm that colour k stands for."""
        return self.lo + (self.hi - self.lo) * (colour - 1) / 8


# What dot cannot read (NUL ends its strings) or XML cannot hold (the other control characters, in
# HTML-like labels and in the SVG written), and what UTF-8 cannot encode (a lone surrogate).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _printable(text: str) -> str:
    """text with each control character written as Python writes it ('\\x00', '\\r') and each lone
    surrogate or non-character as U+FFFD (�); tabs and newlines are kept."""

    def shown(m: re.Match) -> str:
        return "\ufffd" if m[0] >= "\ud800" else m[0].encode("unicode_escape").decode("ascii")

    return _UNPRINTABLE.sub(shown, text)


def _text(*lines: str) -> str:
    """A DOT label from lines of raw text: every character literal, lines joined by DOT's \\n."""
    import graphviz

    safe = (graphviz.escape(_printable(line.replace("\r\n", "\n"))).replace("\n", "\\n") for line in lines if line)
    return graphviz.nohtml("\\n".join(safe))


def _html(text: str) -> str:
    """Raw text for an HTML-like label: every character literal."""
    return html.escape(_printable(text))


def _number(v: float) -> str:
    return f"{v + 0.0:.3g}"  # + 0.0 turns -0.0 into 0.0


def _values(s: Summary) -> str:
    if s.values is not None:
        return _number(s.values[0]) if len(s.values) == 1 else "[" + ", ".join(_number(v) for v in s.values) + "]"
    return f"mean {_number(s.mean)}, [{_number(s.lo)}, {_number(s.hi)}]"


def _grad(s: Summary | None) -> str:
    return "" if s is None else f"grad norm {s.norm:.2e}"


def _shape(n: Node) -> str:
    return str(n.shape) + ("" if n.dtype in ("float32", "") else f" {n.dtype}")


def scope_label(parts: tuple[str, ...]) -> str:
    """'t=3' -> 't = 3', 't=0..9' -> 't = 0 … 9 (×10)', 'layer=1' -> 'layer 1', 'forget_gate' -> 'forget gate'."""
    out = []
    for part in parts:
        if part.startswith("t=") and ".." in part:
            first, last = part[2:].split("..")
            out.append(f"t = {first} … {last}  (×{int(last) - int(first) + 1})")
        elif part.startswith("t="):
            out.append(f"t = {part[2:]}")
        elif part.startswith("layer="):
            out.append(f"layer {part[6:]}")
        else:
            out.append(part.replace("_", " "))
    return " · ".join(out)


class _Writer:
    """Labels and attributes for the nodes and edges of one graph, and its clusters, as DOT."""

    def __init__(self, g: Graph, labels: str, scale: tuple[int, int] | None, direction: str) -> None:
        self.g, self.names_only, self.direction = g, labels == "names", direction
        self.op = g.op_graph()
        self.into = self.op.parents()
        own = GradScale.of(g)  # None without gradients: then no colours, whatever scale is asked for
        self.scale = GradScale(*scale) if scale is not None and own is not None else own
        self.port: dict[str, str] = {}  # a gate's node id -> its row in its step's table of gates
        self.cut_from = {e.dst: e.src for e in g.edges if e.kind == "cut" and g.nodes[e.src].kind != "cut"}
        self.named: set[tuple[str, str]] = set()  # (source, tensor) of the step-crossing edges labelled so far
        # A chain of cells is drawn as the article draws it: each step a column (x_t below, A, h_t above),
        # the steps side by side. Everything else: time runs left to right.
        chains = {s[:-1] for s in g.steps()}
        self.columns = (
            g.level == "cell"
            and not g.rolled
            and len(chains) == 1
            and not any(n.kind in ("layer", "pointwise") for n in g.nodes.values())
        )
        self.backward = any(e.order is not None for e in g.edges)
        # A step's title goes where no edge crosses its box's edge: below when time runs left to right
        # (the cell state runs along the top), above when it runs down ("t" is the bottom in the
        # bottom-to-top columns).
        self.step_title = "b" if direction == "LR" and not self.columns else "t"

    def title(self, n: Node) -> str:
        """What a node is called: its name, or for a stub of an unnamed tensor the formula of that tensor."""
        if n.stub_of is not None and n.kind != "sink":
            return node_formula(self.op, n, self.into)
        if n.id in self.cut_from:  # a detached leaf: named after what it was cut from, 'h₁.detach()'
            source = self.g.nodes[self.cut_from[n.id]]
            return f"{display_name(n.name, source.scope)}.detach()" if n.name else "detach()"
        if n.kind in ("const", "input", "param", "cut"):  # a leaf is drawn where it is used, not made:
            return display_name(n.name, ()) or ""  # x_1 -> x₁, but no step number from where it is drawn
        return display_name(n.name, n.scope) or ""

    def label(self, n: Node) -> str:
        name, kind = self.title(n), n.kind
        if kind == "ellipsis":  # its box's title says which steps, and how many
            return _text(n.name or "⋯")
        if kind == "join":
            return ""
        if self.names_only:
            return self.short_label(n, name)
        value = _values(n.value) if n.value is not None else ""
        if kind == "sink":
            return _text(f"→ {name or n.op}")
        if n.stub_of is not None:
            return _text(name)
        if kind == "op" and self.backward:  # the op in its own variables, which its edges' rules use
            return _text(*([name] if name else []), self.rule(n), _shape(n), _grad(n.grad), n.note)
        if kind == "op":
            head = f"{name} = {n.op}" if name else n.op
            return _text(f"{head} {n.args}".strip(), _shape(n), value, _grad(n.grad), n.note)
        if kind in ("param", "input"):
            return _text(name or kind, _shape(n), value, _grad(n.grad), n.note)
        if kind == "const":  # tiny constants show their values, others what they are
            tiny = n.value is not None and n.value.values is not None
            return _text(value if tiny else f"{name or 'const'} {n.shape}")
        if kind == "cut":
            return _text(f"✂ {name}", n.note)
        if kind == "layer":
            return _text(f"{name} = {SYMBOLS.get(n.op, n.op)}", _grad(n.grad))
        if kind == "pointwise":
            return _text(SYMBOLS.get(n.op, n.op), name)
        if kind == "cell":
            return _text("A", name, _grad(n.grad))
        if kind in ("cell_in", "cell_out"):
            return _text(name)
        return _text(name or scope_label(n.scope[-1:]) or "top level", n.args, value if name else "", _grad(n.grad))

    def gate_table(self, nids: list[str]) -> str:
        """The gates of a step as the rows of one table: its rows keep their order in any layout (separate
        boxes do not). Each row is a port, so edges still go to and from each gate."""
        rows = []
        for nid in nids:
            n, attrs = self.g.nodes[nid], self.node_attrs(self.g.nodes[nid])
            name = self.title(n)
            if n.kind == "op" and self.backward:  # op level: the op's rule, as on its node
                lines = [name, self.rule(n)] + ([] if self.names_only else [_shape(n), _grad(n.grad)])
            elif n.kind == "op":
                value = _values(n.value) if n.value is not None else ""
                lines = [name] if self.names_only else [f"{name} = {n.op}", _shape(n), value, _grad(n.grad)]
            else:
                lines = [
                    f"{SYMBOLS.get(n.op, n.op)} {name}" if self.names_only else f"{name} = {SYMBOLS.get(n.op, n.op)}"
                ]
                if not self.names_only and n.grad is not None:
                    lines.append(_grad(n.grad))
            lines = [line for line in lines if line]
            text = "<br/>".join(_html(line) for line in lines)
            font = attrs.get("fontcolor", "black")
            border = f' color="{attrs["color"]}" border="2"' if n.focus else f' color="{attrs.get("color", "black")}"'
            tip = html.escape(self.tooltip(n).replace("\\n", "&#10;"))
            rows.append(
                f'<td port="{nid}" bgcolor="{attrs["fillcolor"]}"{border} tooltip="{tip}">'
                f'<font color="{font}">{text}</font></td>'
            )
        # across the flow: a column when the graph runs left to right, a row when it runs top down
        cells = "".join(f"<tr>{row}</tr>" for row in rows) if self.direction == "LR" else f"<tr>{''.join(rows)}</tr>"
        return f'<<table border="0" cellborder="1" cellspacing="5" cellpadding="4">{cells}</table>>'

    def short_label(self, n: Node, name: str) -> str:
        """Names only, as the article labels its figures: 'σ f₁', '×', 'x₁', 'A'."""
        kind = n.kind
        if kind == "layer":
            return _text(f"{SYMBOLS.get(n.op, n.op)} {name}".strip())
        if kind == "pointwise":
            return _text(SYMBOLS.get(n.op, n.op))
        if kind == "cell":
            return _text("A")
        if kind == "const":
            return _text(name or (_values(n.value) if n.value is not None and n.value.values is not None else "const"))
        if kind == "sink":
            return _text(f"→ {name or n.op}")
        if kind == "op" and self.backward:
            return _text(*([name] if name else []), self.rule(n))
        return _text(name or (f"{n.op} {n.args}".strip() if kind == "op" else kind))

    def rule(self, n: Node) -> str:
        """'y = tanh(x)', with the op's arguments where it has any ('y = x[idx]   ([..., 0:4])')."""
        rule = forward_rule(self.op.nodes[n.id] if n.id in self.op.nodes else n)
        return f"{rule}   ({n.args})" if n.args and not self.names_only and "ᵀ" not in rule else rule

    def tooltip(self, n: Node) -> str:
        lines = [f"{n.kind} {n.op} {n.args}".strip(), "scope: " + ("/".join(n.scope) or "(top)")]
        if n.shape or n.dtype:
            lines.append(f"shape {n.shape} {n.dtype}")
        for what, s in (("value", n.value), ("grad", n.grad)):
            if s is not None:
                lines.append(f"{what}: norm {s.norm:.4g}, mean {s.mean:.4g}, min {s.lo:.4g}, max {s.hi:.4g}")
        if len(n.members) > 1:
            lines.append(f"stands for {len(n.members)} tensors")
        return _text(*lines)

    def node_attrs(self, n: Node) -> dict[str, str]:
        attrs = dict(STYLES["stub" if n.stub_of is not None else n.kind])
        if self.scale is not None and n.kind not in ("const", "cut", "join", "ellipsis") and n.stub_of is None:
            if n.grad is None:
                attrs["fillcolor"] = "white"
            else:
                k = self.scale.colour(n.grad.norm)
                attrs.update(fillcolor=f"/{PALETTE}/{k}", fontcolor="white" if k >= 7 else "black")
        if n.focus is False:
            attrs.update(fillcolor="#f7f7f7", fontcolor="#b0b0b0", color=DIM)
        elif n.focus:
            attrs.update(color=HIGHLIGHT, penwidth="2.5")
        attrs.update(label=self.label(n), tooltip=self.tooltip(n))
        return attrs

    def edge_attrs(self, e: Edge) -> dict[str, str]:
        attrs: dict[str, str] = {}
        if e.kind == "cut":
            attrs.update(style="dashed", color=HIGHLIGHT, fontcolor=HIGHLIGHT, arrowhead="tee", label="✂ detach()")
            if self.columns:  # from one step to the next: side by side
                attrs["constraint"] = "false"
        elif e.kind == "loop":
            attrs.update(color="#1f77b4", fontcolor="#1f77b4", constraint="false", penwidth="1.5")
        elif self.columns and self.g.crosses_steps(e):
            attrs["constraint"] = "false"  # from step to step: side by side, not one above the other
        elif e.lane:
            # Heavy edges are kept short and straight: the lane. (Graphviz's `group` would be straighter
            # but, with newrank and clusters, makes dot 2.4x fail with "trouble in init_rank".)
            attrs.update(weight="10", penwidth="2")
        if self.backward:
            if e.order is None:
                attrs.update(style="dotted", color="#bbbbbb")
            else:
                attrs.update(dir="back", color="#8c2d04", fontcolor="#8c2d04")
        if e.label:
            scope = self.g.nodes[e.src].scope
            if self.g.nodes[e.src].kind == "ellipsis":  # what leaves the "…" is the last hidden step's
                scope = scope[:-1] + (f"t={scope[-1].rpartition('..')[2]}",)
            label = display_name(e.label, scope) if e.order is None else e.label
            # At cell level a labelled forward edge hands a tensor to another step: it is named once,
            # where it leaves, clear of the next step's title.
            handed_on = e.order is None and e.kind in ("data", "cut") and self.g.level == "cell"
            if handed_on:
                if (e.src, e.label) not in self.named:
                    self.named.add((e.src, e.label))
                    attrs.update(taillabel=_text(label or e.label), labeldistance="1.6", labelangle="-25")
                    attrs["labelfontsize"] = "11"  # a state's name, subscript and all, readable on the page
            else:
                attrs["label"] = _text(label or e.label)
        if e.focus is False:
            attrs.update(color=DIM, fontcolor=DIM)
        elif e.focus:
            attrs.update(color=HIGHLIGHT, penwidth="2")
        return attrs

    def cluster(self, parent: graphviz.Digraph, c: Cluster, drawn: tuple[str, ...], path: str) -> None:
        step = step_of(c.scope)
        if step is not None and len(c.scope) > len(step) and len(c.nodes) == 1 and not c.children:
            self.fill(parent, c, path)  # a gate of one node needs no box: its name says which gate it is
            return
        with parent.subgraph(name=f"cluster_{path}") as sub:
            parts = c.scope[len(drawn) :]
            sub.attr(label=_text(scope_label(parts)), **_cluster_style(c.scope, parts, self.step_title))
            self.fill(sub, c, path, step_box=any(part.startswith("t=") for part in parts))

    def fill(self, dot: graphviz.Digraph, c: Cluster, path: str, step_box: bool = False) -> None:
        # A step's gates (at op level they sit in the scopes of their gates, inside the step) are drawn
        # in the step's box as one table.
        mine = _subtree_nodes(c) if step_box else c.nodes
        gates = sorted((nid for nid in mine if _gate(self.g, nid) is not None), key=lambda nid: _gate(self.g, nid))
        # a gate that reads another (the GRU's n reads r) is drawn on its own, so that edge shows
        gates = [nid for nid in gates if not any(e.src in gates for e in self.g.edges if e.dst == nid)]
        if len(gates) < 2:
            gates = []
        for nid in c.nodes:
            if nid not in gates and nid not in self.port:
                dot.node(nid, **self.node_attrs(self.g.nodes[nid]))
            if self.columns and self.g.nodes[nid].kind == "ellipsis":  # raised to the row of the A boxes
                dot.node(f"{nid}_below", shape="point", style="invis")
                dot.edge(f"{nid}_below", nid, style="invis")
        if gates:  # the step's gates as one block, always in the article's order: forget, input, candidate, output
            block = f"gates_{path}"
            self.port.update({nid: f"{block}:{nid}" for nid in gates})
            dot.node(block, label=self.gate_table(gates), shape="plaintext", tooltip="the gates of this step")
        # the gates of a step in the article's order, in every step (dot keeps the order it is given)
        children = sorted(enumerate(c.children), key=lambda kc: GATE_SCOPES.get(kc[1].scope[-1], 0))
        if self.columns and any(child.scope[-1].startswith("t=") for _, child in children):
            children.reverse()  # dot lays out bottom-to-top graphs' clusters in the mirror order of their text
        for k, child in children:
            self.cluster(dot, child, c.scope, f"{path}_{k}" if path else str(k))

    def legend(self) -> str:
        """The colour scale as an HTML table: drawn under the title, where it takes no width."""
        cells = []
        for k in range(1, 10):
            font = ' color="white"' if k >= 7 else ""
            cells.append(f'<td bgcolor="/{PALETTE}/{k}"><font{font}>{10 ** self.scale.tick(k):.2g}</font></td>')
        head = '<td border="0">gradient norm (fill colour):</td>'
        return f'<table border="0" cellborder="1" cellspacing="0"><tr>{head}{"".join(cells)}</tr></table>'


def _title_html(line: str) -> str:
    """A title line as HTML: escaped, with W_f written as W with a subscript f (Unicode has no
    subscript for most letters)."""
    return re.sub(r"(?<=\w)_(\w)", r"<sub>\1</sub>", _html(line))


def _cluster_style(scope: tuple[str, ...], parts: tuple[str, ...], step_title: str) -> dict[str, str]:
    """A time step (even merged with the cell scope inside it) is a pale green box, the module A,
    titled where no edge crosses (step_title: graphviz's labelloc, see _Writer)."""
    if any(part.startswith("t=") for part in parts):
        style = {"style": "rounded,filled", "fillcolor": "#f4faf4", "color": "#9ccc9c", "fontsize": "12"}
        return style | {"labelloc": step_title}
    if scope[-1].startswith("layer="):
        return {"style": "dashed", "color": "#999999", "fontsize": "11", "labeljust": "l", "labelloc": "t"}
    if step_of(scope) is not None:  # a gate inside a step: titled top right, clear of the edges into it
        style = {"style": "rounded,dotted", "color": "#999999", "fontsize": "9", "fontcolor": "#666666"}
        return style | {"labelloc": "t", "labeljust": "r"}
    return {"style": "rounded", "color": "#777777", "fontsize": "11", "labeljust": "l", "labelloc": "t"}


def _chain(g: Graph, e: Edge) -> tuple[str, ...] | None:
    """The chain of steps (what encloses them, e.g. ('lstm', 'layer=0', 'reverse')) an edge runs inside."""
    a, b = step_of(g.nodes[e.src].scope), step_of(g.nodes[e.dst].scope)
    return a[:-1] if a is not None and b is not None and a[:-1] == b[:-1] else None


def _backward_chains(g: Graph) -> set[tuple[str, ...]]:
    """Chains that run against time: the reverse direction of a bidirectional layer, from t = T-1 down
    to 0. dot lays out an edge's end after its start, so every edge inside such a chain is written the
    other way round (its arrow turned round to show the real direction): the chain is drawn as the
    mirror image of a forward one, its steps left to right in the order of t, its flow right to left."""
    chains = set()
    for e in g.edges:
        a, b = step_of(g.nodes[e.src].scope), step_of(g.nodes[e.dst].scope)
        if _chain(g, e) is not None and natural(a) > natural(b):
            chains.add(a[:-1])
    return chains


def _ordering_edges(g: Graph) -> list[tuple[str, str]]:
    """Invisible edges that keep the steps of a layer in a row, left to right.

    A node with no inputs (a weight's stub, x_t) would otherwise be ranked first, stretching its
    step back over the earlier steps; an edge from the previous step's last node puts it after.
    """
    fed = {e.dst for e in g.edges}
    members: dict[tuple[str, ...], list[str]] = {s: [] for s in g.steps()}
    for nid, n in g.nodes.items():
        s = step_of(n.scope)
        if s is not None:
            members[s].append(nid)
    edges = []
    for before, s in pairwise(members):
        if before[:-1] == s[:-1]:  # after the step's h_t where it has one drawn, else its last node
            last = next((m for m in members[before] if g.nodes[m].kind == "cell_out"), members[before][-1])
            edges += [(last, nid) for nid in members[s] if nid not in fed]
    return edges


def _subtree_nodes(c: Cluster) -> list[str]:
    """The nodes of a cluster and of every cluster inside it."""
    return c.nodes + [nid for child in c.children for nid in _subtree_nodes(child)]


def _gate(g: Graph, nid: str) -> int | None:
    """A gate's place in the article's order (forget, input, candidate, output), else None: a gate
    box at gate level, its activation (a named sigmoid or tanh in a gate's scope) at op level."""
    n = g.nodes[nid]
    activation = n.kind == "op" and n.op in ("sigmoid", "tanh") and bool(n.name) and n.stub_of is None
    return GATE_SCOPES.get(n.scope[-1]) if n.scope and (n.kind == "layer" or activation) else None


def to_dot(
    g: Graph,
    title: str | None = None,
    labels: str = "full",
    grad_scale: tuple[int, int] | None = None,
    direction: str = "LR",
) -> graphviz.Digraph:
    """The Digraph of a view: clusters from its scope tree, nodes in forward order, then edges.
    grad_scale: (lo, hi), the colours' log10 range, to share one scale between drawings.
    direction: "LR" (the graph runs left to right) or "TB" (top to bottom: narrow, for the page)."""
    import graphviz  # here, not with the package: only drawings need it

    if direction not in ("LR", "TB"):
        raise ValueError(f"direction must be 'LR' or 'TB', got {direction!r}")
    w = _Writer(g, labels, grad_scale, direction)
    dot = graphviz.Digraph(
        "tinygrad_rnn",
        graph_attr={
            "rankdir": "BT" if w.columns else direction,
            "newrank": "true",
            "fontname": "Helvetica",
            "nodesep": "0.2",
            "ranksep": "0.15",
        },
        node_attr={
            "fontname": "Helvetica",
            "fontsize": "12" if w.names_only and direction == "LR" else "10",
            "margin": "0.08,0.03",
        },
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.6"},
    )
    if title or w.scale is not None:  # the title, and under it the legend, as one HTML label
        lines = "".join(f"<tr><td>{_title_html(line)}</td></tr>" for line in (title or "").splitlines())
        legend = f'<tr><td><font point-size="9">{w.legend()}</font></td></tr>' if w.scale is not None else ""
        dot.attr(label=f'<<table border="0" cellspacing="2">{lines}{legend}</table>>', labelloc="t", fontsize="14")
    w.fill(dot, g.scope_tree(), "")
    backwards = set() if w.columns else _backward_chains(g)
    for e in g.edges:
        a, b, attrs = w.port.get(e.src, e.src), w.port.get(e.dst, e.dst), w.edge_attrs(e)
        if _chain(g, e) in backwards:  # written end to start, its arrow turned round: see _backward_chains
            a, b = b, a
            attrs["dir"] = "forward" if attrs.get("dir") == "back" else "back"
            if "taillabel" in attrs:
                attrs["headlabel"] = attrs.pop("taillabel")
        dot.edge(a, b, **attrs)
    for a, b in [] if w.columns else _ordering_edges(g):
        dot.edge(w.port.get(a, a), w.port.get(b, b), style="invis")
    return dot
