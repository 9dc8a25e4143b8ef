"""The plain graph model that the renderer draws: nodes, edges and a scope tree, traced from tensors.

`trace(*tensors)` walks the recorded graph backwards from the given tensors (each tensor's
`_ctx.parents`) and copies into plain dataclasses what a drawing needs: op names, tensor names,
shapes, scopes, and summaries of values and gradients. No Tensor is kept, so views (views.py) can
transform the model freely, the DOT writer (dot.py) only reads it, and tests can check it directly.
Nothing in the recorded graph is changed.

Where a node is drawn is its scope: an op's is the scope stack in force when it ran (e.g.
('lstm', 'layer=0', 't=3', 'forget_gate')). A leaf (an input, a weight, a constant) is created
outside the code that uses it, so it is drawn where it is used: at the longest scope its consumers
have in common. A scope part that starts with "t=" is a time step; the scope up to it is the step. One more rule
keeps each step's picture whole: a reshape made outside the steps from a tensor of one step (as in
`tg.cat([h.unsqueeze(0) for h in hs])` after a loop) is drawn in that step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from weakref import ref

import numpy as np

from ..core import Tensor, topological_order
from ..nn.module import Parameter

STEP_PREFIX = "t="
TINY = 4  # tensors with at most this many elements show their values in labels


def step_of(scope: tuple[str, ...]) -> tuple[str, ...] | None:
    """The scope up to and including its time step part ('t=3'), or None outside any step."""
    for k, part in enumerate(scope):
        if part.startswith(STEP_PREFIX):
            return scope[: k + 1]
    return None


ARTICLE = {("cell_state", "c"): "C", ("candidate", "g"): "C̃"}  # the article's names for the LSTM's c and g
SUBSCRIPT = str.maketrans("0123456789t-+", "₀₁₂₃₄₅₆₇₈₉ₜ₋₊")


def article_name(name: str, scope: tuple[str, ...]) -> str:
    """The article's letter for a cell's tensor: the cell state c is C, the candidate g is C̃."""
    return next((v for (where, k), v in ARTICLE.items() if k == name and where in scope), name)


def display_name(name: str | None, scope: tuple[str, ...]) -> str | None:
    """A tensor's name as the article writes it: x_3 -> x₃; made in step t = 3, h -> h₃, and the cell
    state c -> C₃ and the candidate g -> C̃₃ (in the steps of a rolled drawing, hₜ)."""
    base, sep, index = (name or "").partition(" ")[0].rpartition("_")
    if sep and base and (index.isdigit() or index == "t"):  # x_3 -> x₃, 'h_0 of layer 0' -> 'h₀ of layer 0'
        return base + index.translate(SUBSCRIPT) + (name or "")[len(base) + 1 + len(index) :]
    step = step_of(scope)
    if not name or step is None or len(name) > 1:  # only the cells' one-letter names are the article's
        return name
    t = step[-1].removeprefix("t=")
    return article_name(name, scope) + ("t" if ".." in t else t).translate(SUBSCRIPT)


def natural(scope: tuple[str, ...]) -> tuple:
    """Sort key that orders numbered scope parts by number ('t=10' after 't=9', 'layer=1' after 'layer=0').

    Other parts all get the same key, so a stable sort keeps them in the order they came in.
    """
    key = []
    for part in scope:
        name, _, number = part.partition("=")
        first = number.split("..")[0]  # 't=2..29', steps drawn as one, sorts as step 2
        key.append((1, name, int(first)) if first.isdigit() else (0, "", 0))
    return tuple(key)


def common_prefix(scopes: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The longest scope that every scope in the list starts with."""
    first = scopes[0]
    n = len(first)
    for s in scopes[1:]:
        n = min(n, len(s))
        while s[:n] != first[:n]:
            n -= 1
    return first[:n]


@dataclass(frozen=True)
class Summary:
    """Statistics of one array, enough to label a node without keeping the array."""

    norm: float  # Euclidean norm of all elements (for gradients: the colour of the node)
    mean: float
    lo: float
    hi: float
    values: tuple[float, ...] | None  # the values themselves, for arrays of at most TINY elements

    @classmethod
    def of(cls, a: np.ndarray | None) -> Summary | None:
        if a is None:
            return None
        a = np.asarray(a, dtype=np.float64)
        if a.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, ())
        values = tuple(float(v) for v in a.ravel()) if a.size <= TINY else None
        return cls(float(np.linalg.norm(a.ravel())), float(a.mean()), float(a.min()), float(a.max()), values)


@dataclass
class Node:
    """One box of the drawing.

    kind: at op level "op" (a tensor an op made), "param" (an nn.Parameter), "input" (another leaf
    that requires grad), "const" (a leaf that does not), "cut" (the tensor a detached leaf was cut
    from, when it is not otherwise in the drawing), "sink" (in a step, the stub of an op outside
    the steps that gathers the outputs of many steps). Coarser views add "layer" and "pointwise"
    (gate level), "cell", "cell_in", "cell_out", "group" and "join" (cell level: in the step drawn
    in detail, the point where what every gate reads meets), and "ellipsis" (elided steps).
    """

    id: str  # a DOT name made from the position in the graph, never from id(): same graph, same text
    kind: str
    scope: tuple[str, ...]  # where the node is drawn
    name: str | None = None
    op: str = ""  # the Function's name for an op ('matmul', 'sigmoid', ...)
    rule: str = ""  # its rule as the op states it ('y = tanh(x);  dx = dy * (1 - y**2)'), for backward labels
    args: str = ""  # its non-tensor arguments ('[..., 0:4]', 'axis=0', ...)
    shape: tuple[int, ...] = ()
    dtype: str = ""
    value: Summary | None = None
    grad: Summary | None = None  # None when no gradient was stored (no backward, or no retain_grads)
    requires_grad: bool = False
    # an op with several outputs (split, unbind): for each output, its index into the input, its
    # shape and its name (None if it has none)
    pieces: tuple[tuple[str, tuple[int, ...], str | None], ...] = ()
    stub_of: str | None = None  # a stub (or sink): the id of the node outside the steps it stands for
    # a stub of one output of an op with several (a step's piece of an unbind): which one; "t" once
    # a rolled view has merged the stubs of different steps' pieces
    piece: int | str | None = None
    members: tuple[str, ...] = ()  # the traced nodes this node stands for (just itself at op level)
    note: str = ""  # an extra line for the label, e.g. 'shared by 3 steps'
    lane: str = ""  # the state lane it is on ('c', the cell state): drawn as a straight line through the steps
    focus: bool | None = None  # None: no focus in effect; True: highlighted; False: dimmed


@dataclass
class Edge:
    """A tensor flowing from `src` into the op of `dst` (as its input number `arg`)."""

    src: str
    dst: str
    kind: str = "data"  # "data", "cut" (a detach), "loop" (rolled view: from one step into the next)
    arg: int = 0
    order: int | None = None  # when backward runs this edge (1 = first); None if no gradient flows on it
    label: str = ""
    out: int | None = None  # which output of src flows, when src is an op with several (split, unbind)
    lane: str = ""  # the state lane it runs along ('c'), as mark_lane finds it
    focus: bool | None = None


@dataclass
class Cluster:
    """A box around the nodes of one scope; its children are the scopes nested inside it."""

    scope: tuple[str, ...]
    nodes: list[str] = field(default_factory=list)
    children: list[Cluster] = field(default_factory=list)


class _ById:
    """Traced node ids by object identity, holding the objects weakly (drawing keeps nothing alive).
    Not a WeakKeyDictionary: that compares keys with ==, which is elementwise for tensors."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[ref, str]] = {}

    def __setitem__(self, obj, nid: str) -> None:
        self._by_id[id(obj)] = (ref(obj), nid)

    def __getitem__(self, obj) -> str:
        held, nid = self._by_id[id(obj)]
        if held() is not obj:  # another object that took the id of a freed one
            raise KeyError(obj)
        return nid


@dataclass
class Graph:
    """Nodes (in forward order: every node after its inputs), edges, and what view made them.

    `roots` are the traced ids of the tensors given to `trace`, in order; `order` the op nodes in
    the order the engine's backward from them runs them (`tg.topological_order`). A view keeps the
    traced graph as `origin`: the ids in a node's `members` are nodes of that graph.
    """

    nodes: dict[str, Node]
    edges: list[Edge]
    roots: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    level: str = "op"
    rolled: bool = False
    origin: Graph | None = field(default=None, repr=False)
    _ids: _ById = field(default_factory=lambda: _ById(), repr=False, compare=False)

    def op_graph(self) -> Graph:
        """The traced op-level graph this one was made from (itself, for the trace)."""
        return self.origin or self

    def id_of(self, t) -> str:
        """The traced node id of a tensor, or of a graph node (a Function), in this graph (KeyError if absent)."""
        try:
            return self._ids[_item(t) if isinstance(t, Tensor) else t]
        except KeyError:
            raise KeyError(f"tensor {t.name or t.shape!r} is not part of the drawn graph") from None

    def parents(self) -> dict[str, list[Edge]]:
        """The data edges into each node, in input order."""
        into: dict[str, list[Edge]] = {nid: [] for nid in self.nodes}
        for e in self.edges:
            if e.kind == "data":
                into[e.dst].append(e)
        for edges in into.values():
            edges.sort(key=lambda e: e.arg)
        return into

    def consumers(self) -> dict[str, list[str]]:
        """The nodes each node feeds through a data edge (one entry per edge)."""
        out: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for e in self.edges:
            if e.kind == "data":
                out[e.src].append(e.dst)
        return out

    def crosses_steps(self, e: Edge) -> bool:
        """Whether edge e goes from one time step into another (h_t and c_t to the next step)."""
        a, b = step_of(self.nodes[e.src].scope), step_of(self.nodes[e.dst].scope)
        return a is not None and b is not None and a != b

    def steps(self) -> list[tuple[str, ...]]:
        """Every time step (a scope ending in 't=k'): grouped by what encloses them (a layer, a model),
        those in the order they first appear (numbered ones by number), then by k within each."""
        layers: dict[tuple[str, ...], dict[tuple[str, ...], None]] = {}
        for node in self.nodes.values():
            s = step_of(node.scope)
            if s is not None:
                layers.setdefault(s[:-1], {})[s] = None
        return [s for layer in sorted(layers, key=natural) for s in sorted(layers[layer], key=natural)]

    def scope_tree(self) -> Cluster:
        """The clusters of the drawing: one per scope, nested; the root is the whole graph.

        Op level draws every scope (gate scopes too); coarser levels stop at the time step, whose
        gates are the nodes themselves. A cluster that holds nothing but one other cluster is
        merged into it (a hand-unrolled 't=3' around a cell's scope becomes one box). Numbered
        scopes come in order of their numbers: t=0, t=1, ..., layer=0, layer=1.
        """
        root = Cluster(())
        index = {(): root}
        for node in self.nodes.values():
            scope = node.scope
            if self.level != "op":
                scope = step_of(scope) or scope
            for k in range(1, len(scope) + 1):
                if scope[:k] not in index:
                    index[scope[:k]] = Cluster(scope[:k])
                    index[scope[: k - 1]].children.append(index[scope[:k]])
            index[scope].nodes.append(node.id)
        return _merged(root)


def _merged(c: Cluster) -> Cluster:
    """The scope tree from c: numbered scopes in order, a cluster that holds only one other replaced by
    it. (Not a closure in scope_tree: a closure that calls itself is a reference cycle.)"""
    c.children = [_merged(child) for child in sorted(c.children, key=lambda child: natural(child.scope))]
    if c.scope and not c.nodes and len(c.children) == 1:
        return c.children[0]
    return c


def _item(t: Tensor):
    """What stands for a tensor in the engine's graph: the node (Function) that made it, or the leaf itself."""
    return t if t._ctx is None else t._ctx


def _is_leaf(item) -> bool:
    return isinstance(item, Tensor)


def _parents(item) -> list:
    """The graph items an item was computed from (a leaf tensor has none)."""
    return [] if _is_leaf(item) else [p if _is_leaf(p) else p[0] for p in item.parents]


def _several(item) -> bool:
    """Whether an item is a node with several outputs (split, unbind)."""
    return not _is_leaf(item) and len(item.shapes) > 1


def _shape(parent) -> tuple[int, ...]:
    """The shape of the tensor a parent entry stands for (a leaf, or output k of a node)."""
    return parent.shape if _is_leaf(parent) else parent[0].shapes[parent[1]]


def _piece(node, k: int) -> str:
    """Where output k of a split or an unbind comes from in its input, as an index ('..., 4:8', ':, 3')."""
    lead = [":"] * node.axis
    if node.name == "unbind":
        return ", ".join(lead + [str(k)])
    span = f"{node.bounds[k]}:{node.bounds[k + 1]}"
    return ", ".join(lead + [span]) if node.axis < len(node.shapes[k]) - 1 else f"..., {span}"


def _op_node(item, values: dict, scopes: dict) -> dict:
    """The fields of a Node for a graph node (an op): its name, value and gradient come from its
    output's slot; an op with several outputs stands for its input, the pieces joined back."""
    source = _parents(item)[0] if item.parents else None
    scope, args = item.scope, item.describe()
    if item.name == "reshape" and step_of(scope) is None:  # h_t.unsqueeze(0) after a loop: drawn in h_t's step
        scope = step_of(source.scope if _is_leaf(source) else scopes[source]) or scope
    if item.name == "transpose" and _is_leaf(source) and source.name:
        args = f"{args} of {source.name}".strip()  # a layer transposes each weight once, for all steps
    scopes[item] = scope
    kept = item.values
    if not _several(item):
        value = values.get(item, None if kept is None else kept[0])
        grad = None if item.grads is None else item.grads[0]
        return dict(
            kind="op",
            name=item.names[0],
            shape=item.shapes[0],
            value=value,
            grad=grad,
            scope=scope,
            args=args,
            rule=item.rule(),
        )
    pieces = tuple((_piece(item, k), shape, item.names[k]) for k, shape in enumerate(item.shapes))
    grads = item.grads or [None] * len(item.shapes)
    grad = None if all(g is None for g in grads) else item.backward(*grads)[0]  # the pieces' gradients, joined
    value = None if kept is None else item.join(list(kept))
    return dict(
        kind="op",
        name=None,
        shape=_shape(item.parents[0]),
        value=value,
        grad=grad,
        scope=scope,
        args=args,
        pieces=pieces,
        rule=item.rule(),
    )


def trace(*tensors: Tensor) -> Graph:
    """The op-level model of everything the given tensors were computed from.

    The engine's graph is made of Functions (one per op, standing for the tensor it made) and the
    leaf tensors they read; a Function keeps, per output, the tensor's name, its gradient after
    backward(retain_grads=True), and its value only inside `tg.keep_values()` (otherwise
    intermediate values are labelled for the tensors drawn, and for leaves).
    Nodes come in forward order (each after its inputs, see `_forward_order`), which is also the
    order the DOT text lists them in: the same graph built twice gives the same model. A leaf that
    came from `.detach()` gets a "cut" edge from the node it was cut from, while that node is alive.
    An op with several outputs (split, unbind) is one node, like any op; each edge out of it says
    which output it carries (`Edge.out`), and the node lists its outputs (`Node.pieces`).
    """
    if not tensors:
        raise ValueError("trace: give at least one tensor to draw")
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"trace: argument {k} is a {type(t).__name__}, not a Tensor")
    # the drawn tensors' own values are at hand (not a piece's: its node stands for all the pieces)
    values = {_item(t): t.data for t in tensors if not _several(_item(t))}
    backward = topological_order(*tensors)
    order = _forward_order(tensors, backward)
    ids = {item: f"n{k}" for k, item in enumerate(order)}
    edges: list[Edge] = []
    used_in: dict[Tensor, list[tuple[str, ...]]] = {}  # leaf -> the scopes of its consumers
    for item in order:
        for k, p in enumerate([] if _is_leaf(item) else item.parents):
            if _is_leaf(p):
                edges.append(Edge(ids[p], ids[item], arg=k))
                used_in.setdefault(p, []).append(item.scope)
            else:
                node, out = p
                edges.append(Edge(ids[node], ids[item], arg=k, out=out if _several(node) else None))
    nodes: dict[str, Node] = {}
    scopes: dict = {}
    for item in order:
        nid = ids[item]
        if _is_leaf(item):
            kind = "param" if isinstance(item, Parameter) else "input" if item.requires_grad else "const"
            scope = common_prefix(used_in[item]) if item in used_in else item.scope
            fields = dict(kind=kind, name=item.name, shape=item.shape, value=item.data, grad=item.grad, scope=scope)
            requires_grad, op = item.requires_grad, ""
        else:
            fields, requires_grad, op = _op_node(item, values, scopes), True, item.name
        value, grad = Summary.of(fields.pop("value")), Summary.of(fields.pop("grad"))
        nodes[nid] = Node(
            id=nid,
            op=op,
            dtype=str(item.dtype),
            value=value,
            grad=grad,
            requires_grad=requires_grad,
            members=(nid,),
            **fields,
        )
    for item in order:
        if _is_leaf(item) and item._cut is not None:
            _add_cut(item, ids, nodes, edges)
    g = Graph(nodes, edges, roots=tuple(ids[_item(t)] for t in tensors), order=tuple(ids[n] for n in backward))
    for item, nid in ids.items():
        g._ids[item] = nid
    return g


def _add_cut(leaf: Tensor, ids: dict, nodes: dict[str, Node], edges: list[Edge]) -> None:
    """A detached leaf's cut: an edge from the node it was cut from, if that is drawn too, or from
    a ghost node standing for it (in the previous chunk of truncated BPTT, alive or freed)."""
    node_ref, k, name = leaf._cut
    source = node_ref()
    several = source is not None and len(source.shapes) > 1
    if source is not None and source in ids:
        edges.append(Edge(ids[source], ids[leaf], kind="cut", out=k if several else None))
        return
    value = None if source is None or source.values is None else source.values[k]
    ghost = f"{ids[leaf]}_cut"
    nodes[ghost] = Node(
        id=ghost,
        kind="cut",
        scope=nodes[ids[leaf]].scope,
        name=name,
        shape=tuple(leaf.shape),
        dtype=str(leaf.dtype),
        value=Summary.of(value),
        members=(ghost,),
        note="in the previous chunk",
    )
    edges.append(Edge(ghost, ids[leaf], kind="cut"))


def _forward_order(tensors: tuple[Tensor, ...], backward: list) -> list:
    """Every graph item the tensors depend on, each after its inputs, close to the order they were made:
    the reverse of backward's order (so step 0 comes before step 1, layer 0 before layer 1), with
    each leaf just before its first use, and a leaf drawn on its own last."""
    order: list = []
    placed: set = set()
    for node in reversed(backward):
        for p in _parents(node):
            if _is_leaf(p) and p not in placed:
                placed.add(p)
                order.append(p)
        order.append(node)
    return order + [t for t in dict.fromkeys(tensors) if t._ctx is None and t not in placed]
