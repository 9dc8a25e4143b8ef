"""Gradient flow through time: how much of the loss's gradient reaches each earlier step.

The loss sits at the last step, t = T - 1. Backpropagation carries its gradient back through every
copy of the cell; for each step t we measure the norm of dL/dh_t (and of dL/dc_t, along an LSTM's cell
state). A plain RNN multiplies the gradient by W_hh and tanh's slope at every step, so it shrinks
geometrically; an LSTM's cell state multiplies it only by the forget gate. We measure it at
initialisation and after training on a task that needs the first step (recall the key token seen
at t = 0), and draw each trained model's unrolled graph coloured by gradient norm, all three on one
colour scale.

Writes out/gradient_flow/{gradient_norms.png, results.csv, summary.md, <cell>_graph.svg} in the project folder
(the one demos/ is in, wherever the script runs from), or in --out DIR.

Run:  python demos/gradient_flow.py             (about 10 seconds on 2 cores)
      python demos/gradient_flow.py --smoke     (seconds: checks that everything runs)
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

# Tiny matrices: one BLAS thread is faster than two threads waiting for each other on a small
# machine. Set OMP_NUM_THREADS yourself to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import graphviz  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
import tinygrad_rnn.nn.functional as F  # noqa: E402
from tinygrad_rnn import nn  # noqa: E402
from tinygrad_rnn.cli import HelpFormatter, non_negative_int, positive_int, writable_dir  # noqa: E402
from tinygrad_rnn.data import recall_batch  # noqa: E402
from tinygrad_rnn.viz.views import elided  # noqa: E402

# -- settings ---------------------------------------------------------------------------------------
STEPS = 30  # sequence length T: the key is at t = 0, the question at t = T - 1
KEYS, FILLERS, HIDDEN, BATCH, LR = 4, 4, 32, 32, 0.01
UPDATES = 300  # training updates per cell (the same for every cell)
GATE_BIAS = 3.0  # added at the start to the LSTM's forget-gate and the GRU's update-gate bias
DRAW_ENDS = (3, 2)  # the graphs draw the first 3 and the last 2 of the T steps; a "⋯" stands for the rest
CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
OUT = Path(__file__).resolve().parent.parent / "out" / "gradient_flow"  # the project's out/, run from anywhere


def task(rng: np.random.Generator, n: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The recall task (tinygrad_rnn/data.py), time-major: x (steps, n, KEYS + FILLERS) and the keys (n,)."""
    return recall_batch(rng, n, steps, KEYS, FILLERS, batch_first=False)


class Model(nn.Module):
    """A cell unrolled by hand (so every step's h is a tensor we can ask for its gradient) + a read-out."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.cell = CELLS[kind](KEYS + FILLERS, HIDDEN)
        self.head = nn.Linear(HIDDEN, KEYS)
        keep = {"lstm": 1, "gru": 1}.get(kind)  # the forget (i, f, g, o) / update (r, z, n) block
        if keep is not None:
            self.cell.bias_hh.data[keep * HIDDEN : (keep + 1) * HIDDEN] += GATE_BIAS

    def forward(self, x: np.ndarray, input_grads: bool = False) -> tuple[tg.Tensor, list[tg.Tensor], list[tg.Tensor]]:
        """Logits at the last step, and every step's h (and c, for the LSTM). input_grads: each x_t
        requires grad, so a drawing can show the gradient reaching it."""
        hs, cs, state = [], [], None
        for t in range(len(x)):
            with tg.scope(f"t={t}"):
                state = self.cell(tg.Tensor(x[t], requires_grad=input_grads, name=f"x_{t}"), state)
            h, c = state if isinstance(state, tuple) else (state, None)
            hs.append(h)
            cs.append(c)
        return self.head(hs[-1]), hs, cs


def gradient_norms(model: Model, x: np.ndarray, keys: np.ndarray) -> tuple[list[float], list[float] | None]:
    """||dL/dh_t|| (and ||dL/dc_t||) for every step t, averaged over the batch."""
    logits, hs, cs = model(x)
    F.cross_entropy(logits, keys).backward(retain_grads=True)
    model.zero_grad()

    def norms(ts: list[tg.Tensor]) -> list[float]:
        return [float(np.linalg.norm(t.grad, axis=-1).mean()) if t.grad is not None else 0.0 for t in ts]

    return norms(hs), norms(cs) if cs[0] is not None else None


def train(model: Model, rng: np.random.Generator, updates: int, quiet: bool) -> float:
    opt = tg.optim.Adam(model.parameters(), lr=LR)
    for _ in tqdm(range(updates), desc=f"training {model.kind}", leave=False, disable=quiet):
        x, keys = task(rng, BATCH, STEPS)
        logits, _, _ = model(x)
        loss = F.cross_entropy(logits, keys)
        opt.zero_grad()
        loss.backward()
        nn.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, keys = task(np.random.default_rng(999), 512, STEPS)
    with tg.no_grad():
        return float((model(x)[0].data.argmax(-1) == keys).mean())


def graph_loss(model: Model) -> tg.Tensor:
    """The loss of one sequence of T steps (the length trained on), backpropagated with retain_grads."""
    x, keys = task(np.random.default_rng(1), 1, STEPS)
    with tg.scope(model.kind), tg.keep_values():
        logits, _, _ = model(x, input_grads=True)
        loss = F.cross_entropy(logits, keys)
    loss.name = "loss"
    loss.backward(retain_grads=True)
    model.zero_grad()
    return loss


def draw(losses: dict[str, tg.Tensor], out: Path) -> None:
    """Each trained model's unrolled graph at cell level, on one colour scale shared by all of them."""
    scale = tg.viz.grad_range(*losses.values())
    hidden = elided(STEPS, *DRAW_ENDS)
    for kind, loss in losses.items():
        drawn = f"{hidden} of them as ⋯" if hidden else "all drawn"
        title = (
            f"{kind.upper()} after training, T = {STEPS} steps ({drawn}): "
            "the gradient reaching each step\n(the same colour scale for the RNN, LSTM and GRU graphs)"
        )
        elide = DRAW_ENDS if hidden else None
        graph = tg.viz.draw(loss, level="cell", elide=elide, labels="names", grad_scale=scale, title=title)
        try:
            (out / f"{kind}_graph.svg").write_bytes(graph.pipe(format="svg"))
        except graphviz.ExecutableNotFound:
            (out / f"{kind}_graph.dot").write_text(graph.source, encoding="utf-8")
            print("Graphviz's dot is not installed: wrote the .dot text instead of the SVG")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def share(norms: list[float]) -> np.ndarray:  # relative to the last step: a trained model's loss is tiny
        return np.asarray(norms) / max(norms[-1], 1e-30)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colours = {"rnn": "tab:blue", "lstm": "tab:orange", "gru": "tab:green"}
    for ax, when in zip(axes, ("init", "trained"), strict=True):
        for kind, r in results.items():
            steps = range(len(r[f"{when}_h"]))
            ax.semilogy(steps, share(r[f"{when}_h"]), color=colours[kind], label=f"{kind.upper()}: ‖dL/dh_t‖")
            if r[f"{when}_c"] is not None:
                label = f"{kind.upper()}: ‖dL/dc_t‖ (cell state)"
                ax.semilogy(steps, share(r[f"{when}_c"]), "--", color=colours[kind], label=label)
        ax.set_xlabel("step t (the loss is at the last step)")
        ax.set_title("at initialisation" if when == "init" else "after training")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("gradient norm at step t / at the last step")
    fig.suptitle("How much of the gradient reaches each earlier step")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    global STEPS, GATE_BIAS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="T = 7 and 3 updates: checks everything works (seconds)")
    parser.add_argument("--steps", type=positive_int, default=STEPS, help="sequence length T")
    parser.add_argument("--updates", type=positive_int, default=UPDATES, help="training updates per cell")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and the training data")
    parser.add_argument(
        "--gate-bias", type=float, default=GATE_BIAS, help="added to the LSTM's forget / GRU's update gate bias"
    )
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the plot, tables and graphs")
    args = parser.parse_args()
    STEPS, updates = (7, 3) if args.smoke else (args.steps, args.updates)
    GATE_BIAS = args.gate_bias
    writable_dir(parser, args.out)
    start = time.perf_counter()

    results, rows, losses = {}, [], {}
    for kind in CELLS:
        tg.manual_seed(args.seed)
        model = Model(kind)
        probe = task(np.random.default_rng(7), BATCH, STEPS)
        init_h, init_c = gradient_norms(model, *probe)
        accuracy = train(model, np.random.default_rng(args.seed), updates, quiet=args.smoke)
        trained_h, trained_c = gradient_norms(model, *probe)
        results[kind] = dict(init_h=init_h, init_c=init_c, trained_h=trained_h, trained_c=trained_c, accuracy=accuracy)
        for t in range(STEPS):
            rows.append(
                {
                    "cell": kind,
                    "t": t,
                    "init_h": init_h[t],
                    "trained_h": trained_h[t],
                    "init_c": init_c[t] if init_c else "",
                    "trained_c": trained_c[t] if trained_c else "",
                }
            )
        losses[kind] = graph_loss(model)
    draw(losses, args.out)

    last = f"h_{STEPS - 1}"
    table = [f"| cell | accuracy after training | ‖dL/dh_0‖ / ‖dL/d{last}‖ at init | trained |", "|---|---:|---:|---:|"]
    for kind, r in results.items():
        ratio_init = r["init_h"][0] / max(r["init_h"][-1], 1e-30)
        ratio_trained = r["trained_h"][0] / max(r["trained_h"][-1], 1e-30)
        table.append(f"| {kind.upper()} | {r['accuracy']:.2f} | {ratio_init:.1e} | {ratio_trained:.1e} |")
    minutes = (time.perf_counter() - start) / 60

    with open(args.out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = [
        "# Gradient flow: the share of the loss's gradient that reaches the first step",
        "",
        f"T = {STEPS} steps, hidden size {HIDDEN}, {updates} updates of {BATCH} sequences (recall the key at t = 0; "
        f"chance {1 / KEYS:.2f}), gate bias +{GATE_BIAS:g} (LSTM forget, GRU update). {minutes:.1f} minutes.",
        "",
        *table,
        "",
    ]
    (args.out / "summary.md").write_text("\n".join(summary), encoding="utf-8")
    plot(results, args.out / "gradient_norms.png")
    print("\n".join(table))
    print(f"\n({minutes:.1f} minutes; plot, CSV, summary and graphs in {args.out}/)")


if __name__ == "__main__":
    main()
