"""`draw` and `view`: from tensors to a drawing, through the model and its views.

    trace (model.py) -> number_backward -> share_stubs -> hide_loss -> level (for `detail`: gate
    level, then cell level around the one step) -> mark_lane -> roll -> elide -> focus -> labels
    (views.py) -> to_dot (dot.py)

`view` returns the graph model that would be drawn (tests and learners can inspect it);
`draw` returns a graphviz.Digraph, which shows inline in Jupyter and writes files with
`.render("name", format="svg")`: name.svg and nothing else (graphviz's own render also leaves the
DOT text beside it, in a file called `name`; pass cleanup=False to keep it).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core import Tensor
from . import views
from .dot import GradScale, to_dot
from .model import Graph, trace

if TYPE_CHECKING:  # graphviz is imported when a drawing is made, not with the package
    import graphviz

LEVELS = views.LEVELS
_LEVEL_VIEWS = {"op": lambda g: g, "gate": views.gate_level, "cell": views.cell_level}


@functools.cache
def _drawing() -> type[graphviz.Digraph]:
    """The Digraph `draw` returns; made on the first drawing, as graphviz is imported only then."""
    import graphviz

    class Drawing(graphviz.Digraph):
        """A graphviz.Digraph whose render writes only the drawing: render("lstm", format="svg") -> lstm.svg."""

        def render(self, *args, cleanup: bool = True, **kwargs) -> str:
            return super().render(*args, cleanup=cleanup, **kwargs)

    Drawing.__qualname__ = "Drawing"
    return Drawing


class GraphTooLargeWarning(UserWarning):
    """The graph has more nodes than max_nodes at the level asked for: a coarser level is drawn."""


def view(
    *tensors: Tensor,
    level: str = "op",
    rolled: bool = False,
    backward: bool = False,
    focus: str | Sequence[str] | Sequence[Tensor] | None = None,
    max_nodes: int | None = 400,
    detail: int | None = None,
    elide: tuple[int, int] | None = None,
    show_loss: bool | None = None,
) -> Graph:
    """The graph model `draw` draws, with the same arguments (see `draw`)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if detail is not None and (level != "cell" or rolled):
        raise ValueError("detail draws one step inside a chain of cells: use it with level='cell', unrolled")
    if elide is not None and (rolled or len(elide) != 2 or min(elide) < 1):
        raise ValueError(f"elide: (first, last) steps to keep, each at least 1, unrolled; got {elide!r}")
    items = () if focus is None else (focus,) if isinstance(focus, (str, Tensor)) else tuple(focus)
    if focus is not None:
        scopes = bool(items) and all(isinstance(f, str) for f in items)
        if not scopes and not (len(items) == 2 and all(isinstance(f, Tensor) for f in items)):
            raise TypeError("focus: give scope names such as ('forget_gate',), or two tensors such as (loss, x0)")
    g = trace(*tensors)
    if backward:
        g = views.number_backward(g)
    g = views.share_stubs(g)
    if show_loss is None:  # at cell level the figure ends at h_t, unless a focus path starts at the loss
        show_loss = level != "cell" or any(isinstance(f, Tensor) for f in items)
    if not show_loss:
        g = views.hide_loss(g)
    if detail is not None:
        steps = g.steps()
        if not -len(steps) <= detail < len(steps):
            raise ValueError(f"detail: step {detail} is not one of the {len(steps)} steps drawn")
    for k, lvl in enumerate(LEVELS[LEVELS.index(level) :], start=LEVELS.index(level)):
        if detail is None:
            v = views.mark_lane(_LEVEL_VIEWS[lvl](g))
        else:  # the step drawn inside is at gate level: the cell level is made from the gate level
            v = views.mark_lane(views.cell_level(views.gate_level(g), detail=detail))
        v = views.roll(v) if rolled else v
        v = views.elide(v, *elide) if elide else v
        if max_nodes is None or len(v.nodes) <= max_nodes:
            break
        if k + 1 < len(LEVELS):
            warnings.warn(
                f"the graph has {len(v.nodes)} nodes at level {lvl!r}, more than max_nodes={max_nodes}: "
                f"drawing it at level {LEVELS[k + 1]!r} instead. For the full graph pass max_nodes=None "
                "(or a larger number; on the command line --max-nodes 0), or draw fewer steps.",
                GraphTooLargeWarning,
                stacklevel=3,
            )
        else:
            warnings.warn(
                f"the graph still has {len(v.nodes)} nodes at the coarsest level 'cell' (max_nodes={max_nodes}); "
                "drawing it anyway, which may be slow to lay out. Draw fewer steps, or rolled=True.",
                GraphTooLargeWarning,
                stacklevel=3,
            )
    if focus is not None:
        if scopes:
            v = views.focus(v, scopes=items)
        else:
            v = views.focus(v, path=(g.id_of(items[0]), g.id_of(items[1])))
    return views.backward_labels(v) if backward else v


def draw(
    *tensors: Tensor,
    level: str = "op",
    rolled: bool = False,
    backward: bool = False,
    focus: str | Sequence[str] | Sequence[Tensor] | None = None,
    max_nodes: int | None = 400,
    title: str | None = None,
    detail: int | None = None,
    elide: tuple[int, int] | None = None,
    show_loss: bool | None = None,
    labels: str = "full",
    grad_scale: tuple[int, int] | None = None,
    direction: str = "LR",
) -> graphviz.Digraph:
    """Draw the computation graph that produced `tensors` (usually the loss).

    level: "op" (every primitive), "gate" (one box per gate per step, pointwise ops as circles) or
        "cell" (one box per time step, the article's module A, with x_t in and h_t out).
    rolled: one step per layer with loop edges for the recurrent state, labelled ×T.
    backward: edges reversed and numbered in the order backward runs them, labelled at op level with
        each op's rule for the gradient it sends (needs exactly one tensor).
    focus: scope names (e.g. "forget_gate") to highlight, or two tensors (loss, x0) to highlight the
        paths between; the rest is dimmed.
    max_nodes: above this many nodes a coarser level is drawn, with a warning; None for no limit.
    title: a caption above the drawing.
    detail: at level "cell", the number of one step to draw inside, at gate level, among the boxes
        of the others (the article's chain of modules with one opened).
    elide: (first, last): keep that many steps at each end of each layer and draw the rest as one "…".
    show_loss: draw what comes after the steps (the loss). Default: yes at op and gate level, no at
        cell level.
    labels: "full" (name, op, shape, values, gradient norm) or "names" (names only, as the article).
    grad_scale: (lo, hi), the range of log10 gradient norms the fill colours span; give drawings shown
        side by side the same one (`grad_range(loss_a, loss_b)`) so their colours compare.
    direction: "LR" (left to right, the default) or "TB" (top to bottom: narrower, for long graphs
        on a page). A chain of cells (level "cell", no step in detail) is drawn as the article draws
        it whatever this says: each step a column, x_t below and h_t above, time left to right.

    After `loss.backward(retain_grads=True)` the fill colour shows log10 of each gradient's norm,
    with a legend. The DOT text is deterministic: the same graph gives the same text.

    Returns a graphviz.Digraph whose `render("lstm", format="svg")` writes lstm.svg and no DOT file
    beside it (cleanup=False keeps that too); `.source` is the DOT text, `.pipe(format=...)` the bytes.
    """
    if labels not in ("full", "names"):
        raise ValueError(f"labels must be 'full' or 'names', got {labels!r}")
    v = view(
        *tensors,
        level=level,
        rolled=rolled,
        backward=backward,
        focus=focus,
        max_nodes=max_nodes,
        detail=detail,
        elide=elide,
        show_loss=show_loss,
    )
    dot = to_dot(v, title, labels=labels, grad_scale=grad_scale, direction=direction)
    return _drawing()(
        dot.name,
        comment=dot.comment,
        graph_attr=dot.graph_attr,
        node_attr=dot.node_attr,
        edge_attr=dot.edge_attr,
        body=dot.body,
        strict=dot.strict,
    )


def grad_range(*tensors: Tensor) -> tuple[int, int]:
    """The range (lo, hi) of log10 gradient norms in the graphs of all these tensors (after
    backward(retain_grads=True)): pass it as draw(..., grad_scale=) to each, for one colour scale."""
    scales = [GradScale.of(trace(t)) for t in tensors]
    scales = [s for s in scales if s is not None]
    if not scales:
        raise ValueError("grad_range: none of these graphs has gradients (backward with retain_grads=True first)")
    return min(s.lo for s in scales), max(s.hi for s in scales)
