"""The adding problem: a plain RNN cannot add two numbers it saw far apart; an LSTM can.

Hochreiter & Schmidhuber's test of long memory (1997, experiment 4), in the simpler form later papers
use (values on [0, 1], the target their plain sum). Each input is a sequence of T pairs (value, marker):

    value   0.31  0.87  0.05  0.62  0.44  0.93  ...  0.18      each uniform on [0, 1]
    marker  0     1     0     0     0     1     ...  0         exactly two 1s: one in the first half,
                                                              one in the second half
    target  0.87 + 0.93 = 1.80                                 the sum of the two marked values

The model reads the whole sequence and answers after the last step. To do better than guessing it
must notice the first marked value and hold it, untouched, until the end: at least T/2 steps, since
the first marker is always in the first half.

The baseline: a model that ignores its input does best by always answering the mean target, 1.
Its mean squared error is the variance of the sum of two independent U(0, 1) values,
Var = 1/12 + 1/12 = 1/6 ~ 0.167. An error well below 1/6 means the network really adds.

RNN and LSTM get the same hidden size, the same budget of updates and, for a given seed, the same
training batches and test set. We report the held-out MSE, mean +- std over seeds, for each length T.

Writes out/adding_problem/{mse_vs_length.png, learning_curves.png, results.csv, summary.md} in the project folder
(the one demos/ is in, wherever the script runs from), or in --out DIR.

Run:  python demos/adding_problem.py            (quick: T = 10, 25, 50, 3 seeds: a minute or two on 2 cores)
      python demos/adding_problem.py --full     (T = 10, 25, 50, 100, 3000 updates: about ten minutes)
      python demos/adding_problem.py --smoke    (seconds: checks that everything runs)
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

# One BLAS thread: the matrices here are small, so more threads gain little, and on a busy machine they
# spin-wait for each other (steps 2-10x slower on a shared 2-core box). Set OMP_NUM_THREADS to override.
# It must be set before numpy is first imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
import tinygrad_rnn.nn.functional as F  # noqa: E402
from tinygrad_rnn import nn  # noqa: E402
from tinygrad_rnn.cli import HelpFormatter, mode_defaults, positive_int, writable_dir  # noqa: E402
from tinygrad_rnn.data import ADDING_BASELINE, adding_batch  # noqa: E402

# -- settings ---------------------------------------------------------------------------------------
HIDDEN, BATCH, LR, CLIP = 32, 64, 0.01, 1.0
FORGET_BIAS = 1.0  # added to the LSTM's forget-gate bias at the start (Keras's default; 0 = PyTorch's)
EVAL_EVERY, TEST_SIZE = 50, 1000  # held-out MSE every EVAL_EVERY updates, on TEST_SIZE fixed sequences
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM}
MODES = {  # sequence lengths, seeds, the budget of updates per run
    "quick": dict(lengths=(10, 25, 50), seeds=3, updates=800),
    "full": dict(lengths=(10, 25, 50, 100), seeds=3, updates=3000),
    "smoke": dict(lengths=(6, 12), seeds=1, updates=4),
}
OUT = Path(__file__).resolve().parent.parent / "out" / "adding_problem"  # the project's out/, run from anywhere
BASELINE = ADDING_BASELINE  # MSE of always answering 1: Var(u1 + u2) = 1/6 for independent u1, u2 ~ U(0, 1)


class Adder(nn.Module):
    """One recurrent layer over the (value, marker) pairs -> a linear read-out of the last step's h."""

    def __init__(self, cell: str) -> None:
        self.rnn = CELLS[cell](2, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, 1)
        if cell == "lstm" and FORGET_BIAS:
            self.rnn.bias_hh_l0.data[HIDDEN : 2 * HIDDEN] += FORGET_BIAS  # gates are stacked i, f, g, o

    def forward(self, x: np.ndarray) -> tg.Tensor:
        output, _ = self.rnn(tg.Tensor(x))  # (B, T, H)
        return self.head(output[:, -1]).reshape(len(x))  # (B,)


def test_mse(model: Adder, x: np.ndarray, y: np.ndarray) -> float:
    with tg.no_grad():
        return float(np.mean((model(x).data - y) ** 2))


def train(cell: str, length: int, seed: int, updates: int) -> tuple[float, list[tuple[int, float]]]:
    """Train one model; return its final held-out MSE and the curve [(update, held-out MSE), ...]."""
    tg.manual_seed(seed)  # the initial weights
    rng = np.random.default_rng(seed)  # the training batches: the same for every cell
    test = adding_batch(np.random.default_rng(10_000 + seed), TEST_SIZE, length)
    model = Adder(cell)
    opt = tg.optim.Adam(model.parameters(), lr=LR)
    curve = [(0, test_mse(model, *test))]
    for update in range(1, updates + 1):
        x, y = adding_batch(rng, BATCH, length)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        if update % EVAL_EVERY == 0 or update == updates:
            curve.append((update, test_mse(model, *test)))
    return curve[-1][1], curve


def plot_mse(results: dict, lengths: tuple[int, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for cell, by_length in results.items():
        line = ax.plot(lengths, [np.mean(by_length[t]) for t in lengths], marker="o", label=f"{cell.upper()} (mean)")
        seeds = [(t, mse) for t in lengths for mse in by_length[t]]  # every run, so a spread is visible on a log axis
        ax.plot(*zip(*seeds, strict=True), "x", color=line[0].get_color(), alpha=0.6)
    ax.axhline(BASELINE, color="grey", linestyle="--", label=f"always answer 1: MSE 1/6 = {BASELINE:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(lengths, [str(t) for t in lengths])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("held-out mean squared error")
    ax.set_title("The adding problem: held-out error (lower is better; x: each seed)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curves(curves: dict, lengths: tuple[int, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(lengths), figsize=(3.2 * len(lengths), 3.2), sharey=True, squeeze=False)
    colours = {"rnn": "tab:blue", "lstm": "tab:orange"}
    for ax, length in zip(axes[0], lengths, strict=True):
        for (cell, t, seed), curve in curves.items():
            if t == length:
                steps, mse = zip(*curve, strict=True)
                ax.plot(steps, mse, color=colours[cell], alpha=0.8, label=cell.upper() if seed == 0 else None)
        ax.axhline(BASELINE, color="grey", linestyle="--")
        ax.set_yscale("log")
        ax.set_title(f"T = {length}")
        ax.set_xlabel("update")
    axes[0][0].set_ylabel("held-out MSE")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    global FORGET_BIAS, HIDDEN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="T up to 100 and more updates (about ten minutes)")
    size.add_argument("--smoke", action="store_true", help="a tiny run that checks everything works (seconds)")
    parser.add_argument(
        "--lengths", type=positive_int, nargs="+", help=f"sequence lengths T {mode_defaults(MODES, 'lengths')}"
    )
    parser.add_argument("--seeds", type=positive_int, help=f"seeds per cell and length {mode_defaults(MODES, 'seeds')}")
    parser.add_argument(
        "--updates", type=positive_int, help=f"the budget of updates per run {mode_defaults(MODES, 'updates')}"
    )
    parser.add_argument("--hidden", type=positive_int, default=HIDDEN, help="hidden size of both cells")
    parser.add_argument("--forget-bias", type=float, default=FORGET_BIAS, help="added to the LSTM's forget bias")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the plots and tables")
    args = parser.parse_args(argv)
    mode = MODES["full" if args.full else "smoke" if args.smoke else "quick"]
    lengths = tuple(args.lengths or mode["lengths"])
    if min(lengths) < 2:
        parser.error("every length must be at least 2 (one marker in each half)")
    seeds, updates = args.seeds or mode["seeds"], args.updates or mode["updates"]
    HIDDEN, FORGET_BIAS = args.hidden, args.forget_bias
    writable_dir(parser, args.out)
    tg.speed.keep_freed_memory()  # training steps reuse freed memory (a speed lesson: speed/malloc.py)

    # The baseline on the very test sets the models are scored on (it approaches 1/6 as they grow).
    targets = [adding_batch(np.random.default_rng(10_000 + s), TEST_SIZE, t)[1] for t in lengths for s in range(seeds)]
    measured_baseline = float(np.mean((np.concatenate(targets) - 1.0) ** 2))
    print(f"lengths {lengths}; {seeds} seeds; {updates} updates of {BATCH} sequences; hidden size {HIDDEN}")
    print(f"baseline (always answer 1): MSE 1/6 = {BASELINE:.4f}; on these test sets {measured_baseline:.4f}\n")

    results = {cell: {t: [] for t in lengths} for cell in CELLS}
    curves, rows = {}, []
    start = time.perf_counter()
    runs = [(cell, t, seed) for t in lengths for cell in CELLS for seed in range(seeds)]
    for cell, length, seed in tqdm(runs, desc="training", unit="run", disable=args.smoke):
        mse, curves[cell, length, seed] = train(cell, length, seed, updates)
        results[cell][length].append(mse)
        rows.append({"cell": cell, "length": length, "seed": seed, "test_mse": f"{mse:.6f}", "updates": updates})
    minutes = (time.perf_counter() - start) / 60

    table = ["| T | RNN MSE | LSTM MSE | baseline |", "|---:|---:|---:|---:|"]
    for t in lengths:
        cells_text = [f"{np.mean(results[c][t]):.4f} ± {np.std(results[c][t]):.4f}" for c in CELLS]
        table.append(f"| {t} | " + " | ".join(cells_text) + f" | {BASELINE:.4f} |")
    longest = lengths[-1]
    final = {c: float(np.mean(results[c][longest])) for c in CELLS}
    headline = f"at T = {longest}: " + ", ".join(
        f"{c.upper()} {mse:.4f} ({mse / BASELINE:.0%} of the baseline)" for c, mse in final.items()
    )

    with open(args.out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = [
        "# The adding problem: held-out mean squared error against the sequence length",
        "",
        f"{seeds} seeds per cell and length (mean ± std), {updates} updates of {BATCH} sequences (Adam, lr {LR}, "
        f"gradient norm clipped at {CLIP}), hidden size {HIDDEN}, forget bias +{FORGET_BIAS:g} for the LSTM, "
        f"{TEST_SIZE} held-out sequences per run. Baseline: always answering 1 gives MSE 1/6 = {BASELINE:.4f} "
        f"(measured on the test sets: {measured_baseline:.4f}). {minutes:.1f} minutes.",
        "",
        *table,
        "",
        headline,
        "",
    ]
    (args.out / "summary.md").write_text("\n".join(summary), encoding="utf-8")
    plot_mse(results, lengths, args.out / "mse_vs_length.png")
    plot_curves(curves, lengths, args.out / "learning_curves.png")

    print("\n".join(table))
    print(f"\n{headline}")
    print(f"({minutes:.1f} minutes; plots, CSV and summary in {args.out}/)")


if __name__ == "__main__":
    main()
