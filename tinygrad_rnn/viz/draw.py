"""`draw` and `view`: from tensors to a drawing, through the model and its views.

    trace (model.py) -> number_backward -> share_stubs -> level -> roll -> focus -> labels (views.py)
    -> to_dot (dot.py)

`view` returns the graph model that would be drawn (tests and learners can inspect it);
`draw` returns the graphviz.Digraph, which shows inline in Jupyter and writes files with
`.render("name", format="svg")`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core import Tensor
from . import views
from .dot import to_dot
from .model import Graph, trace

if TYPE_CHECKING:  # graphviz is imported when a drawing is made, not with the package
    import graphviz

LEVELS = views.LEVELS
_LEVEL_VIEWS = {"op": lambda g: g, "gate": views.gate_level, "cell": views.cell_level}


class GraphTooLargeWarning(UserWarning):
    """The graph has more nodes than max_nodes at the level asked for: a coarser level is drawn."""


def view(
    *tensors: Tensor,
    level: str = "op",
    rolled: bool = False,
    backward: bool = False,
    focus: str | Sequence[str] | Sequence[Tensor] | None = None,
    max_nodes: int | None = 400,
) -> Graph:
    """The graph model `draw` draws, with the same arguments (see `draw`)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    g = trace(*tensors)
    if backward:
        g = views.number_backward(g)
    g = views.share_stubs(g)
    for k, lvl in enumerate(LEVELS[LEVELS.index(level) :], start=LEVELS.index(level)):
        v = views.mark_lane(_LEVEL_VIEWS[lvl](g))
        v = views.roll(v) if rolled else v
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
        items = (focus,) if isinstance(focus, (str, Tensor)) else tuple(focus)
        if items and all(isinstance(f, str) for f in items):
            v = views.focus(v, scopes=items)
        elif len(items) == 2 and all(isinstance(f, Tensor) for f in items):
            v = views.focus(v, path=(g.id_of(items[0]), g.id_of(items[1])))
        else:
            raise TypeError("focus: give scope names such as ('forget_gate',), or two tensors such as (loss, x0)")
    return views.backward_labels(v) if backward else v


def draw(
    *tensors: Tensor,
    level: str = "op",
    rolled: bool = False,
    backward: bool = False,
    focus: str | Sequence[str] | Sequence[Tensor] | None = None,
    max_nodes: int | None = 400,
    title: str | None = None,
) -> graphviz.Digraph:
    """Draw the computation graph that produced `tensors` (usually the loss).

    level: "op" (every primitive), "gate" (one box per gate per step, pointwise ops as circles) or
        "cell" (one box per time step, the article's module A).
    rolled: one step per layer with loop edges for the recurrent state, labelled ×T.
    backward: edges reversed and numbered in the order backward runs them, labelled at op level with
        the local derivative (needs exactly one tensor).
    focus: scope names (e.g. "forget_gate") to highlight, or two tensors (loss, x0) to highlight the
        paths between; the rest is dimmed.
    max_nodes: above this many nodes a coarser level is drawn, with a warning; None for no limit.
    title: a caption above the drawing.

    Labels show name, op, shape, values (statistics, or the values themselves for tiny tensors) and,
    after `loss.backward(retain_grads=True)`, gradient norms; the fill colour then shows log10 of the
    gradient norm, with a legend. The DOT text is deterministic: the same graph gives the same text.
    """
    return to_dot(
        view(*tensors, level=level, rolled=rolled, backward=backward, focus=focus, max_nodes=max_nodes), title
    )
