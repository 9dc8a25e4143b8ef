"""Long-term dependencies, measured: a plain RNN loses the country after a few words; gated cells keep it far longer.

"I grew up in France ... I speak fluent ___": the answer depends on a word seen long before. We
make a tiny synthetic language with exactly that sentence shape,

    i grew up in <country> <D filler words> i speak fluent  ->  <that country's language>

and train RNN, LSTM and GRU models (and the peephole and coupled LSTMs with --all-cells) of the
same hidden size, with the same budget of updates, for each gap D. The filler words are random,
so the only way to answer is to carry the country across all D of them. A run has learned if its
held-out accuracy reaches 0.95; for each model and gap we report how many seeds learned, and the
mean accuracy, against the chance level (outcomes are all-or-nothing: a seed learns or stays at
chance, so a mean ± std would hide what happened).

--ablation asks why the LSTM loses the country where the GRU keeps it, with six models at gaps 20,
50 and 100, 5 seeds each: the LSTM as PyTorch initialises it, with its forget-gate bias at +3, with
that and its input-gate bias at -3 (so it writes little unless it has learned to), the coupled LSTM
(which writes only where it forgets, like the GRU), the peephole LSTM, and the GRU.

Writes out/long_term_dependency/{accuracy_vs_gap.png, results.csv, summary.md} in the project folder
(the one demos/ is in, wherever the script runs from), or in --out DIR.

Run:  python demos/long_term_dependency.py              (quick: half a minute on 2 cores)
      python demos/long_term_dependency.py --full       (the table of docs/long-term-dependencies.md)
      python demos/long_term_dependency.py --ablation   (the models that isolate why: about 10 minutes)
      python demos/long_term_dependency.py --smoke      (seconds: checks that everything runs)
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# Tiny matrices: one BLAS thread is faster than two threads waiting for each other on a small
# machine. Set OMP_NUM_THREADS yourself to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
import tinygrad_rnn.nn.functional as F  # noqa: E402
from tinygrad_rnn import nn  # noqa: E402
from tinygrad_rnn.cli import HelpFormatter, mode_defaults, positive_int, writable_dir  # noqa: E402

# -- settings ---------------------------------------------------------------------------------------
COUNTRIES = {
    "france": "french",
    "germany": "german",
    "spain": "spanish",
    "italy": "italian",
    "china": "chinese",
    "japan": "japanese",
    "russia": "russian",
    "brazil": "portuguese",
}
FILLERS = (
    "the weather was nice and we often walked to the old market near the river after school "
    "with friends who liked music books films football long dinners quiet mornings"
).split()
PREFIX, QUERY = "i grew up in".split(), "i speak fluent".split()

EMBED, HIDDEN, BATCH, LR, CLIP = 16, 32, 32, 0.01, 1.0
GATE_BIAS = 3.0  # added at the start to the bias of the gate that keeps memory: LSTM forget, GRU update
INPUT_BIAS = 0.0  # added at the start to the LSTM's (and peephole LSTM's) input-gate bias
EVAL_EVERY, EVAL_SIZE, STOP_AT = 25, 512, 0.99  # stop a run early once held-out accuracy reaches 99%
LEARNED = 0.95  # a run whose held-out accuracy reaches this has learned the task
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
MORE_CELLS = {"peephole": nn.PeepholeLSTM, "coupled": nn.CoupledLSTM}
MODES = {  # gaps, seeds, the budget of updates per run
    "quick": dict(gaps=(1, 5, 10, 20, 50), seeds=3, updates=600),
    "full": dict(gaps=(1, 5, 10, 20, 50, 100), seeds=3, updates=600),
    "ablation": dict(gaps=(20, 50, 100), seeds=5, updates=600),
}
SMOKE = dict(gaps=(1, 4), seeds=2, updates=4)  # --smoke, with any mode: seconds, to check that it runs
# --ablation's models: name -> (cell, keep-gate bias, LSTM input-gate bias)
ABLATION = {
    "LSTM, PyTorch's init": ("lstm", 0.0, 0.0),
    "LSTM, forget +3": ("lstm", 3.0, 0.0),
    "LSTM, forget +3, input -3": ("lstm", 3.0, -3.0),
    "coupled LSTM, forget +3": ("coupled", 3.0, 0.0),
    "peephole LSTM, forget +3": ("peephole", 3.0, 0.0),
    "GRU, update +3": ("gru", 3.0, 0.0),
}
OUT = Path(__file__).resolve().parent.parent / "out" / "long_term_dependency"  # the project's out/, run from anywhere

VOCAB = sorted(set(PREFIX + QUERY + FILLERS + list(COUNTRIES)))
WORD = {w: k for k, w in enumerate(VOCAB)}
LANGUAGES = list(COUNTRIES.values())
CHANCE = 1 / len(LANGUAGES)


def sentences(rng: np.random.Generator, n: int, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """n sentences with `gap` filler words: token ids (n, T) and the index of the right language (n,)."""
    countries = rng.integers(0, len(COUNTRIES), size=n)
    fillers = rng.choice([WORD[w] for w in FILLERS], size=(n, gap))
    head = np.array([WORD[w] for w in PREFIX])
    country = np.array([WORD[c] for c in COUNTRIES])[countries]
    query = np.array([WORD[w] for w in QUERY])
    tokens = np.concatenate([np.tile(head, (n, 1)), country[:, None], fillers, np.tile(query, (n, 1))], axis=1)
    return tokens, countries


class Reader(nn.Module):
    """Embedding -> one recurrent layer -> a linear read-out of the last step's h."""

    def __init__(self, cell: str, keep_bias: float = GATE_BIAS, input_bias: float = INPUT_BIAS) -> None:
        layers = CELLS | MORE_CELLS
        self.embed = nn.Embedding(len(VOCAB), EMBED)
        self.rnn = layers[cell](EMBED, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, len(LANGUAGES))
        # Which block of the stacked gate biases keeps the memory, and which one writes: gate orders
        # are i,f,g,o (LSTM, peephole), f,g,o (coupled: it writes with 1 - f) and r,z,n (GRU, whose
        # h' = (1 - z) * n + z * h keeps h when z = 1 and writes the rest).
        keep = {"lstm": 1, "peephole": 1, "coupled": 0, "gru": 1}.get(cell)
        write = {"lstm": 0, "peephole": 0}.get(cell)
        bias = self.rnn.bias_hh_l0.data
        if keep is not None:
            bias[keep * HIDDEN : (keep + 1) * HIDDEN] += keep_bias
        if write is not None:
            bias[write * HIDDEN : (write + 1) * HIDDEN] += input_bias

    def forward(self, tokens: np.ndarray) -> tg.Tensor:
        output, _ = self.rnn(self.embed(tokens))
        return self.head(output[:, -1])


def accuracy(model: Reader, tokens: np.ndarray, answers: np.ndarray) -> float:
    with tg.no_grad():
        return float((model(tokens).data.argmax(axis=-1) == answers).mean())


def train(cell: str, gap: int, seed: int, updates: int, keep_bias: float, input_bias: float):
    """Train one model; return it, its held-out accuracy and the number of updates it used."""
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Reader(cell, keep_bias, input_bias)
    opt = tg.optim.Adam(model.parameters(), lr=LR)
    test = sentences(np.random.default_rng(10_000 + seed), EVAL_SIZE, gap)
    acc, used = accuracy(model, *test), 0
    for used in range(1, updates + 1):
        tokens, answers = sentences(rng, BATCH, gap)
        loss = F.cross_entropy(model(tokens), answers)
        opt.zero_grad()
        loss.backward()
        nn.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        if used % EVAL_EVERY == 0 or used == updates:
            acc = accuracy(model, *test)
            if acc >= STOP_AT:
                break
    return model, acc, used


def run(job: tuple) -> tuple[float, int]:
    """One run of the experiment (in a worker process): its accuracy and updates used."""
    _, acc, used = train(*job)
    return acc, used


def plot(results: dict, gaps: tuple[int, ...], path: Path) -> None:
    """Every seed's accuracy as a point (they are all-or-nothing), and each model's mean as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    shift = np.linspace(-0.06, 0.06, len(results)) if len(results) > 1 else [0.0]
    for (model, by_gap), dx in zip(results.items(), shift, strict=True):
        xs = [g * 10**dx for g in gaps]  # side by side on the log axis
        line = ax.plot(xs, [np.mean([acc for acc, _ in by_gap[g]]) for g in gaps], marker="_", ms=14, label=model)
        for x, g in zip(xs, gaps, strict=True):
            accs = [acc for acc, _ in by_gap[g]]
            ax.scatter([x] * len(accs), accs, s=14, color=line[0].get_color(), alpha=0.6, zorder=3)
    ax.axhline(CHANCE, color="grey", linestyle="--", label=f"chance ({CHANCE:.3f})")
    ax.axhline(LEARNED, color="grey", linestyle=":", linewidth=0.8, label=f"learned (>= {LEARNED})")
    ax.set_xscale("log")
    ax.set_xticks(gaps, [str(g) for g in gaps])
    ax.minorticks_off()
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("gap D: filler words between the country and the question")
    ax.set_ylabel("held-out accuracy")
    ax.set_title('"I grew up in France ... I speak fluent ___": a dot per seed, lines through the means', fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def gate_biases(cell: str, keep_bias: float, input_bias: float) -> str:
    """The gate biases a model starts with, in words."""
    if cell == "gru":
        return f"update gate {keep_bias:+g}"
    if cell == "coupled":
        return f"forget gate {keep_bias:+g} (it writes with 1 - f)"
    return "no gates" if cell == "rnn" else f"forget gate {keep_bias:+g}, input gate {input_bias:+g}"


def learned(runs: list[tuple[float, int]]) -> str:
    """'2/5 · 0.47': how many seeds learned, and the mean accuracy."""
    return f"{sum(acc >= LEARNED for acc, _ in runs)}/{len(runs)} · {np.mean([acc for acc, _ in runs]):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    modes = {**MODES, "smoke": SMOKE}
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="gaps up to 100, as in docs/long-term-dependencies.md")
    size.add_argument("--ablation", action="store_true", help="six models at gaps 20, 50, 100 that isolate why")
    parser.add_argument("--smoke", action="store_true", help="a tiny run of the mode that checks it works (seconds)")
    parser.add_argument("--all-cells", action="store_true", help="also the peephole and coupled LSTMs")
    cells = f"exactly these cells (default: {' '.join(CELLS)}; --all-cells adds {' '.join(MORE_CELLS)})"
    parser.add_argument("--cells", nargs="+", choices=[*CELLS, *MORE_CELLS], help=cells)
    parser.add_argument("--gaps", type=positive_int, nargs="+", help=f"gaps D to try {mode_defaults(modes, 'gaps')}")
    parser.add_argument("--seeds", type=positive_int, help=f"seeds per model and gap {mode_defaults(modes, 'seeds')}")
    updates = f"the budget of updates per run {mode_defaults(modes, 'updates')}"
    parser.add_argument("--updates", type=positive_int, help=updates)
    parser.add_argument(
        "--gate-bias", type=float, default=GATE_BIAS, help="added to the LSTMs' forget and the GRU's update gate bias"
    )
    parser.add_argument(
        "--input-bias", type=float, default=INPUT_BIAS, help="added to the LSTM's and peephole LSTM's input gate bias"
    )
    parser.add_argument("--jobs", type=positive_int, default=min(2, os.cpu_count() or 1), help="runs at once")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the plot and tables")
    args = parser.parse_args()
    writable_dir(parser, args.out)
    tg.speed.keep_freed_memory()  # training steps reuse freed memory (a speed lesson: speed/malloc.py)
    mode = SMOKE if args.smoke else MODES["full" if args.full else "ablation" if args.ablation else "quick"]
    gaps = tuple(args.gaps or mode["gaps"])
    seeds, updates = args.seeds or mode["seeds"], args.updates or mode["updates"]
    if args.ablation:
        models = dict(ABLATION)
    else:
        cells = args.cells or [*CELLS, *(MORE_CELLS if args.all_cells else ())]
        models = {cell.upper(): (cell, args.gate_bias, args.input_bias) for cell in cells}

    print(f"models: {', '.join(models)}; gaps {gaps}; {seeds} seeds; at most {updates} updates of {BATCH} sentences")
    print(f"hidden size {HIDDEN}; {len(LANGUAGES)} languages: chance is {CHANCE:.3f}; learned: accuracy >= {LEARNED}\n")
    jobs = [(name, gap, seed) for gap in gaps for name in models for seed in range(seeds)]
    start = time.perf_counter()
    work = [(*models[name][:1], gap, seed, updates, *models[name][1:]) for name, gap, seed in jobs]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(tqdm(pool.map(run, work), total=len(work), desc="training", unit="run", disable=args.smoke))
    minutes = (time.perf_counter() - start) / 60
    results = {name: {g: [] for g in gaps} for name in models}
    rows = []
    for (name, gap, seed), (acc, used) in zip(jobs, outcomes, strict=True):
        results[name][gap].append((acc, used))
        cell, keep_bias, input_bias = models[name]
        row = {"model": name, "cell": cell, "keep_bias": keep_bias, "input_bias": input_bias, "gap": gap, "seed": seed}
        rows.append(row | {"accuracy": round(acc, 4), "learned": int(acc >= LEARNED), "updates": used})

    table = ["| gap D | " + " | ".join(models) + " |", "|---:|" + "---:|" * len(models)]
    for g in gaps:
        table.append(f"| {g} | " + " | ".join(learned(results[m][g]) for m in models) + " |")
    longest = gaps[-1]
    headline = (
        f"at gap {longest} ({seeds} seeds, at most {updates} updates), seeds that learned and mean accuracy: "
        + ", ".join(f"{m} {learned(results[m][longest])}" for m in models)
        + f" (chance {CHANCE:.2f})"
    )

    with open(args.out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    biases = "; ".join(f"{m}: {gate_biases(*spec)}" for m, spec in models.items())
    summary = [
        "# Long-term dependency: held-out accuracy against the gap",
        "",
        f"{seeds} seeds per model and gap, at most {updates} updates of {BATCH} sentences, hidden size {HIDDEN}, "
        f"chance {CHANCE:.3f}. Each cell: the seeds whose held-out accuracy reached {LEARNED}, and the mean accuracy. "
        f"Added at the start to the gate biases: {biases}. {minutes:.1f} minutes.",
        "",
        *table,
        "",
        headline,
        "",
    ]
    (args.out / "summary.md").write_text("\n".join(summary), encoding="utf-8")
    plot(results, gaps, args.out / "accuracy_vs_gap.png")

    print("\n".join(table))
    print(f"\n{headline}")
    print(f"({minutes:.1f} minutes; plot, CSV and summary in {args.out}/)")


if __name__ == "__main__":
    main()
