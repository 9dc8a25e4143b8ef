"""The graph renderer: draw the real computation graph of a recurrent network, step by step.

    g = tg.viz.draw(loss, level="gate")     # a graphviz.Digraph; shows inline in Jupyter
    g.render("lstm", format="svg")          # or .pipe(format="png"), or g.source for the DOT text
    tg.viz.explore(loss).save("lstm.html")  # a page to click through the forward and backward pass

model.py traces the recorded graph into a plain model (nodes, edges, scope tree); views.py turns it
into what is drawn (levels, rolled, focus, backward); dot.py writes it as DOT. `view` gives the
model that `draw` would draw; explore.py makes one HTML page of the drawing and every value and gradient,
to step through. Nothing here changes the recorded graph.
"""

from .dot import to_dot
from .draw import LEVELS, GraphTooLargeWarning, draw, grad_range, view
from .explore import Explorer, explore
from .model import Cluster, Edge, Graph, Node, Summary, trace

__all__ = [
    "LEVELS",
    "Cluster",
    "Edge",
    "Explorer",
    "Graph",
    "GraphTooLargeWarning",
    "Node",
    "Summary",
    "draw",
    "explore",
    "grad_range",
    "to_dot",
    "trace",
    "view",
]
