"""A guided tour of one backward pass: every node, the gradient that arrives, the op's rule, what leaves.

We build a small gated step of named tensors, the kind an LSTM step is made of:

    Wx = W @ x;  z = Wx + b             (4,)  a matrix product, then an add
    a, c = z.split(2)                   (2,)  one op with two outputs
    t = tanh(a);  s = sigmoid(c)        (2,)
    h = t * s                           (2,)  a gate: s decides how much of t passes
    L = sum(h * h) + sum(W * W)               h is used twice and W three times: their gradients add up

then walk the graph exactly the way `Tensor.backward` does: `tg.topological_order` gives the order
(each node after everything that consumed it), a node receives one gradient per output, its own
`backward` applies the chain rule, and what it sends to an input is added to what that input has
already received. At the end the real `L.backward()` runs, and `tg.gradcheck` compares it with
finite differences.

Run:  python demos/autograd_tour.py [--seed 0] [--smoke]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.cli import HelpFormatter, non_negative_int

# -- settings ---------------------------------------------------------------------------------------
SEED = 0  # the leaves' values are drawn from this seed (override with --seed)


def build(x: tg.Tensor, W: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
    """The expression, with a name on every tensor so the narration can refer to it."""

    def named(t: tg.Tensor, name: str) -> tg.Tensor:
        t.name = name
        return t

    z = named(named(W @ x, "Wx") + b, "z")
    a, c = z.split(2)
    a.name, c.name = "a", "c"
    h = named(named(a.tanh(), "t") * named(c.sigmoid(), "s"), "h")
    hh, WW = named(h * h, "hh"), named(W * W, "WW")
    return named(named(hh.sum(), "sum_hh") + named(WW.sum(), "sum_WW"), "L")


def label(parent) -> str:
    """The name of what a node's input is: a leaf tensor's own name, or the name of output k of a node."""
    if isinstance(parent, tg.Tensor):
        return parent.name or "const"
    node, k = parent
    return node.names[k] or f"{node.name}(…)"


def show(a) -> str:
    """An array on one line: [+0.1234 -0.5678], matrices row after row."""
    text = np.array2string(np.asarray(a), precision=4, sign="+", floatmode="fixed", max_line_width=1000)
    return " ".join(text.split())


def tour(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal(2), requires_grad=True, name="x")
    W = tg.Tensor(rng.standard_normal((4, 2)), requires_grad=True, name="W")
    b = tg.Tensor(rng.standard_normal(4), requires_grad=True, name="b")
    # The plain core's ops (no speed lessons), and every value kept on the graph for the narration.
    with tg.plain(), tg.keep_values():
        loss = build(x, W, b)
    order = tg.topological_order(loss)

    print("Forward pass (each node remembers its op, where its inputs came from, and here its values):")
    for node in reversed(order):
        inputs = ", ".join(label(p) for p in node.parents)
        outputs = ", ".join(name or "…" for name in node.names)
        values = "; ".join(show(v) for v in node.values)
        print(f"  {outputs:>6} = {node.name}({inputs}) = {values}")

    print("\nBackward pass, in topological order (a node runs once all its consumers have sent their gradient):")
    print("  start: dL/dL = 1")
    grads = {(loss._ctx, loss._k): np.ones(())}  # dL/d(tensor) for every tensor reached so far
    for step, node in enumerate(order, 1):
        dys = [grads.pop((node, k), None) for k in range(len(node.shapes))]
        rule = node.rule()  # the first line of the op's docstring
        print(f"\n  step {step}: {node.name}   rule: {rule}")
        for k, dy in enumerate(dys):
            print(f"    arrives   dL/d{label((node, k))} = {show(dy) if dy is not None else 'nothing (unused)'}")
        dxs = node.backward(*dys)  # the chain rule at this node, as the engine calls it
        for parent, dx in zip(node.parents, dxs, strict=True):
            if dx is None:
                continue
            if parent in grads:
                grads[parent] = grads[parent] + dx
                print(f"    to {label(parent):>6}: {show(dx)}, added to what it had: {show(grads[parent])}")
            else:
                grads[parent] = dx
                print(f"    to {label(parent):>6}: {show(dx)}")

    print("\nGradients of the leaves, summed over every path (W collected three: two from W * W, one from W @ x):")
    leaves = {leaf.name: g for leaf, g in grads.items()}
    for name in ("x", "W", "b"):
        print(f"  dL/d{name} = {show(leaves[name])}")

    loss.backward()
    for leaf in (x, W, b):
        assert np.allclose(leaf.grad, leaves[leaf.name], rtol=1e-12, atol=1e-15), leaf.name
    print("\nloss.backward() gives the same numbers:", ", ".join(f"{t.name}.grad" for t in (x, W, b)))

    ok = tg.gradcheck(build, [x, W, b])
    print(f"tg.gradcheck against central finite differences: {'passed' if ok else 'FAILED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--seed", type=non_negative_int, default=SEED, help="seed of the leaves' values")
    parser.add_argument("--smoke", action="store_true", help="run quickly (the tour is already quick)")
    args = parser.parse_args()
    tour(args.seed)


if __name__ == "__main__":
    main()
