"""The training demos keep their promises: char_lstm's checkpoints lose nothing, its corpus is fixed, and the
adding problem's targets are right. (That every demo runs at all is tests/test_demos.py's job.)

The demos are scripts, not a package: they are loaded from their files, and driven through `main(argv)` with
tiny settings, the way a learner would run them from the command line.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg

DEMOS = Path(__file__).resolve().parent.parent / "demos"


def load_demo(name: str):
    spec = importlib.util.spec_from_file_location(f"demo_{name}", DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def char_lstm():
    return load_demo("char_lstm")


@pytest.fixture(scope="module")
def adding():
    return load_demo("adding_problem")


# Small enough for a few seconds, long enough to cross checkpoints, samples and an epoch boundary: 700
# characters are 630 for training, 4 streams of 157, so an epoch is 9 chunks of 16 and step 10 starts the next.
TINY = ["--smoke", "--steps", "12", "--checkpoint-every", "4", "--sample-every", "5", "--eval-every", "6"]
TINY += ["--max-chars", "700"]


class PowerCut(Exception):
    pass


def test_resume_after_a_crash_gives_exactly_the_uninterrupted_run(char_lstm, tmp_path, monkeypatch):
    char_lstm.main([*TINY, "--out", str(tmp_path / "straight")])
    straight = tg.load(tmp_path / "straight" / "checkpoint.npz")
    assert int(straight["run.step"]) == 12

    # The same run, killed during step 7: the last checkpoint holds step 4, so 2 finished steps are lost.
    real_step, calls = char_lstm.train_step, []

    def dies_at_step_7(*args):
        calls.append(1)
        if len(calls) == 7:
            raise PowerCut
        return real_step(*args)

    monkeypatch.setattr(char_lstm, "train_step", dies_at_step_7)
    with pytest.raises(PowerCut):
        char_lstm.main([*TINY, "--out", str(tmp_path / "cut")])
    monkeypatch.setattr(char_lstm, "train_step", real_step)
    assert int(tg.load(tmp_path / "cut" / "checkpoint.npz")["run.step"]) == 4

    char_lstm.main(["--resume", "--out", str(tmp_path / "cut")])  # settings come from the checkpoint
    resumed = tg.load(tmp_path / "cut" / "checkpoint.npz")

    assert resumed.keys() == straight.keys()
    for key in straight:
        if key != "history.seconds":  # wall-clock time, the one thing allowed to differ
            np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)
    assert any(k.startswith("optim.") for k in straight) and "run.rng" in straight and "run.c" in straight
    # Everything was compared bit for bit: the weights, Adam's moments and counts, the carried (h, c),
    # the data position, the sample generator, and every step's loss.
    samples = [(p / "samples.txt").read_text() for p in (tmp_path / "straight", tmp_path / "cut")]
    assert samples[0].count("--- step") == 2 and samples[1] == samples[0]


def test_resume_can_train_longer(char_lstm, tmp_path):
    char_lstm.main([*TINY, "--steps", "3", "--out", str(tmp_path)])
    char_lstm.main(["--resume", str(tmp_path / "checkpoint.npz"), "--steps", "5", "--out", str(tmp_path)])
    ckpt = tg.load(tmp_path / "checkpoint.npz")
    assert int(ckpt["run.step"]) == 5 and len(ckpt["history.loss"]) == 5
    assert int(ckpt["settings.steps"]) == 5
    for name in ("loss.png", "losses.csv", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0


def test_sample_from_a_checkpoint(char_lstm, tmp_path):
    char_lstm.main([*TINY, "--steps", "2", "--out", str(tmp_path)])
    command = [sys.executable, str(DEMOS / "char_lstm.py"), "--sample", str(tmp_path / "checkpoint.npz")]
    runs = [
        subprocess.run([*command, *extra], capture_output=True, text=True, timeout=120)
        for extra in (["--temperature", "0.5", "--length", "40"], ["--temperature", "0.5", "--length", "40"])
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    text = runs[0].stdout.removesuffix("\n")  # print's newline
    assert text.startswith(char_lstm.PRIME) and len(text) == len(char_lstm.PRIME) + 40
    assert runs[1].stdout == runs[0].stdout  # seeded
    vocab = tg.load(tmp_path / "checkpoint.npz")["corpus.vocab"].tobytes().decode()
    assert set(text) <= set(vocab)


def test_rng_state_round_trips_through_arrays(char_lstm):
    rng = np.random.default_rng(123)
    rng.random(5)
    rng.integers(0, 10, size=3, dtype=np.uint32)  # leaves a cached half-word behind
    copy = char_lstm.array_rng(char_lstm.rng_array(rng))
    assert copy.bit_generator.state == rng.bit_generator.state
    np.testing.assert_array_equal(copy.random(10), rng.random(10))


def test_writing_only_where_it_forgets_carries_the_country_across_50_words():
    """The long-term dependency lesson in a few seconds: at gap 50, with the same seed and 100 updates, the
    coupled LSTM (it writes only where it forgets: i = 1 - f) learns the task, and the plain LSTM with the same
    forget-gate bias stays near chance (it keeps writing the filler words into its cell)."""
    task = load_demo("long_term_dependency")
    _, coupled, used = task.train("coupled", 50, 0, 100, 3.0, 0.0)
    _, plain, _ = task.train("lstm", 50, 0, 100, 3.0, 0.0)
    assert coupled >= task.LEARNED and used <= 100
    assert plain < 0.3  # chance is 0.125


def test_inside_the_cell_finds_every_step_of_the_cell(tmp_path):
    """The gates, memory and gradient of every step come from the engine's own graph, found by name and scope."""
    inside = load_demo("inside_the_cell")
    task = inside.task
    tokens = inside.france_sentence(7, 0)
    model, _, _ = task.train("lstm", 7, 0, 2, 3.0, -3.0)
    trace = inside.inside(model, "lstm", tokens)
    T = tokens.shape[1]
    assert all(len(trace[k]) == T for k in ("i", "f", "o", "|memory|", "||dL/d memory||"))
    assert 0 < trace["i"][5] < 0.1  # the input gate starts near sigmoid(-3) = 0.05: its bias was set to -3
    assert np.all(trace["||dL/d memory||"][: T - 1] > 0)  # the loss's gradient reaches every step's cell state


def test_the_ablation_runs_its_six_models_and_reports_seeds_that_learned(tmp_path):
    result = subprocess.run(
        [sys.executable, str(DEMOS / "long_term_dependency.py"), "--ablation", "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = (tmp_path / "summary.md").read_text()
    task = load_demo("long_term_dependency")
    assert all(name in summary for name in task.ABLATION)
    assert "0/2 · " in summary or "1/2 · " in summary or "2/2 · " in summary  # k of n seeds learned
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert rows[0] == "model,cell,keep_bias,input_bias,gap,seed,accuracy,learned,updates"
    assert len(rows) == 1 + len(task.ABLATION) * 2 * 2  # 6 models, 2 gaps, 2 seeds
