"""Long-term dependencies, measured: a plain RNN loses the country after a few words; gated cells keep it far longer.

"I grew up in France ... I speak fluent ___": the answer depends on a word seen long before. We
make a tiny synthetic language with exactly that sentence shape,

    i grew up in <country> <D filler words> i speak fluent  ->  <that country's language>

and train RNN, LSTM and GRU models (and the peephole and coupled LSTMs with --all-cells) of the
same hidden size, with the same budget of updates, for each gap D. The filler words are random,
so the only way to answer is to carry the country across all D of them. For each cell and gap
we report the held-out accuracy, mean ± std over seeds, against the chance level.

Writes out/long_term_dependency/{accuracy_vs_gap.png, results.csv, summary.md}.

Run:  python demos/long_term_dependency.py            (quick: about a minute on 2 cores)
      python demos/long_term_dependency.py --full     (the figures of docs/long-term-dependencies.md)
      python demos/long_term_dependency.py --smoke    (seconds: checks that everything runs)
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

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
import tinygrad_rnn.nn.functional as F  # noqa: E402
from tinygrad_rnn import nn  # noqa: E402

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
EVAL_EVERY, EVAL_SIZE, STOP_AT = 25, 512, 0.99  # stop a run early once held-out accuracy reaches 99%
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
MORE_CELLS = {"peephole": nn.PeepholeLSTM, "coupled": nn.CoupledLSTM}
MODES = {  # gaps, seeds, the budget of updates per run
    "quick": dict(gaps=(1, 5, 10, 20, 50), seeds=3, updates=600),
    "full": dict(gaps=(1, 5, 10, 20, 50, 100), seeds=3, updates=600),
    "smoke": dict(gaps=(1, 4), seeds=2, updates=4),
}
OUT = Path("out/long_term_dependency")

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

    def __init__(self, cell: str) -> None:
        layers = CELLS | MORE_CELLS
        self.embed = nn.Embedding(len(VOCAB), EMBED)
        self.rnn = layers[cell](EMBED, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, len(LANGUAGES))
        # Which block of the stacked gate biases keeps the memory: gate orders are i,f,g,o (LSTM,
        # peephole), f,g,o (coupled) and r,z,n (GRU, whose h' = (1 - z) * n + z * h keeps h when z = 1).
        keep = {"lstm": 1, "peephole": 1, "coupled": 0, "gru": 1}.get(cell)
        if keep is not None:
            self.rnn.bias_hh_l0.data[keep * HIDDEN : (keep + 1) * HIDDEN] += GATE_BIAS

    def forward(self, tokens: np.ndarray) -> tg.Tensor:
        output, _ = self.rnn(self.embed(tokens))
        return self.head(output[:, -1])


def accuracy(model: Reader, tokens: np.ndarray, answers: np.ndarray) -> float:
    with tg.no_grad():
        return float((model(tokens).data.argmax(axis=-1) == answers).mean())


def train(cell: str, gap: int, seed: int, updates: int) -> tuple[float, int]:
    """Train one model; return its held-out accuracy and the number of updates it used."""
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Reader(cell)
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
    return acc, used


def plot(results: dict, gaps: tuple[int, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for cell, by_gap in results.items():
        mean = [np.mean(by_gap[g]) for g in gaps]
        std = [np.std(by_gap[g]) for g in gaps]
        ax.errorbar(gaps, mean, yerr=std, marker="o", capsize=3, label=cell.upper())
    ax.axhline(CHANCE, color="grey", linestyle="--", label=f"chance ({CHANCE:.3f})")
    ax.set_xscale("log")
    ax.set_xticks(gaps, [str(g) for g in gaps])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("gap D: filler words between the country and the question")
    ax.set_ylabel("held-out accuracy")
    ax.set_title('"I grew up in France ... I speak fluent ___"')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    global GATE_BIAS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="more gaps and updates: the figures used in the docs")
    size.add_argument("--smoke", action="store_true", help="a tiny run that checks everything works (seconds)")
    parser.add_argument("--all-cells", action="store_true", help="also the peephole and coupled LSTMs")
    parser.add_argument("--cells", nargs="+", choices=[*CELLS, *MORE_CELLS], help="exactly these cells")
    parser.add_argument("--gaps", type=int, nargs="+", help="gaps D to try (default depends on the mode)")
    parser.add_argument("--seeds", type=int, help="seeds per cell and gap")
    parser.add_argument("--updates", type=int, help="the budget of updates per run")
    parser.add_argument(
        "--gate-bias", type=float, default=GATE_BIAS, help="added to the LSTMs' forget and the GRU's update gate bias"
    )
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the plot and tables")
    args = parser.parse_args()
    tg.speed.keep_freed_memory()  # training steps reuse freed memory (a speed lesson: speed/malloc.py)
    mode = MODES["full" if args.full else "smoke" if args.smoke else "quick"]
    gaps = tuple(args.gaps or mode["gaps"])
    seeds, updates = args.seeds or mode["seeds"], args.updates or mode["updates"]
    GATE_BIAS = args.gate_bias
    cells = args.cells or [*CELLS, *(MORE_CELLS if args.all_cells else ())]
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"cells {', '.join(cells)}; gaps {gaps}; {seeds} seeds; at most {updates} updates of {BATCH} sentences;")
    print(f"hidden size {HIDDEN}; {len(LANGUAGES)} languages, so chance is {CHANCE:.3f}\n")
    results = {cell: {g: [] for g in gaps} for cell in cells}
    rows = []
    start = time.perf_counter()
    runs = [(cell, gap, seed) for gap in gaps for cell in cells for seed in range(seeds)]
    for cell, gap, seed in tqdm(runs, desc="training", unit="run", disable=args.smoke):
        acc, used = train(cell, gap, seed, updates)
        results[cell][gap].append(acc)
        rows.append({"cell": cell, "gap": gap, "seed": seed, "accuracy": round(acc, 4), "updates": used})
    minutes = (time.perf_counter() - start) / 60

    header = "| gap D | " + " | ".join(c.upper() for c in cells) + " |"
    table = [header, "|---:|" + "---:|" * len(cells)]
    for g in gaps:
        cells_text = [f"{np.mean(results[c][g]):.2f} ± {np.std(results[c][g]):.2f}" for c in cells]
        table.append(f"| {g} | " + " | ".join(cells_text) + " |")
    longest = gaps[-1]
    best = max(cells, key=lambda c: np.mean(results[c][longest]))
    headline = (
        f"at gap {longest}: "
        + ", ".join(f"{c.upper()} {np.mean(results[c][longest]):.2f}" for c in cells)
        + f" (chance {CHANCE:.2f}); best: {best.upper()}"
    )

    with open(args.out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = [
        "# Long-term dependency: held-out accuracy against the gap",
        "",
        f"{seeds} seeds per cell and gap (mean ± std), at most {updates} updates of {BATCH} sentences, "
        f"hidden size {HIDDEN}, gate bias +{GATE_BIAS:g} (LSTM forget, GRU update), chance {CHANCE:.3f}. "
        f"{minutes:.1f} minutes.",
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
