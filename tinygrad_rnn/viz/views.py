"""Views: transformations of the graph model (model.py) into the graph that gets drawn.

`draw` applies them in this order: `number_backward` (for backward=True), `share_stubs` (always),
`hide_loss` (at cell level, by default), then the level (`gate_level` or `cell_level`; op level is
the traced graph itself; `detail` makes the cell level from the gate level), `mark_lane`, `roll`
(for rolled=True), `elide`, `focus` and `backward_labels`. Each takes a Graph and returns a new
one; none changes its input, and none touches the recorded tensors.

The levels, in the notation of "Understanding LSTM Networks":
- op: every primitive op, with the shared weights as small stubs in each step.
- gate: each named activation (i, f, g, o; r, z, n; an RNN's h) becomes one "layer" box that
  absorbs the matmuls, splits and adds that compute its pre-activation; the pointwise ops between
  the layers (the x and + on the cell state, tanh(c), o * tanh(c), ...) stay as "pointwise" circles.
- cell: each time step becomes one box, the article's repeating module A, with its inputs x_t
  ("cell_in") and its output h_t ("cell_out", which also gathers what leaves the steps); everything
  outside the steps becomes one "group" box per scope. One step can be kept at gate level inside
  (`detail`).
"""

from __future__ import annotations

import re
from dataclasses import replace

from .model import Edge, Graph, Node, article_name, common_prefix, step_of

ACTIVATIONS = {"sigmoid", "tanh", "relu"}
LEVELS = ("op", "gate", "cell")
LEAF_KINDS = ("param", "input", "const")
LANES = {"c": "C"}  # the name the LSTM cells give their cell state -> as edges between steps are labelled


def _derive(g: Graph, nodes: dict[str, Node], edges: list[Edge], **changes) -> Graph:
    """A new graph made from g: same roots and op graph, new nodes and edges."""
    fields = dict(roots=g.roots, order=g.order, level=g.level, rolled=g.rolled, origin=g.op_graph(), _ids=g._ids)
    fields.update(changes)
    return Graph(nodes, edges, **fields)


def _dedupe(edges: list[Edge]) -> list[Edge]:
    """One edge per (src, dst, kind, label); a merged edge keeps the latest backward order."""
    kept: dict[tuple, Edge] = {}
    for e in edges:
        key = (e.src, e.dst, e.kind, e.label)
        if key not in kept:
            kept[key] = e
        elif e.order is not None and (kept[key].order is None or e.order > kept[key].order):
            kept[key] = replace(kept[key], order=e.order)
    return list(kept.values())


# -- the backward pass ---------------------------------------------------------------------------


def number_backward(g: Graph) -> Graph:
    """Number every edge that carries a gradient in the order backward sends it (1 = first).

    Backward visits the op nodes in the traced graph's `order` and at each one sends a gradient to each
    input that wants one, in input order: a parent that is an op, or a leaf with requires_grad.
    """
    if len(g.roots) != 1:
        raise ValueError(f"the backward view draws the backward pass of one tensor (the loss), got {len(g.roots)}")
    into = g.parents()
    numbers: dict[tuple[str, str, int], int] = {}
    for nid in g.op_graph().order:
        for e in into[nid]:
            if g.nodes[e.src].requires_grad:
                numbers[(e.src, e.dst, e.arg)] = len(numbers) + 1
    edges = [replace(e, order=numbers.get((e.src, e.dst, e.arg))) if e.kind == "data" else e for e in g.edges]
    return _derive(g, dict(g.nodes), edges)


# numpy's notation in the rules, as the drawings write it
_PRETTY = ((" * ", "·"), ("**2", "²"), (".T", "ᵀ"), (" - ", " − "), ("-dy", "−dy"), ("1 / (1 + exp(-x))", "σ(x)"))


def pretty(rule: str) -> str:
    for plain, nice in _PRETTY:
        rule = rule.replace(plain, nice)
    return rule


def _rule(n: Node) -> str:
    """The op's rule; a transpose of a matrix written as one: 'y = xᵀ;  dx = dyᵀ'."""
    if n.op == "transpose" and n.args.startswith("axes=(1, 0)"):
        return "y = x.T;  dx = dy.T"
    return n.rule


def forward_rule(n: Node) -> str:
    """What an op computes, in its own variables, from its rule: 'y = tanh(x)'."""
    return pretty(_rule(n).split(";")[0].strip()) if n.rule else n.op


def local_derivative(n: Node, arg: int) -> str:
    """The op's own rule for the gradient it sends back to its input number `arg`, in the op's own
    variables ('dx = dy·(1 − y²)' for y = tanh(x)): the local step of the chain rule, checkable by hand
    against the op's forward rule (drawn on its node)."""
    clauses = [c.strip() for c in _rule(n).split("   (")[0].split(";")[1:]]  # after 'y = ...': 'da = dy * b', ...
    if not clauses:  # an op of the user's own (tg.apply) that states no rule: its backward says
        return f"see {n.op}.backward"
    clause = clauses[min(arg, len(clauses) - 1)]
    return pretty(re.sub(r"\bk\b", str(arg), clause) if "x_k" in clause else clause)


def backward_labels(g: Graph) -> Graph:
    """Label the numbered edges: at op level with the local derivative, coarser with the number only.

    Numbers are renumbered 1, 2, 3, ... in backward order among the edges still drawn; edges that
    stand for the same op edge (h_{t-1} feeding all four gate boxes through one matmul) share one.
    """
    ranks = {order: k + 1 for k, order in enumerate(sorted({e.order for e in g.edges if e.order is not None}))}
    op = g.op_graph()
    edges = []
    for e in g.edges:
        if e.order is not None:
            label = f"{ranks[e.order]}"
            if g.level == "op":
                label += ": " + local_derivative(op.nodes[g.nodes[e.dst].stub_of or e.dst], e.arg)
            e = replace(e, label=label)
        edges.append(e)
    return _derive(g, dict(g.nodes), edges)


# -- names for unnamed tensors -------------------------------------------------------------------

_INFIX = {"add": " + ", "mul": "·", "div": " / ", "matmul": " @ "}
_CALL = {"sigmoid": "σ", "tanh": "tanh", "relu": "relu", "exp": "exp", "log": "log", "max": "max", "cat": "cat"}


def _wrapped(s: str) -> str:
    return f"({s})" if " " in s else s


def piece_formula(g: Graph, nid: str, k: int | str, into: dict[str, list[Edge]], depth: int = 3) -> str:
    """The formula of output k of an op with several outputs (split, unbind): its name, or its
    input's formula with the piece's index ('(h @ weight_hhᵀ + …)[..., 4:8]'). k may be "t", for
    the pieces of all the steps merged by a rolled view ('(x @ weight_ihᵀ + …)[t]')."""
    pieces = g.nodes[nid].pieces
    if k == "t":
        index = re.sub(r"\d+$", "t", pieces[-1][0])
    else:
        index, _, name = pieces[k]
        if name:
            return name
    whole = _input_formula(g, into[nid][0], into, depth) if depth else "…"
    return "…" if whole == "…" else f"{_wrapped(whole)}[{index}]"


def node_formula(g: Graph, n: Node, into: dict[str, list[Edge]]) -> str:
    """What a node of a view stands for, as a formula: a stub names the tensor it stands for (its
    own piece, for a stub of one piece of a split)."""
    if n.stub_of is not None and n.piece is not None:
        return piece_formula(g, n.stub_of, n.piece, into)
    return formula(g, n.stub_of or n.id, into)


def _input_formula(g: Graph, e: Edge, into: dict[str, list[Edge]], depth: int) -> str:
    """The formula of what edge e carries: its source's, or the piece's it carries."""
    if e.out is not None and g.nodes[e.src].pieces:
        return piece_formula(g, e.src, e.out, into, depth)
    return formula(g, e.src, into, depth)


def formula(g: Graph, nid: str, into: dict[str, list[Edge]], depth: int = 3) -> str:
    """A short expression for a tensor: its name, or how it was computed ('x @ weight_ihᵀ + bias_ih').

    Goes `depth` ops deep; deeper parts become '…'. A one-element constant shows its value.
    """
    n = g.nodes[nid]
    if n.name:
        return article_name(n.name, n.scope)  # the LSTM's c and g are the article's C and C̃
    if n.kind != "op":
        if n.value is not None and n.value.values is not None and len(n.value.values) == 1:
            return f"{n.value.values[0]:g}"
        return n.kind
    if depth == 0:
        return "…"
    ins = [_input_formula(g, e, into, depth - 1) for e in into[nid]]
    if all(s == "…" for s in ins):
        return "…"

    if n.op in _INFIX and len(ins) == 2:
        sep = _INFIX[n.op]
        return sep.join(ins) if n.op == "add" else sep.join(_wrapped(s) for s in ins)
    if n.op == "neg":
        return f"−{_wrapped(ins[0])}"
    if n.op == "transpose":
        return f"{_wrapped(ins[0])}ᵀ"
    if n.op == "getitem":
        return f"{_wrapped(ins[0])}{n.args}"
    if n.op == "pow":
        return f"{_wrapped(ins[0])}^{n.args.removeprefix('p=')}"
    if n.op == "sum":
        return f"Σ{_wrapped(ins[0])}"
    if n.op == "reshape":
        return ins[0]
    return f"{_CALL.get(n.op, n.op)}({', '.join(ins)})"


# -- stubs for shared tensors --------------------------------------------------------------------


def share_stubs(g: Graph) -> Graph:
    """Draw what several time steps share as a small stub inside each step, not as long edges.

    Into the steps: a tensor outside them used by two or more steps (a weight, or a layer's input
    projection, computed for all steps in one matmul and unbound into one piece per step) gets a
    stub in each step that uses it; a stub of one piece names that piece. The tensor itself stays,
    noted 'shared by T steps', or 'a piece for each of T steps' (a weight's .grad there is the
    total over all steps).
    Out of the steps: an op outside them fed by two or more steps (a layer's `stack` of its outputs)
    keeps its edge from the last of those steps; the other steps send theirs into a "sink" stub.
    A step's output feeding the next step is the recurrence itself, and is drawn. Besides being
    easier to read, edges that span many steps make Graphviz's layout very slow.
    """
    consumers, into, steps = g.consumers(), g.parents(), g.steps()
    reads: dict[tuple[str, str], set] = {}  # (src, dst) -> which outputs of src dst reads (None: its only one)
    for e in g.edges:
        if e.kind == "data":
            reads.setdefault((e.src, e.dst), set()).add(e.out)
    nodes = dict(g.nodes)
    before: dict[str, list[Node]] = {}  # node id -> stubs to list just before it (forward order)
    after: dict[str, list[Node]] = {}  # node id -> sink stubs to list just after it
    redirect: dict[tuple[str, str], str] = {}  # (src, dst) of a data edge -> the stub that replaces one end
    for nid, n in g.nodes.items():
        if step_of(n.scope) is not None:
            continue
        users = _by_step(g, consumers[nid], steps)
        if len(users) >= 2:
            own = _own_pieces(n, users, reads)
            note = f"a piece for each of {len(users)} steps" if own else f"shared by {len(users)} steps"
            nodes[nid] = replace(n, note=note)
            for j, ids in enumerate(users.values()):
                scope = common_prefix([g.nodes[c].scope for c in ids])
                stub = replace(n, id=f"{nid}_s{j}", scope=scope, stub_of=nid, value=None, grad=None, note="")
                if own:
                    stub = replace(stub, piece=own[j], shape=n.pieces[own[j]][1])
                before.setdefault(ids[0], []).append(stub)
                redirect.update({(nid, c): stub.id for c in ids})
        feeders = _by_step(g, [e.src for e in into[nid]], steps)
        for j, ids in enumerate(list(feeders.values())[:-1]):
            scope = common_prefix([g.nodes[p].scope for p in ids])
            sink = replace(n, id=f"{nid}_k{j}", kind="sink", scope=scope, stub_of=nid, value=None, grad=None)
            after.setdefault(ids[-1], []).append(sink)
            redirect.update({(p, nid): sink.id for p in ids})
    if not redirect:
        return g
    ordered: dict[str, Node] = {}
    for nid, n in nodes.items():
        ordered.update((stub.id, stub) for stub in before.get(nid, ()))
        ordered[nid] = n
        ordered.update((sink.id, sink) for sink in after.get(nid, ()))
    edges = []
    for e in g.edges:
        stub = redirect.get((e.src, e.dst)) if e.kind == "data" else None
        if stub is None:
            edges.append(e)
        else:
            edges.append(replace(e, src=stub) if ordered[stub].kind != "sink" else replace(e, dst=stub))
    return _derive(g, ordered, edges)


def _own_pieces(n: Node, users: dict[tuple[str, ...], list[str]], reads: dict) -> list[int] | None:
    """For an op with several outputs used by several steps: which output each step reads, if each
    reads one of its own (a layer's unbind of its input projection: step t reads piece t), so the
    op is not shared and each step's stub stands for its piece. Else None."""
    if not n.pieces:
        return None
    outs = [set().union(*(reads[(n.id, c)] for c in ids)) for ids in users.values()]
    if any(len(o) != 1 for o in outs) or len(set().union(*outs)) != len(outs):
        return None
    return [o.pop() for o in outs]


def _by_step(g: Graph, ids: list[str], steps: list[tuple[str, ...]]) -> dict[tuple[str, ...], list[str]]:
    """The given nodes that lie in time steps, grouped by step (steps in order)."""
    groups: dict[tuple[str, ...], list[str]] = {s: [] for s in steps}
    for nid in ids:
        s = step_of(g.nodes[nid].scope)
        if s is not None and nid not in groups[s]:
            groups[s].append(nid)
    return {s: ids for s, ids in groups.items() if ids}


def prune_to_steps(g: Graph) -> Graph:
    """Keep only the parts connected to the time steps (coarse levels draw the recurrence).

    Once shared tensors are stubs, a layer's input projection and its weights are no longer
    connected to the steps; at gate and cell level they are left out (their stubs stay). A graph
    without time steps is kept whole.
    """
    if not g.steps():
        return g
    neighbours: dict[str, list[str]] = {nid: [] for nid in g.nodes}
    for e in g.edges:
        neighbours[e.src].append(e.dst)
        neighbours[e.dst].append(e.src)
    keep: set[str] = set()
    for nid, n in g.nodes.items():
        if nid in keep or step_of(n.scope) is None:
            continue
        keep.add(nid)
        stack = [nid]
        while stack:
            for m in neighbours[stack.pop()]:
                if m not in keep:
                    keep.add(m)
                    stack.append(m)
    nodes = {nid: n for nid, n in g.nodes.items() if nid in keep}
    return _derive(g, nodes, [e for e in g.edges if e.src in keep])


def hide_loss(g: Graph) -> Graph:
    """Leave out what comes after the time steps (the loss and the arithmetic that feeds only it):
    the article's figures end at h_t. A graph without time steps is kept whole."""
    in_step = {nid for nid, n in g.nodes.items() if step_of(n.scope) is not None}
    if not in_step:
        return g
    consumers = g.consumers()
    after = _reach(in_step, consumers) - in_step
    feeds_only_after = True
    while feeds_only_after:  # the target, the constants of the loss: used by the left-out part only
        extra = {nid for nid in g.nodes if nid not in after and nid not in in_step and consumers[nid]}
        extra = {nid for nid in extra if all(c in after for c in consumers[nid])}
        feeds_only_after = bool(extra)
        after |= extra
    nodes = {nid: n for nid, n in g.nodes.items() if nid not in after}
    roots = tuple(r for r in g.roots if r in nodes)
    return _derive(g, nodes, [e for e in g.edges if e.src in nodes and e.dst in nodes], roots=roots)


def elided(steps: int, first: int, last: int) -> int:
    """How many of `steps` steps `elide(g, first, last)` draws as one "…": those between the first and
    the last, when there are at least two of them (one step is drawn as itself)."""
    between = steps - first - last
    return between if between >= 2 else 0


def elide(g: Graph, first: int, last: int) -> Graph:
    """Keep the first `first` and the last `last` steps of each layer; the steps between become one
    "…" node in a box of their own ('t = 2 … 29'), so a long chain fits a page. What crosses the
    gap (h, c) is drawn into and out of the "…"."""
    layers: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for s in g.steps():
        layers.setdefault(s[:-1], []).append(s)
    gone: dict[tuple[str, ...], str] = {}  # a left-out step -> the "…" node standing for it
    extra: dict[str, Node] = {}
    for k, (layer, steps) in enumerate(layers.items()):
        if not elided(len(steps), first, last):
            continue
        between = steps[first : len(steps) - last]
        lo, hi = between[0][-1].removeprefix("t="), between[-1][-1].removeprefix("t=")
        dots = Node(f"ellipsis_{k}", "ellipsis", layer + (f"t={lo}..{hi}",), name="⋯", note=f"{len(between)} steps")
        extra[dots.id] = dots
        gone.update(dict.fromkeys(between, dots.id))
    if not gone:
        return g
    where = {nid: gone.get(step_of(n.scope)) for nid, n in g.nodes.items()}
    nodes: dict[str, Node] = {}
    for nid, n in g.nodes.items():
        if where[nid] is None:
            nodes[nid] = n
        elif where[nid] not in nodes:
            nodes[where[nid]] = extra[where[nid]]  # in the place of the first step it stands for
    edges = []
    for e in g.edges:
        src, dst = where[e.src] or e.src, where[e.dst] or e.dst
        if src != dst and src in nodes and dst in nodes:
            label = e.label or (g.nodes[e.src].name or "" if src in extra else "")  # h out of the "…" named too
            order = None if (where[e.src] or where[e.dst]) else e.order
            edges.append(replace(e, src=src, dst=dst, order=order, label=label))
    return _derive(g, nodes, _dedupe(edges))


# -- gate level ----------------------------------------------------------------------------------


def gate_level(g: Graph) -> Graph:
    """One box per gate per step ("layer"), pointwise ops as circles ("pointwise").

    Within a step, an unnamed op whose every consumer is a named activation (or such an op itself)
    computes part of that activation's pre-activation: it is absorbed into the activation's box,
    whose inputs become whatever fed the absorbed ops (h_{t-1}, x_t, c_{t-1} for peepholes). The
    weights used only inside boxes are left out, as the article leaves them out.
    """
    g = prune_to_steps(g)
    into, consumers = g.parents(), g.consumers()
    step = {nid: step_of(n.scope) for nid, n in g.nodes.items()}

    def is_activation(n: Node) -> bool:
        return n.kind == "op" and bool(n.name) and n.op in ACTIVATIONS and n.stub_of is None

    absorbed: set[str] = set()
    for nid in reversed(list(g.nodes)):
        n = g.nodes[nid]
        if n.kind != "op" or n.name or n.stub_of or step[nid] is None or not consumers[nid]:
            continue
        if all(step[c] == step[nid] and (c in absorbed or is_activation(g.nodes[c])) for c in consumers[nid]):
            absorbed.add(nid)
    hidden = absorbed | {
        nid
        for nid, n in g.nodes.items()
        if n.kind == "param" and consumers[nid] and all(c in absorbed for c in consumers[nid])
    }

    # For each absorbed op: the ops absorbed above it, and what feeds that region from outside.
    region: dict[str, list[str]] = {}
    entries: dict[str, list[Edge]] = {}
    for nid in g.nodes:
        if nid in absorbed:
            region[nid], entries[nid] = _expand(nid, into, absorbed, region, entries)

    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    for nid, n in g.nodes.items():
        if nid in hidden:
            continue
        members, ins = _expand(nid, into, absorbed, region, entries)
        if n.kind == "op" and n.stub_of is None and step[nid] is not None:
            kind = "layer" if is_activation(n) and len(members) > 1 else "pointwise"
            n = replace(n, kind=kind, members=_flat([g.nodes[m] for m in members]))
        nodes[nid] = n
        edges.extend(replace(e, dst=nid) for e in ins if e.src not in hidden)
    edges.extend(e for e in g.edges if e.kind != "data" and e.src in nodes and e.dst in nodes)
    nodes, edges = _one_minus(g, nodes, edges)
    return _derive(g, nodes, _dedupe(edges), level="gate")


def _one_minus(g: Graph, nodes: dict[str, Node], edges: list[Edge]) -> tuple[dict[str, Node], list[Edge]]:
    """`k - x` is recorded as neg then add: drawn as the article's one circle "1−" (for k = 1)."""
    into: dict[str, list[Edge]] = {}
    out: dict[str, list[Edge]] = {}
    for e in edges:
        into.setdefault(e.dst, []).append(e)
        out.setdefault(e.src, []).append(e)
    merged: dict[str, str] = {}  # the neg -> the add it is folded into
    for nid, n in nodes.items():
        if n.kind != "pointwise" or n.op != "neg" or n.name or len(out.get(nid, [])) != 1:
            continue
        add = nodes[out[nid][0].dst]
        others = [e.src for e in into.get(add.id, []) if e.src != nid]
        const = [g.nodes[c] for c in others if c in g.nodes and g.nodes[c].kind == "const"]
        if add.kind != "pointwise" or add.op != "add" or len(others) != 1 or len(const) != 1:
            continue
        values = const[0].value.values if const[0].value is not None else None
        if values and len(set(values)) == 1:
            nodes[add.id] = replace(add, op=f"{values[0]:g}−", members=_flat([n, add]))
            merged[nid] = add.id
    nodes = {nid: n for nid, n in nodes.items() if nid not in merged}
    edges = [replace(e, dst=merged.get(e.dst, e.dst)) for e in edges if e.src not in merged]
    return nodes, edges


def _expand(nid, into, absorbed, region, entries) -> tuple[list[str], list[Edge]]:
    """The members of nid's box (itself and the absorbed ops above it) and the edges entering them."""
    members, ins = [nid], []
    for e in into[nid]:
        if e.src in absorbed:
            members += [m for m in region[e.src] if m not in members]
            ins += entries[e.src]
        else:
            ins.append(e)
    return members, ins


# -- cell level ----------------------------------------------------------------------------------


def cell_level(g: Graph, detail: int | None = None) -> Graph:
    """One box per time step (the article's A), its inputs x_t and its output h_t.

    In a step: inputs that require grad and stubs of shared tensors become the step's "cell_in";
    ops become the "cell" box; its output h_t (the tensor named h, else its last named one) and
    what it sends out of the steps (sink stubs, edges to outside) go through one "cell_out".
    Weights and constants are left out. Outside the steps each scope becomes one "group" box.
    Edges from step to step are labelled with the tensor they carry (h, c). `detail`: the number of
    a step to keep as it is (given a gate-level graph: the article's chain with one module drawn
    inside).
    """
    g = prune_to_steps(g)
    op = g.op_graph()
    into = op.parents()
    sources = {nid: [e.src for e in es] for nid, es in into.items()}
    steps = {s: k for k, s in enumerate(g.steps())}
    inside = g.steps()[detail] if detail is not None else None
    cut_leaves = {e.dst for e in g.edges if e.kind == "cut"}
    group_of: dict[str, tuple | None] = {}
    for nid, n in g.nodes.items():
        s = step_of(n.scope)
        weight = n.stub_of is not None and _made_from(op, n.stub_of, sources) <= {"param", "const"}  # weight_hhᵀ
        if s is not None and s == inside and n.kind not in ("sink", "cut") and not n.stub_of and nid not in cut_leaves:
            group_of[nid] = None if n.kind in ("param", "const") else ("own", nid)
        elif n.kind == "cut" or nid in cut_leaves:
            group_of[nid] = ("own", nid)
        elif n.kind in ("param", "const"):
            group_of[nid] = None
        elif s is None:
            group_of[nid] = ("group", n.scope)
        elif n.kind == "sink":
            group_of[nid] = ("cell_out", s)
        elif weight:
            group_of[nid] = None  # left out, as the weights are
        else:
            group_of[nid] = ("cell_in", s) if n.kind == "input" or n.stub_of else ("cell", s)

    members: dict[tuple, list[str]] = {}
    for nid, key in group_of.items():
        if key is not None:
            members.setdefault(key, []).append(nid)
    outputs = _step_outputs(g, group_of)  # each step's h_t
    leaving: dict[tuple, list[str]] = {}  # cell_out -> the tensors that leave the step through it
    edges: list[tuple[tuple, tuple, Edge]] = []
    for e in g.edges:
        a, b = group_of[e.src], group_of[e.dst]
        if a is None or b is None or a == b:
            continue
        a_step, b_step = step_of(g.nodes[e.src].scope), step_of(g.nodes[e.dst].scope)
        crossing = g.crosses_steps(e)
        if a[0] == "cell" and b[0] not in ("cell", "cell_out") and b_step is None:  # out of the steps: through h_t
            out = ("cell_out", a[1])
            members.setdefault(out, [])
            edges += [(a, out, e), (out, b, e)]
            b = out
        elif crossing and e.src == outputs[a_step]:  # h_t into the next step: from the drawn h_t
            out = ("cell_out", a_step)
            members.setdefault(out, [])
            edges += [(a, out, Edge(e.src, e.src)), (out, b, replace(e, label=""))]
            b = out
        else:
            src = g.nodes[e.src]
            edges.append((a, b, replace(e, label=article_name(src.name or "", src.scope) if crossing else "")))
        if b[0] == "cell_out" and e.src not in leaving.setdefault(b, []):
            leaving[b].append(e.src)
    for s, h in outputs.items():  # every step shows its output h_t, as the article draws it
        out = ("cell_out", s)
        if h is not None and out not in members:
            members[out], leaving[out] = [], [h]
            edges.append((group_of[h], out, Edge(h, h)))

    # The new nodes in order: the steps in order (each: in, cell, out), then the rest as they came.
    position = {nid: k for k, nid in enumerate(g.nodes)}
    within = {"cell_in": 0, "cell": 1, "cell_out": 2}

    def rank(key: tuple) -> tuple[int, int, int]:
        if key[1] in steps:
            return (0, steps[key[1]], within[key[0]])
        return (1, min(position[m] for m in members[key]), 0)

    ids: dict[tuple, str] = {}
    nodes: dict[str, Node] = {}
    groups = 0
    for key in sorted(members, key=rank):
        if key[0] == "own":
            ids[key] = key[1]
        elif key[0] == "group":
            ids[key], groups = f"group_{groups}", groups + 1
        else:
            ids[key] = f"{key[0]}_{steps[key[1]]}"
        ms = [g.nodes[m] for m in leaving[key]] if key[0] == "cell_out" else [g.nodes[m] for m in members[key]]
        h = outputs.get(key[1]) if key[0] == "cell" else None
        nodes[ids[key]] = _group_node(key, ids[key], ms, g, op, into, sources, h)
    out = _dedupe([replace(e, src=ids[a], dst=ids[b]) for a, b, e in edges])
    if inside is not None:
        nodes, out = _join_gate_inputs(nodes, out, inside)
    return _derive(g, nodes, out, level="cell")


_MADE = ("op", "layer", "pointwise")  # the kinds of node an op made, at op and gate level


def _step_outputs(g: Graph, group_of: dict[str, tuple | None]) -> dict[tuple[str, ...], str | None]:
    """The tensor each step hands on as h_t: the one named h, else its last named one, else its last."""
    made: dict[tuple[str, ...], list[str]] = {s: [] for s in g.steps()}
    for nid, n in g.nodes.items():
        s, key = step_of(n.scope), group_of[nid]
        if s is not None and key is not None and key[0] in ("cell", "own") and n.kind in _MADE and n.stub_of is None:
            made[s].append(nid)
    outputs = {}
    for s, ids in made.items():
        named = [nid for nid in ids if g.nodes[nid].name]
        outputs[s] = next((nid for nid in named if g.nodes[nid].name == "h"), (named or ids or [None])[-1])
    return outputs


def _join_gate_inputs(nodes: dict[str, Node], edges: list[Edge], step: tuple[str, ...]):
    """In the step drawn in detail, what every gate reads (h_{t-1} and x_t) meets at one point and
    fans out from it to the gates, as the article draws [h_{t-1}, x_t]: two lines in, one per gate
    out, instead of one from each input to each gate."""
    gates = {nid for nid, n in nodes.items() if n.kind == "layer" and step_of(n.scope) == step}
    fed: dict[str, set[str]] = {}
    for e in edges:
        if e.dst in gates and e.kind == "data":
            fed.setdefault(e.src, set()).add(e.dst)
    shared = max((frozenset(d) for d in fed.values()), key=len, default=frozenset())
    sources = [src for src, d in fed.items() if d == shared]
    if len(shared) < 2 or len(sources) < 2:
        return nodes, edges
    join = Node(f"join_{nodes[min(shared)].id}", "join", step, note="every gate reads all of these")
    moved = [e for e in edges if e.src in sources and e.dst in shared and e.kind == "data"]
    kept = [e for e in edges if e not in moved]
    into_join = [replace(e, dst=join.id) for e in moved]
    out_of_join = [replace(e, src=join.id, label="") for e in moved]
    # the join goes just before the first gate, so the nodes stay in forward order
    first = next(k for k, nid in enumerate(nodes) if nid in shared)
    items = list(nodes.items())
    nodes = dict(items[:first] + [(join.id, join)] + items[first:])
    return nodes, _dedupe(kept + into_join + out_of_join)


def _group_node(key: tuple, nid: str, ms: list[Node], g: Graph, op: Graph, into, sources, h: str | None) -> Node:
    """The node for one group of cell_level: ms are its members (for cell_out: the tensors leaving;
    for a cell box, h is the step's h_t, whose value and gradient the box shows)."""
    kind, where = key
    if kind == "own":
        return g.nodes[nid]
    if kind == "cell":
        rep = g.nodes[h] if h is not None else ms[-1]
        modules = [part for part in common_prefix([m.scope for m in ms]) if not _structural(part)]
        name = modules[-1] if modules else None
        return Node(nid, "cell", where, name=name, value=rep.value, grad=rep.grad, members=_flat(ms))
    if kind in ("cell_in", "cell_out"):
        names = [_input_name(op, m, into, sources) if kind == "cell_in" else node_formula(op, m, into) for m in ms]
        first = next((m for m in ms if m.grad is not None), ms[0])
        return Node(
            nid,
            kind,
            where,
            name=", ".join(dict.fromkeys(names)),
            shape=first.shape,
            value=first.value,
            grad=first.grad,
            members=_flat(ms),
        )
    counts: dict[str, int] = {}
    for m in ms:
        counts[m.op or m.kind] = counts.get(m.op or m.kind, 0) + 1
    ops = ", ".join(f"{k} ×{v}" if v > 1 else k for k, v in counts.items())
    root = next((m for m in ms if m.id in g.roots and m.name), None)
    rep = ms[-1]
    return Node(
        nid,
        "group",
        where,
        name=root.name if root else None,
        args=ops,
        shape=rep.shape,
        value=rep.value,
        grad=rep.grad,
        members=_flat(ms),
    )


def _made_from(g: Graph, nid: str, sources: dict[str, list[str]]) -> set[str]:
    """The kinds of the leaves a tensor was computed from ({'param'}: from weights alone)."""
    return {g.nodes[n].kind for n in _reach({nid}, sources) if not sources[n]}


def _input_name(op: Graph, m: Node, into: dict[str, list[Edge]], sources: dict[str, list[str]]) -> str:
    """What a step's input is called: x_t for piece t of a projection of one input x made before the
    steps (an nn layer computes x @ W_ihᵀ + b for all steps at once), 'h_t of layer 0' when it is
    made from the outputs of the layer below, else its name or formula."""
    if m.stub_of is not None and isinstance(m.piece, int):
        in_steps = lambda n: step_of(op.nodes[n].scope) is not None  # noqa: E731
        made_from = _reach({m.stub_of}, sources, stop=in_steps)
        below = sorted(n for n in made_from if in_steps(n))
        if below:  # the outputs of the layer below
            layer = " ".join(
                p.replace("=", " ") for p in step_of(op.nodes[below[0]].scope)[:-1] if p.startswith("layer=")
            )
            named = any(op.nodes[n].name for n in below)
            return f"h_{m.piece} of {layer}" if layer and named else node_formula(op, m, into)
        leaves = [op.nodes[n] for n in made_from if op.nodes[n].kind == "input"]
        if len(leaves) == 1 and leaves[0].name:
            return f"{leaves[0].name}_{m.piece}"
    return node_formula(op, m, into)


def _structural(part: str) -> bool:
    return part.startswith(("t=", "layer="))


def _flat(ms: list[Node]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m for n in ms for m in n.members))


# -- rolled --------------------------------------------------------------------------------------


def roll(g: Graph) -> Graph:
    """One step per layer instead of T: the article's rolled figure, a cell with loop edges.

    Each node of an earlier step is merged into the node in the same place of the last step (same
    scope within the step, kind and op, same position among those); edges from one step into the
    next become loop edges labelled with the tensor and ×T. A node with no counterpart in the last
    step (the initial state, used by step 0 only) stays, drawn in the rolled step.
    """
    steps = g.steps()
    if not steps:
        return _derive(g, dict(g.nodes), list(g.edges), rolled=True)
    layers: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for s in steps:
        layers.setdefault(s[:-1], []).append(s)
    key_of: dict[str, tuple] = {}
    seen: dict[tuple, int] = {}
    for nid, n in g.nodes.items():
        s = step_of(n.scope)
        if s is not None:
            base = (s, n.scope[len(s) :], n.kind, n.op, n.stub_of is not None)
            seen[base] = seen.get(base, -1) + 1
            key_of[nid] = (s[:-1],) + base[1:] + (seen[base],)
    target = {key: nid for nid, key in key_of.items() if step_of(g.nodes[nid].scope) == layers[key[0]][-1]}

    mapped: dict[str, str] = {}
    merged: dict[str, list[Node]] = {}
    for nid, n in g.nodes.items():
        mapped[nid] = target.get(key_of[nid], nid) if nid in key_of else nid
        merged.setdefault(mapped[nid], []).append(n)

    nodes: dict[str, Node] = {}
    for nid, group in merged.items():
        n = g.nodes[nid]
        s = step_of(n.scope)
        scope = n.scope
        if s is not None:
            ts = layers[s[:-1]]
            scope = s[:-1] + (f"t=0..{len(ts) - 1}",) + n.scope[len(s) :]
        names = {m.name for m in group}
        # x_0, x_1, ... -> x_t; a step's own piece (...)[0], (...)[1], ... -> (...)[t]
        name = re.sub(r"\d+(?=]?$)", "t", n.name) if n.name and len(names) > 1 else n.name
        piece = "t" if len({m.piece for m in group}) > 1 else n.piece  # each step's own piece: [t]
        nodes[nid] = replace(n, scope=scope, name=name, piece=piece, members=_flat(group))
    edges = []
    for e in g.edges:
        a, b = g.nodes[e.src], g.nodes[e.dst]
        sa, sb = step_of(a.scope), step_of(b.scope)
        e = replace(e, src=mapped[e.src], dst=mapped[e.dst])
        if sa is not None and sb is not None and sa != sb and sa[:-1] == sb[:-1]:
            name = e.label or article_name(a.name or "", a.scope)  # the cell state is C, as the article writes it
            e = replace(e, kind="loop", label=f"{name} ×{len(layers[sa[:-1]])}".strip())
        edges.append(e)
    return _derive(g, nodes, _dedupe(edges), rolled=True)


# -- focus ---------------------------------------------------------------------------------------


def focus(g: Graph, scopes: tuple[str, ...] = (), path: tuple[str, str] | None = None) -> Graph:
    """Highlight some nodes and dim the rest, like the article's focus figures.

    scopes: the nodes in any of these scopes (e.g. 'forget_gate'), with the edges into and out of
    them. path: (a, b), two traced node ids: every node on a path between them, in either direction,
    with the edges of those paths. A coarse node is in focus when any tensor it stands for is.
    """
    op = g.op_graph()
    if scopes:
        # A step drawn as a box (A, its x_t and h_t) stands for every gate: it is not in focus for one
        # of them. In the step drawn in detail, the point where the gates' inputs meet is, when it
        # feeds a gate in focus: the article highlights the lines into the gate.
        boxed = {step_of(n.scope) for n in g.nodes.values() if n.kind == "cell"}

        def inside(n: Node) -> bool:  # in one of the scopes, or stands for a tensor that is
            if any(s in n.scope for s in scopes):
                return True
            summary = n.kind in ("cell", "cell_in", "cell_out") and step_of(n.scope) in boxed
            return not summary and any(s in op.nodes[m].scope for m in n.members for s in scopes)

        on = {nid for nid, n in g.nodes.items() if inside(n)}
        on |= {e.src for e in g.edges if e.dst in on and g.nodes[e.src].kind == "join"}
        present = sorted({part for n in op.nodes.values() for part in n.scope if not _structural(part)})
        if not on and any(s in present for s in scopes):
            raise ValueError(
                f"focus {scopes}: that scope is inside the cell boxes here; draw a step inside with "
                "detail=, or use level='gate'"
            )
        if not on:
            raise ValueError(f"focus {scopes}: no node is in such a scope; the scopes here are {present}")

        def edge_on(e: Edge) -> bool:
            if g.nodes[e.src].kind == "join":  # only its lines into the gates in focus
                return e.dst in on
            return e.src in on or e.dst in on

    else:
        a, b = path
        ends = [{nid for nid, n in g.nodes.items() if end in n.members} for end in (a, b)]
        on = _between(g, ends[0], ends[1]) or _between(g, ends[1], ends[0])
        if not on:
            raise ValueError("focus: there is no path between the two tensors in the drawing")

        def edge_on(e: Edge) -> bool:
            return e.src in on and e.dst in on

    nodes = {nid: replace(n, focus=nid in on) for nid, n in g.nodes.items()}
    return _derive(g, nodes, [replace(e, focus=edge_on(e)) for e in g.edges])


def _between(g: Graph, sources: set[str], targets: set[str]) -> set[str]:
    """The nodes on some path from a source to a target (following edges forward).

    A stub stands for the shared node it copies (see share_stubs): the path goes from that node
    into each stub that copies it, and out of each sink into the node the sink stands for.
    """
    forward: dict[str, list[str]] = {nid: [] for nid in g.nodes}
    backward: dict[str, list[str]] = {nid: [] for nid in g.nodes}
    links = [(e.src, e.dst) for e in g.edges]
    for nid, n in g.nodes.items():
        if n.stub_of is not None and n.stub_of in g.nodes:
            links.append((nid, n.stub_of) if n.kind == "sink" else (n.stub_of, nid))
    for src, dst in links:
        forward[src].append(dst)
        backward[dst].append(src)
    return _reach(sources, forward) & _reach(targets, backward)


def _reach(start: set[str], adjacency: dict[str, list[str]], stop=lambda nid: False) -> set[str]:
    """Every node reachable from start by following adjacency; a node where stop(node) holds is
    reached but not gone through."""
    seen, stack = set(start), [nid for nid in start if not stop(nid)]
    while stack:
        for m in adjacency[stack.pop()]:
            if m not in seen:
                seen.add(m)
                if not stop(m):
                    stack.append(m)
    return seen


# -- the cell state lane -------------------------------------------------------------------------


def mark_lane(g: Graph) -> Graph:
    """Put the cell state on its own straight lane through the steps (the article's line along the
    top): the tensors named c, each op between two of them (the x of c_t = f * c_{t-1} + i * g), and
    the edges along it, which the drawing keeps short and straight.
    """
    into, consumers = g.parents(), g.consumers()
    lane: dict[str, str] = {}
    on: dict[str, tuple[str, str]] = {}  # lane -> the labels of the edges that carry it between steps
    for name, label in LANES.items():
        named = {nid for nid, n in g.nodes.items() if n.name == name and n.kind not in LEAF_KINDS}
        lane.update(dict.fromkeys(named, name))
        carried = (name, label)  # an edge from another step carrying it (cell level names it C)
        for nid in g.nodes:
            fed = any(e.src in named or e.label in carried for e in into[nid])
            if fed and any(c in named for c in consumers[nid]):
                lane.setdefault(nid, name)
        on[name] = carried
    if not lane:
        return g

    def edge_lane(e: Edge) -> str:  # between two of its nodes, or into or out of one from another step
        a, b = lane.get(e.src, ""), lane.get(e.dst, "")
        if a and a == b:
            return a
        return next((x for x in (a, b) if x and e.label in on[x]), "")

    nodes = {nid: replace(n, lane=lane.get(nid, "")) for nid, n in g.nodes.items()}
    return _derive(g, nodes, [replace(e, lane=edge_lane(e)) for e in g.edges])
