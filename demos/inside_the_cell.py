"""Inside the cell: what an LSTM writes into its memory while it waits for the question.

At gap 50 a plain LSTM (forget-gate bias +3) mostly fails to carry the country across the filler
words, while the same LSTM with its input-gate bias at -3, and the GRU, learn it
(docs/long-term-dependencies.md). This script trains those three models on the task of
demos/long_term_dependency.py (the same seed for each), runs each on one France sentence, and shows,
step by step:

- the gates (means over the 32 units): the LSTM's input gate i (how much it writes), forget gate f
  (how much it keeps) and output gate o; the GRU's update gate z (how much of h it keeps);
- the memory: the mean |c_t| of the LSTM's cell state (the GRU keeps its memory in h);
- the gradient that reaches the memory at step t, ||dL/dc_t|| (the GRU's ||dL/dh_t||).

The values and gradients are the engine's own: the forward runs inside tg.keep_values(), backward
keeps every intermediate gradient (retain_grads=True), and each tensor is found by its name (i, f,
o, c, z, h) and its scope (t=k) in tg.topological_order.

Writes out/inside_the_cell/{inside_the_cell.png, steps.csv, summary.md} in the project folder
(the one demos/ is in, wherever the script runs from), or in --out DIR.

Run:  python demos/inside_the_cell.py [--gap 50] [--seed 0] [--smoke]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the task and the model of long_term_dependency.py
import long_term_dependency as task  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
import tinygrad_rnn.nn.functional as F  # noqa: E402
from tinygrad_rnn.cli import HelpFormatter, non_negative_int, positive_int, writable_dir  # noqa: E402

# -- settings ---------------------------------------------------------------------------------------
GAP, SEED, UPDATES = 50, 0, 600
MODELS = {  # name -> (cell, keep-gate bias, input-gate bias), as in long_term_dependency.py --ablation
    "LSTM, forget +3": ("lstm", 3.0, 0.0),
    "LSTM, forget +3, input -3": ("lstm", 3.0, -3.0),
    "GRU, update +3": ("gru", 3.0, 0.0),
}
OUT = Path(__file__).resolve().parent.parent / "out" / "inside_the_cell"  # the project's out/, run from anywhere


def france_sentence(gap: int, seed: int) -> np.ndarray:
    """'i grew up in france <gap filler words> i speak fluent', as token ids (1, T)."""
    fillers = np.random.default_rng(seed).choice(task.FILLERS, size=gap)
    words = [*task.PREFIX, "france", *fillers, *task.QUERY]
    return np.array([[task.WORD[w] for w in words]])


def steps_of(loss: tg.Tensor, names: tuple[str, ...]) -> dict[str, dict[int, tg.ops.Function]]:
    """The graph node of every tensor with one of these names, by step: name -> {t: node}."""
    found: dict[str, dict[int, tg.ops.Function]] = {name: {} for name in names}
    for node in tg.topological_order(loss):
        step = next((part for part in node.scope if part.startswith("t=")), None)
        if step is not None and node.names[0] in found:
            found[node.names[0]][int(step[2:])] = node
    return found


def inside(model: task.Reader, cell: str, tokens: np.ndarray) -> dict[str, np.ndarray]:
    """Per step t: the gates' means, mean |memory| and ||dL/d memory|| on one sentence."""
    with tg.keep_values():
        loss = F.cross_entropy(model(tokens), np.array([task.LANGUAGES.index("french")]))
    loss.backward(retain_grads=True)
    memory = "h" if cell == "gru" else "c"
    gates = ("z",) if cell == "gru" else ("i", "f", "o")
    nodes = steps_of(loss, (*gates, memory))
    T = tokens.shape[1]
    row = {g: np.array([nodes[g][t].values[0].mean() for t in range(T)]) for g in gates}
    row["|memory|"] = np.array([np.abs(nodes[memory][t].values[0]).mean() for t in range(T)])
    row["||dL/d memory||"] = np.array([np.linalg.norm(nodes[memory][t].grads[0]) for t in range(T)])
    row["loss"] = np.array(float(loss.data))
    return row


def plot(traces: dict, accuracies: dict, gap: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(traces), 3, figsize=(11, 2.6 * len(traces)), sharex=True, sharey="col", squeeze=False)
    country, question = len(task.PREFIX), len(task.PREFIX) + 1 + gap
    for row, (name, trace) in zip(axes, traces.items(), strict=True):
        t = np.arange(len(trace["|memory|"]))
        for gate in ("i", "f", "o", "z"):
            if gate in trace:
                row[0].plot(t, trace[gate], label=gate)
        row[0].set_ylim(0, 1)
        row[0].set_ylabel(f"{name}\naccuracy {accuracies[name]:.2f}", fontsize=9)
        row[1].plot(t, trace["|memory|"], color="tab:purple")
        row[2].semilogy(t, trace["||dL/d memory||"], color="tab:red")
        for ax in row:
            ax.axvline(country, color="grey", linestyle="--", linewidth=0.8)
            ax.axvspan(question, t[-1], color="grey", alpha=0.15)
        row[0].legend(fontsize=8, loc="center right")
    axes[0][0].set_title("gates (mean over the units)", fontsize=10)
    axes[0][1].set_title("memory: mean |c_t| (GRU: |h_t|)", fontsize=10)
    axes[0][2].set_title("gradient reaching it: ||dL/dc_t|| (GRU: h_t)", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("step t")
    fig.suptitle(
        f"One sentence, gap {gap}: dashed line, the step that reads 'france'; shaded, 'i speak fluent'", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--gap", type=positive_int, default=GAP, help="filler words in the sentence")
    parser.add_argument("--seed", type=non_negative_int, default=SEED, help="seed of the models")
    parser.add_argument("--updates", type=positive_int, default=UPDATES, help="training budget per model")
    parser.add_argument("--smoke", action="store_true", help="gap 5 and 4 updates: checks that it runs (seconds)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the plot and tables")
    args = parser.parse_args()
    writable_dir(parser, args.out)
    tg.speed.keep_freed_memory()  # training steps reuse freed memory (a speed lesson: speed/malloc.py)
    gap, updates = (5, 4) if args.smoke else (args.gap, args.updates)
    tokens = france_sentence(gap, 1_000 + args.seed)

    start = time.perf_counter()
    traces, accuracies, used = {}, {}, {}
    for name, (cell, keep_bias, input_bias) in MODELS.items():
        model, accuracies[name], used[name] = task.train(cell, gap, args.seed, updates, keep_bias, input_bias)
        traces[name] = inside(model, cell, tokens)
        print(f"{name}: held-out accuracy {accuracies[name]:.2f} after {used[name]} updates")
    minutes = (time.perf_counter() - start) / 60

    fillers = slice(len(task.PREFIX) + 1, len(task.PREFIX) + 1 + gap)
    country = len(task.PREFIX)
    with open(args.out / "steps.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "t", "word", "i", "f", "o", "z", "mean_abs_memory", "grad_norm_memory"])
        words = [task.VOCAB[w] for w in tokens[0]]
        for name, trace in traces.items():
            for t, word in enumerate(words):
                gates = [f"{trace[g][t]:.4f}" if g in trace else "" for g in ("i", "f", "o", "z")]
                memory = f"{trace['|memory|'][t]:.4f}"
                writer.writerow([name, t, word, *gates, memory, f"{trace['||dL/d memory||'][t]:.3e}"])
    lines = [
        f"# Inside the cell: one France sentence at gap {gap}",
        "",
        f"Each model trained on the task of long_term_dependency.py with seed {args.seed} (at most {updates} "
        f"updates), then run on one sentence. Means over the {gap} filler words. {minutes:.1f} minutes.",
        "",
        "| model | held-out accuracy (updates) | input gate i | forget gate f (GRU: z) | mean abs memory "
        "at the question | gradient at 'france' / at the question |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, trace in traces.items():
        write = f"{trace['i'][fillers].mean():.2f}" if "i" in trace else "1 - z"
        keep = trace["f"] if "f" in trace else trace["z"]
        grad = trace["||dL/d memory||"]
        lines.append(
            f"| {name} | {accuracies[name]:.2f} ({used[name]}) | {write} | {keep[fillers].mean():.2f} "
            f"| {trace['|memory|'][-1]:.2f} | {grad[country] / grad[-1]:.1e} |"
        )
    (args.out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot(traces, accuracies, gap, args.out / "inside_the_cell.png")
    print("\n".join(lines[4:]))
    print(f"({minutes:.1f} minutes; plot, CSV and summary in {args.out}/)")


if __name__ == "__main__":
    main()
