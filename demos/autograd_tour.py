"""A guided tour of one backward pass: every node, its local derivative, the gradient in and out.

We build a tiny expression of named scalars, the kind a single recurrent step is made of,

    wx = w * x    z = wx + b    h = tanh(z)    hh = h * h    wh = w * h    L = hh + wh

then walk the graph exactly the way `Tensor.backward` does (tinygrad_rnn.tensor.topological_order
gives the order), printing at each node what arrives, the op's local derivative and what leaves.
At the end the real `L.backward()` runs, and `tg.gradcheck` compares it with finite differences.

Run:  python demos/autograd_tour.py [--x 0.5 --w -1.5 --b 0.8] [--smoke]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.tensor import topological_order

# -- settings ---------------------------------------------------------------------------------------
X, W, B = 0.5, -1.5, 0.8  # the leaves' values (override with --x --w --b)


def build(x: tg.Tensor, w: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
    """The expression, with a name on every tensor so the narration can refer to it."""
    wx = w * x
    wx.name = "wx"
    z = wx + b
    z.name = "z"
    h = z.tanh()
    h.name = "h"
    hh = h * h
    hh.name = "hh"
    wh = w * h
    wh.name = "wh"
    loss = hh + wh
    loss.name = "L"
    return loss


def label(node) -> str:
    """A graph node's name: a leaf Tensor's name, or the name given to the tensor an op made."""
    if isinstance(node, tg.Tensor):
        return node.name or "const"
    return node.label or f"({node.name})"


def rule(fn: tg.Function) -> str:
    """The first line of the op's docstring: its maths and derivative."""
    return (type(fn).__doc__ or "").strip().splitlines()[0]


def tour(x: float, w: float, b: float) -> None:
    xs = tg.Tensor(np.float64(x), requires_grad=True, name="x")
    ws = tg.Tensor(np.float64(w), requires_grad=True, name="w")
    bs = tg.Tensor(np.float64(b), requires_grad=True, name="b")
    with tg.keep_values():  # the graph keeps only what backward needs, unless asked to keep every value
        loss = build(xs, ws, bs)

    print("Forward pass (each node remembers its op, where its inputs came from, and here its value):")
    for fn in reversed(topological_order(loss)):
        args = ", ".join(label(p) for p in fn.parents)
        print(f"  {label(fn):>4} = {fn.name}({args}) = {float(fn.value):+.6f}")

    print("\nBackward pass, in topological order (a node runs once all its consumers have sent their gradient):")
    print("  start: dL/dL = 1")
    grads = {loss._ctx: np.float64(1.0)}
    leaf_grads: dict[str, float] = {}
    for step, fn in enumerate(topological_order(loss), 1):
        g = grads.pop(fn)
        print(f"\n  step {step}: node {label(fn)} = {fn.name}(...)   rule: {rule(fn)}")
        print(f"    incoming  dL/d{label(fn)} = {float(g):+.6f}")
        outgoing = fn.backward(g)  # what the engine calls; the graph is kept (we do not release it)
        for p, pg in zip(fn.parents, outgoing, strict=True):
            if pg is None:
                continue
            local = float(pg) / float(g) if g != 0 else float("nan")
            print(
                f"    to {label(p):>4}: local d{label(fn)}/d{label(p)} = {local:+.6f}, "
                f"outgoing += {float(g):+.6f} * {local:+.6f} = {float(pg):+.6f}"
            )
            if isinstance(p, tg.Tensor):  # a leaf
                leaf_grads[p.name] = leaf_grads.get(p.name, 0.0) + float(pg)
            else:
                grads[p] = grads.get(p, 0.0) + pg

    print("\nGradients of the leaves, summed over every path (w is used twice, so it collects twice):")
    for name in ("x", "w", "b"):
        print(f"  dL/d{name} = {leaf_grads[name]:+.6f}")

    loss.backward()
    engine = {"x": xs.grad, "w": ws.grad, "b": bs.grad}
    for name, value in engine.items():
        assert np.isclose(value, leaf_grads[name], rtol=1e-12), (name, value, leaf_grads[name])
    print(
        "\nloss.backward() gives the same numbers:", ", ".join(f"{k}.grad = {float(v):+.6f}" for k, v in engine.items())
    )

    ok = tg.gradcheck(build, [xs, ws, bs])
    print(f"tg.gradcheck against central finite differences: {'passed' if ok else 'FAILED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x", type=float, default=X)
    parser.add_argument("--w", type=float, default=W)
    parser.add_argument("--b", type=float, default=B)
    parser.add_argument("--smoke", action="store_true", help="run quickly (the tour is already quick)")
    args = parser.parse_args()
    tour(args.x, args.w, args.b)


if __name__ == "__main__":
    main()
