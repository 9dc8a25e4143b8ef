"""A character-level LSTM language model that learns to write like the docstrings of Python's standard library.

In the spirit of Karpathy's min-char-rnn: read text one character at a time, predict the next one,
and print what the model writes as it learns. The corpus is already on your machine: the
docstrings of the standard library, collected when the demo starts (see `stdlib_docstrings`:
nothing is downloaded or imported, the source files are parsed). `--text FILE` trains on your own text.

The model, at every step t:   x_t = embed[char_t]   (h_t, c_t) = LSTM(x_t, (h_t-1, c_t-1))
                              logits_t = head(h_t)   loss_t = cross_entropy(logits_t, char_t+1)

Training is truncated backpropagation through time. The training text is cut into BATCH streams
side by side; each step reads the next SEQ_LEN characters of every stream, starting from the
state the previous chunk ended in (`nn.detach_state` keeps its values and cuts its history, so
backward stops at the chunk's start). Gradients are clipped (`nn.clip_grad_norm_`); Adam updates.
When the streams run out, they start again from their beginnings with a zero state (a new epoch).

Checkpoints: every CHECKPOINT_EVERY steps the whole run is written (atomically, with `tg.save`) to
out/char_lstm/checkpoint.npz: the weights, Adam's moments and step counts, the step, the position in
the streams, the carried (h, c), the state of the random generator that draws the samples, and the
history (losses, samples). So an interrupted run loses at most CHECKPOINT_EVERY steps, and `--resume` continues
to exactly the weights an uninterrupted run of the same seed reaches (tests/test_demos_training.py
checks this bit for bit).

Writes out/char_lstm/{checkpoint.npz, loss.png, losses.csv, samples.txt, summary.md} in the project folder
(the one demos/ is in, wherever the script runs from), or in --out DIR.

Run:  python demos/char_lstm.py                 (quick: about two minutes on 2 cores)
      python demos/char_lstm.py --full          (a larger 2-layer model on all the docstrings: half an hour)
      python demos/char_lstm.py --smoke         (seconds: checks that everything runs)
      python demos/char_lstm.py --resume        (continue the run saved in out/char_lstm/checkpoint.npz)
      python demos/char_lstm.py --text FILE     (train on your own text)
      python demos/char_lstm.py --sample out/char_lstm/checkpoint.npz --temperature 0.7 --length 500
"""

from __future__ import annotations

import argparse
import csv
import os
import time
import zlib
from dataclasses import dataclass
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
from tinygrad_rnn.cli import (  # noqa: E402
    HelpFormatter,
    mode_defaults,
    non_negative_int,
    positive_float,
    positive_int,
    writable_dir,
)
from tinygrad_rnn.data import stdlib_docstrings  # noqa: E402

# -- settings ---------------------------------------------------------------------------------------
# Everything that changes the weights is a setting here, is saved in the checkpoint, and is taken from
# it on --resume (only --steps may change there: to train for longer).
SETTINGS = dict(
    embed=32,
    hidden=256,
    layers=1,
    seq_len=50,  # SEQ_LEN
    batch=32,  # BATCH
    lr=2e-3,
    clip=5.0,
    seed=0,
    steps=1500,
    max_chars=1_000_000,
    checkpoint_every=200,  # CHECKPOINT_EVERY
    sample_every=250,
    eval_every=250,
)
SETTINGS_HELP = dict(  # what each setting is: its --help
    embed="size of a character's embedding vector",
    hidden="LSTM hidden size",
    layers="stacked LSTM layers",
    seq_len="characters per chunk (how far back backward reaches)",
    batch="streams of text read side by side",
    lr="Adam's learning rate",
    clip="clip the gradient's norm to this",
    seed="seed of the initial weights and of the samples' random draws",
    steps="updates in all",
    max_chars="use at most this much text (the stdlib's top-level modules and first packages; 3.11 has 1.8M)",
    checkpoint_every="write the checkpoint every this many steps",
    sample_every="print a sample every this many steps",
    eval_every="measure the held-out loss every this many steps",
)
MODES = {
    "quick": {},
    "full": dict(hidden=256, layers=2, steps=10_000, max_chars=3_000_000, checkpoint_every=500, sample_every=1000),
    "smoke": dict(
        embed=8, hidden=16, seq_len=16, batch=4, steps=6, max_chars=20_000,
        checkpoint_every=3, sample_every=3, eval_every=3,
    ),
}  # fmt: skip
VAL_CHARS = 20_000  # the end of the text is held out (at most this much, at most a tenth) to measure the loss on
VAL_STREAMS = 50  # the held-out text is read as (up to) 50 streams side by side, each from a zero state
PRIME, SAMPLE_LEN, TEMPERATURE = "Return the", 200, 0.8  # samples start from PRIME
OUT = Path(__file__).resolve().parent.parent / "out" / "char_lstm"  # the project's out/, run from anywhere


# -- the corpus (tinygrad_rnn/data.py collects it) ----------------------------------------------
def load_text(source: str, max_chars: int) -> str:
    """The training text: the stdlib docstrings (source "stdlib") or a file's contents, at most max_chars of it."""
    if source == "stdlib":
        return stdlib_docstrings(max_chars)
    return Path(source).read_text(encoding="utf-8")[:max_chars]


def bytes_array(text: str) -> np.ndarray:
    """A string as a uint8 array (UTF-8), the way strings go into a checkpoint (which holds only arrays)."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def array_text(arr: np.ndarray) -> str:
    return arr.tobytes().decode("utf-8")


# -- the model --------------------------------------------------------------------------------------
class CharLSTM(nn.Module):
    """Embedding -> LSTM -> Linear: a distribution over the next character at every step."""

    def __init__(self, vocab_size: int, embed: int, hidden: int, layers: int) -> None:
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: np.ndarray, state: tuple[tg.Tensor, tg.Tensor] | None):
        output, state = self.lstm(self.embed(tokens), state)  # tokens (T, B) -> output (T, B, H)
        return self.head(output), state  # logits (T, B, V), (h, c) each (layers, B, H)


def build(settings: dict, vocab_size: int) -> tuple[CharLSTM, tg.optim.Adam]:
    tg.manual_seed(settings["seed"])
    model = CharLSTM(vocab_size, settings["embed"], settings["hidden"], settings["layers"])
    return model, tg.optim.Adam(model.parameters(), lr=settings["lr"])


def sample(model: CharLSTM, vocab: str, prime: str, length: int, temperature: float, rng: np.random.Generator) -> str:
    """Feed `prime` in, then draw `length` characters one at a time, each fed back as the next input."""
    index = {ch: k for k, ch in enumerate(vocab)}
    with tg.no_grad():
        logits, state = model(np.array([[index[ch]] for ch in prime]), None)  # (P, 1, V)
        out = []
        for _ in range(length):
            z = logits.data[-1, 0].astype(np.float64) / temperature  # low temperature: sharper, safer choices
            p = np.exp(z - z.max())
            k = int(rng.choice(len(vocab), p=p / p.sum()))
            out.append(vocab[k])
            logits, state = model(np.array([[k]]), state)
    return prime + "".join(out)


def usable_prime(prime: str, vocab: str) -> str:
    """`prime` if the model knows all its characters, else a newline (or the first character it knows)."""
    if prime and all(ch in vocab for ch in prime):
        return prime
    return "\n" if "\n" in vocab else vocab[0]


# -- training ---------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Everything the next step depends on besides the weights and Adam's state, and the history so far."""

    step: int  # updates done
    pos: int  # where every stream's next chunk starts
    h: np.ndarray  # the carried state, (layers, BATCH, hidden) each
    c: np.ndarray
    rng: np.random.Generator  # draws the samples printed while training
    losses: list[float]  # training loss of every step
    val: list[tuple[int, float]]  # (step, held-out loss)
    samples: str  # the samples printed so far
    seconds: float  # training time so far, over all sessions


def streams(ids: np.ndarray, n: int) -> np.ndarray:
    """Cut a token sequence into n equal streams side by side: (length, n), time first."""
    length = len(ids) // n
    return ids[: n * length].reshape(n, length).T


def train_step(
    model: CharLSTM, opt: tg.optim.Adam, x: np.ndarray, y: np.ndarray, state, clip: float
) -> tuple[float, tuple[tg.Tensor, tg.Tensor]]:
    """One update on one chunk: x, y (SEQ_LEN, BATCH) token ids, y = x shifted by one character."""
    logits, state = model(x, state)  # (T, B, V)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    nn.clip_grad_norm_(opt.params, clip)
    opt.step()
    return loss.item(), nn.detach_state(state)  # the state goes on to the next chunk; its history does not


def held_out_loss(model: CharLSTM, val: np.ndarray) -> float:
    """Mean cross-entropy (nats per character) over the held-out streams, val (length, VAL_STREAMS)."""
    with tg.no_grad():
        logits, _ = model(val[:-1], None)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), val[1:].reshape(-1)).item()


def ngram_losses(train: np.ndarray, val: np.ndarray, vocab_size: int) -> dict[str, float]:
    """Held-out loss of three models that need no training: every character equally likely (uniform), each as
    frequent as in the training text (unigram), and by how often it follows the previous character (bigram;
    counts plus one, so no pair has probability 0). An LSTM that beats the bigram uses more than one character."""
    unigram = np.bincount(train, minlength=vocab_size) + 1.0
    pairs = np.ones((vocab_size, vocab_size))
    np.add.at(pairs, (train[:-1], train[1:]), 1.0)
    return {
        "uniform": float(np.log(vocab_size)),
        "unigram": float(-np.mean(np.log(unigram[val] / unigram.sum()))),
        "bigram": float(-np.mean(np.log(pairs[val[:-1], val[1:]] / pairs[val[:-1]].sum(axis=1)))),
    }


# -- checkpoints: one flat dict of numpy arrays -----------------------------------------------------
def rng_array(rng: np.random.Generator) -> np.ndarray:
    """A PCG64 generator's state (two 128-bit numbers and a cached half-word) as six uint64s."""
    s = rng.bit_generator.state
    state, inc = s["state"]["state"], s["state"]["inc"]
    words = [state >> 64, state & (2**64 - 1), inc >> 64, inc & (2**64 - 1), s["has_uint32"], s["uinteger"]]
    return np.array(words, dtype=np.uint64)


def array_rng(arr: np.ndarray) -> np.random.Generator:
    w = [int(v) for v in arr]
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": w[0] << 64 | w[1], "inc": w[2] << 64 | w[3]},
        "has_uint32": w[4],
        "uinteger": w[5],
    }
    return rng


def checkpoint(settings: dict, source: str, text: str, vocab: str, model: CharLSTM, opt, run: Progress) -> dict:
    ckpt = {f"settings.{k}": np.asarray(v) for k, v in settings.items()}
    ckpt |= {"corpus.source": bytes_array(source), "corpus.vocab": bytes_array(vocab)}
    ckpt["corpus.crc32"] = np.asarray(zlib.crc32(text.encode("utf-8")), dtype=np.int64)
    ckpt |= {f"model.{name}": p.data for name, p in model.named_parameters()}
    for k, state in opt.state_dict()["state"].items():  # Adam keeps, per parameter, step, exp_avg, exp_avg_sq
        ckpt |= {f"optim.{k}.{key}": np.asarray(value) for key, value in state.items()}
    ckpt |= {"run.step": np.asarray(run.step), "run.pos": np.asarray(run.pos), "run.h": run.h, "run.c": run.c}
    ckpt["run.rng"] = rng_array(run.rng)
    ckpt["history.loss"] = np.array(run.losses, dtype=np.float64)
    ckpt["history.val_step"] = np.array([s for s, _ in run.val], dtype=np.int64)
    ckpt["history.val_loss"] = np.array([v for _, v in run.val], dtype=np.float64)
    ckpt["history.samples"] = bytes_array(run.samples)
    ckpt["history.seconds"] = np.asarray(run.seconds)
    return ckpt


def checkpoint_settings(ckpt: dict) -> tuple[dict, str, str]:
    """The settings, corpus source and vocabulary a checkpoint was trained with."""
    settings = {k.removeprefix("settings."): v.item() for k, v in ckpt.items() if k.startswith("settings.")}
    return settings, array_text(ckpt["corpus.source"]), array_text(ckpt["corpus.vocab"])


def restore(ckpt: dict, model: CharLSTM, opt) -> Progress:
    """Load weights and optimizer state into `model` and `opt`; return the progress of the run."""
    model.load_state_dict({k.removeprefix("model."): v for k, v in ckpt.items() if k.startswith("model.")})
    saved = opt.state_dict()  # this run's hyperparameters (from the settings), the checkpoint's state
    saved["state"] = {}
    for key, value in ckpt.items():
        if key.startswith("optim."):
            _, k, name = key.split(".", 2)
            saved["state"].setdefault(int(k), {})[name] = value
    opt.load_state_dict(saved)
    return Progress(
        step=int(ckpt["run.step"]),
        pos=int(ckpt["run.pos"]),
        h=ckpt["run.h"],
        c=ckpt["run.c"],
        rng=array_rng(ckpt["run.rng"]),
        losses=ckpt["history.loss"].tolist(),
        val=list(zip(ckpt["history.val_step"].tolist(), ckpt["history.val_loss"].tolist(), strict=True)),
        samples=array_text(ckpt["history.samples"]),
        seconds=float(ckpt["history.seconds"]),
    )


# -- reports ----------------------------------------------------------------------------------------
def plot(run: Progress, baselines: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    steps = np.arange(1, len(run.losses) + 1)
    ax.plot(steps, run.losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="training loss (each step)")
    window = max(1, min(50, len(run.losses) // 10))
    smooth = np.convolve(run.losses, np.ones(window) / window, mode="valid")
    ax.plot(steps[window - 1 :], smooth, color="tab:blue", label=f"training loss (mean of {window})")
    if run.val:
        ax.plot(*zip(*run.val, strict=True), "o-", color="tab:orange", label="held-out loss")
    for (name, value), style in zip(baselines.items(), (":", "--", "-."), strict=True):
        ax.axhline(value, color="grey", linestyle=style, linewidth=1, label=f"{name} baseline ({value:.2f})")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("Character-level LSTM")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(run: Progress, settings: dict, corpus: str, baselines: dict, final_sample: str, out: Path) -> list[str]:
    """Write losses.csv, loss.png, samples.txt and summary.md; return the results table."""
    (out / "samples.txt").write_text(run.samples, encoding="utf-8")
    val = dict(run.val)
    with open(out / "losses.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "train_loss", "held_out_loss"])
        for step, loss in enumerate(run.losses, start=1):
            writer.writerow([step, f"{loss:.5f}", f"{val[step]:.5f}" if step in val else ""])
    plot(run, baselines, out / "loss.png")

    table = ["| step | training loss | held-out loss | held-out bits/char |", "|---:|---:|---:|---:|"]
    previous = 0
    for step, loss in run.val:
        train = f"{np.mean(run.losses[previous:step]):.3f}" if step > previous else "–"  # mean since the last row
        table.append(f"| {step} | {train} | {loss:.3f} | {loss / np.log(2):.3f} |")
        previous = step
    base = ", ".join(f"{name} {value:.3f}" for name, value in baselines.items())
    lines = [
        "# Character-level LSTM",
        "",
        f"Corpus: {corpus}. Model: embedding {settings['embed']}, LSTM hidden {settings['hidden']} x "
        f"{settings['layers']} layer(s), truncated BPTT over {settings['seq_len']} characters, {settings['batch']} "
        f"streams, Adam lr {settings['lr']}, gradient norm clipped at {settings['clip']}, seed {settings['seed']}. "
        f"{run.step} steps in {run.seconds / 60:.1f} minutes of training.",
        "",
        "Losses in nats per character (training: mean over the steps since the row before).",
        "",
        *table,
        "",
        f"Held-out loss of baselines (uniform: no knowledge; unigram: character frequencies; bigram: the previous "
        f"character): {base}.",
        "",
        f"Sample at temperature {TEMPERATURE}:",
        "",
        "```text",
        final_sample,
        "```",
        "",
    ]
    (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    return [*table, "", f"held-out loss of the baselines: {base}"]


# -- the command ------------------------------------------------------------------------------------
def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="a 2-layer, 256-unit model on all the docstrings (slow)")
    size.add_argument("--smoke", action="store_true", help="a tiny run that checks everything works (seconds)")
    modes = {mode: SETTINGS | MODES[mode] for mode in ("quick", "full", "smoke")}
    for name, value in SETTINGS.items():  # every count at least 1 (the seed at least 0), lr and clip above 0
        kind = non_negative_int if name == "seed" else positive_int if isinstance(value, int) else positive_float
        what = f"{SETTINGS_HELP[name]} {mode_defaults(modes, name)}"  # the default None: --resume sees what is given
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=what)
    parser.add_argument("--text", type=Path, help="train on this UTF-8 text file (default: the stdlib's docstrings)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the checkpoint, plot, CSV and summary")
    resume = "continue the run saved in CHECKPOINT, with its settings and text; --steps extends it"
    resume += " (default: checkpoint.npz in --out)"
    parser.add_argument("--resume", nargs="?", const=True, metavar="CHECKPOINT", help=resume)
    parser.add_argument("--sample", type=Path, metavar="CHECKPOINT", help="only print a sample from CHECKPOINT")
    parser.add_argument("--temperature", type=positive_float, default=TEMPERATURE, help="of the sample --sample draws")
    parser.add_argument("--length", type=non_negative_int, default=SAMPLE_LEN, help="characters --sample writes")
    parser.add_argument("--prime", default=PRIME, help="the text samples start from (default: %(default)r)")
    return parser


ADAM_STATE = {"step", "exp_avg", "exp_avg_sq"}  # the names tg.optim.Adam.state_dict() gives, as PyTorch's


def read_checkpoint(parser: argparse.ArgumentParser, flag: str, path: Path) -> dict:
    """The checkpoint at path, or exit through parser.error saying why it cannot be used."""
    if not path.is_file():
        hint = " (start a run without --resume first, or give the checkpoint's path)" if flag == "--resume" else ""
        parser.error(f"{flag}: there is no checkpoint {path}{hint}")
    try:
        ckpt = tg.load(path)
        checkpoint_settings(ckpt)
    except (OSError, ValueError) as err:
        parser.error(f"{flag}: {err}")
    except KeyError as err:
        parser.error(f"{flag}: {path} is not a checkpoint of char_lstm.py (it has no {err})")
    names = {key.split(".", 2)[2] for key in ckpt if key.startswith("optim.")}
    if names - ADAM_STATE:
        unknown, known = sorted(names - ADAM_STATE), sorted(ADAM_STATE)
        parser.error(f"{flag}: {path} holds optimizer state {unknown}, not Adam's {known}: start a new run")
    return ckpt


def sample_command(args: argparse.Namespace, ckpt: dict) -> None:
    settings, _, vocab = checkpoint_settings(ckpt)
    tg.speed.keep_freed_memory()  # each character drawn reuses freed memory (a speed lesson: speed/malloc.py)
    model, opt = build(settings, len(vocab))
    restore(ckpt, model, opt)
    rng = np.random.default_rng(args.seed if args.seed is not None else 0)
    print(sample(model, vocab, usable_prime(args.prime, vocab), args.length, args.temperature, rng))


def main(argv: list[str] | None = None) -> None:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.sample:
        return sample_command(args, read_checkpoint(parser, "--sample", args.sample))
    path = args.out / "checkpoint.npz"

    ckpt, vocab = None, ""
    resume_from = path if args.resume is True else Path(args.resume or path)
    if args.resume:
        overridden = [
            k
            for k in (*SETTINGS, "text", "full", "smoke")
            if k != "steps" and getattr(args, k) != parser.get_default(k)
        ]
        if overridden:
            given = ", ".join(f"--{k.replace('_', '-')}" for k in overridden)
            parser.error(f"--resume continues with the checkpoint's settings and text: {given} cannot change them")
        ckpt = read_checkpoint(parser, "--resume", resume_from)
        settings, source, vocab = checkpoint_settings(ckpt)
        if args.steps is not None and args.steps < int(ckpt["run.step"]):
            parser.error(f"--steps {args.steps}: the checkpoint is already at step {int(ckpt['run.step'])}")
        settings["steps"] = args.steps or settings["steps"]
    else:
        settings = SETTINGS | MODES["full" if args.full else "smoke" if args.smoke else "quick"]
        settings |= {k: v for k, v in vars(args).items() if k in SETTINGS and v is not None}
        if args.text is not None and not args.text.is_file():
            parser.error(f"--text: there is no file {args.text}")
        source = str(args.text.resolve()) if args.text else "stdlib"  # absolute: --resume may run elsewhere
    writable_dir(parser, args.out)

    start = time.perf_counter()
    try:
        text = load_text(source, settings["max_chars"])
    except (OSError, UnicodeDecodeError) as err:
        parser.error(f"cannot read the text {source}: {err}")
    if ckpt is not None and zlib.crc32(text.encode("utf-8")) != int(ckpt["corpus.crc32"]):
        parser.error(f"--resume: the text of {source!r} has changed since the checkpoint was written")
    vocab = vocab or "".join(sorted(set(text)))  # a resumed run keeps its checkpoint's vocabulary
    index = {ch: k for k, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text], dtype=np.int64)
    n_val = min(VAL_CHARS, len(ids) // 10)
    train_ids, val_ids = ids[:-n_val], ids[-n_val:]
    data = streams(train_ids, settings["batch"])  # (L, BATCH)
    val = streams(val_ids, max(1, min(VAL_STREAMS, n_val // 100)))  # (L', VAL_STREAMS), streams of 100+ chars
    T = settings["seq_len"]
    if len(data) < T + 1 or n_val < 2:
        parser.error(
            f"the text ({len(text):,} characters) is too short for {settings['batch']} streams of {T + 1} characters "
            "and a tenth held out: give a longer --text, or a smaller --batch or --seq-len"
        )
    corpus = (
        f"{'the stdlib docstrings' if source == 'stdlib' else source}: {len(text):,} characters "
        f"({len(train_ids):,} for training, {n_val:,} held out), {len(vocab)} distinct"
    )
    print(f"{corpus}; collected in {time.perf_counter() - start:.1f} s")
    baselines = ngram_losses(train_ids, val_ids, len(vocab))

    tg.speed.keep_freed_memory()  # training steps reuse freed memory (a speed lesson: speed/malloc.py)
    model, opt = build(settings, len(vocab))
    zeros = np.zeros((settings["layers"], settings["batch"], settings["hidden"]), dtype=np.float32)
    if ckpt is not None:
        run = restore(ckpt, model, opt)
        print(f"resumed at step {run.step} of {settings['steps']} from {resume_from}")
    else:
        if path.exists():
            print(f"note: starting afresh; {path} will be overwritten (continue a run with --resume)")
        rng = np.random.default_rng(settings["seed"])
        run = Progress(step=0, pos=0, h=zeros, c=zeros, rng=rng, losses=[], val=[], samples="", seconds=0.0)
        run.val.append((0, held_out_loss(model, val)))
    print(f"model: {model.num_parameters():,} parameters; {settings['steps']} steps of {settings['batch']} x {T} chars")
    prime = usable_prime(args.prime, vocab)

    state = (tg.Tensor(run.h), tg.Tensor(run.c))
    bar = tqdm(total=settings["steps"], initial=run.step, desc="training", unit="step", disable=args.smoke)
    session, saved = time.perf_counter(), run.step if ckpt is not None else None
    try:
        while run.step < settings["steps"]:
            if run.pos + T + 1 > len(data):  # the streams are used up: start again, with a fresh state
                run.pos, state = 0, (tg.Tensor(zeros), tg.Tensor(zeros))
            x, y = data[run.pos : run.pos + T], data[run.pos + 1 : run.pos + T + 1]  # (T, B) each
            loss, state = train_step(model, opt, x, y, state, settings["clip"])
            run.step, run.pos = run.step + 1, run.pos + T
            run.h, run.c = state[0].data, state[1].data
            run.losses.append(loss)
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}")
            if run.step % settings["eval_every"] == 0 or run.step == settings["steps"]:
                run.val.append((run.step, held_out_loss(model, val)))
            if run.step % settings["sample_every"] == 0:
                written = sample(model, vocab, prime, SAMPLE_LEN, TEMPERATURE, run.rng)
                tqdm.write(f"\n--- step {run.step}, loss {loss:.3f} ---\n{written}\n")
                run.samples += f"--- step {run.step}, loss {loss:.3f} ---\n{written}\n\n"
            if run.step % settings["checkpoint_every"] == 0 or run.step == settings["steps"]:
                run.seconds += time.perf_counter() - session
                session = time.perf_counter()
                tg.save(checkpoint(settings, source, text, vocab, model, opt, run), path)  # atomic
                saved = run.step
    except KeyboardInterrupt:
        bar.close()
        where = f"{path} holds step {saved}: go on with --resume" if saved is not None else "no checkpoint yet"
        raise SystemExit(f"\ninterrupted at step {run.step}; {where}") from None
    bar.close()

    final = sample(model, vocab, prime, SAMPLE_LEN, TEMPERATURE, np.random.default_rng(settings["seed"]))
    table = report(run, settings, corpus, baselines, final, args.out)
    print(f"\nsample at temperature {TEMPERATURE}:\n{final}\n")
    print("\n".join(table))
    print(f"\n({run.seconds / 60:.1f} minutes of training; checkpoint, plot, CSV and summary in {args.out}/)")


if __name__ == "__main__":
    main()
