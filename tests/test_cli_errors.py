"""Every bad argument to `tinygrad-rnn render` and to the demos `tinygrad-rnn demo NAME` runs ends, before any
slow work, in argparse's error: the usage, then one line `PROG: error: ...` naming the problem, and exit status 2.
No traceback.

Each case runs in this process through `cli.main`; a demo is run from its file as `tinygrad-rnn demo` runs it.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import cli

needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
needs_etc_passwd = pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="no /etc/passwd file here")


def case(*argv: str, says: str, marks=()):
    name = "-".join(re.sub(r"^-+|\{tmp\}/", "", a) for a in argv if a != "--out")
    return pytest.param(list(argv), says, id=name, marks=marks)


CASES = [
    # render: where it writes
    case("render", "lstm", "--out", "{tmp}/folder", says="{tmp}/folder is a folder"),
    case("render", "lstm", "--out", "{tmp}/folder.svg", says="folder.svg is a folder"),
    case("render", "lstm", "--out", "{tmp}/file/g.svg", says="{tmp}/file is a file, not a folder"),
    case("render", "lstm", "--out", "/etc/passwd/x.svg", says="/etc/passwd is a file", marks=needs_etc_passwd),
    case("render", "lstm", "--out", "{tmp}/locked/g.svg", says="cannot write in {tmp}/locked: Permission denied"),
    case("render", "lstm", "--out", "{tmp}/full.dot", says="No space left on device", marks=needs_dev_full),
    case("render", "lstm", "--out", "{tmp}/g.jpeg", says="--out must end in .svg, .png, .pdf, .dot"),
    # render: counts and options
    case("render", "lstm", "--steps", "0", "--out", "{tmp}/g.dot", says="--steps: must be at least 1, got 0"),
    case("render", "lstm", "--steps", "1e3", "--out", "{tmp}/g.dot", says="expected a whole number, got '1e3'"),
    case("render", "lstm", "--layers", "0", "--out", "{tmp}/g.dot", says="--layers: must be at least 1"),
    case("render", "lstm", "--max-nodes", "-5", "--out", "{tmp}/g.dot", says="--max-nodes: must be at least 0"),
    case("render", "lstm", "--elide", "0", "1", "--out", "{tmp}/g.dot", says="--elide: must be at least 1"),
    case("render", "lstm", "--detail", "1", "--out", "{tmp}/g.dot", says="use it with level='cell'"),
    case("render", "lstm", "--level", "cell", "--detail", "9", "--out", "{tmp}/g.dot", says="step 9 is not one"),
    case("render", "lstm", "--rolled", "--elide", "1", "1", "--out", "{tmp}/g.dot", says="unrolled"),
    case("render", "lstm", "--focus", "forgot_gate", "--out", "{tmp}/g.dot", says="the scopes here are"),
    case("render", "transformer", "--out", "{tmp}/g.dot", says="invalid choice: 'transformer'"),
    # render: too large to build or to lay out, refused before it is built
    case("render", "lstm", "--steps", "10000", "--out", "{tmp}/g.svg", says="nodes, more than the 20,000"),
    case("render", "lstm", "--steps", "10000", "--elide", "2", "2", "--out", "{tmp}/g.svg", says="use --steps"),
    case("render", "lstm", "--steps", "700", "--out", "{tmp}/g.svg", says="more than the 2,000 Graphviz's dot"),
    case("render", "lstm", "--steps", "200", "--max-nodes", "0", "--out", "{tmp}/g.svg", says="use --level cell"),
    case("render", "gru", "--layers", "1000", "--out", "{tmp}/g.svg", says="use --layers"),
    case("demo", "no_such_demo", says="unknown demo 'no_such_demo'"),
    # char_lstm
    case("demo", "char_lstm", "--steps", "0", says="--steps: must be at least 1, got 0"),
    case("demo", "char_lstm", "--checkpoint-every", "0", says="--checkpoint-every: must be at least 1"),
    case("demo", "char_lstm", "--seq-len", "0", says="--seq-len: must be at least 1"),
    case("demo", "char_lstm", "--lr", "0", says="--lr: must be a finite number above 0"),
    case("demo", "char_lstm", "--seed", "-1", says="--seed: must be at least 0"),
    case("demo", "char_lstm", "--temperature", "nan", says="--temperature: must be a finite number above 0"),
    case("demo", "char_lstm", "--text", "{tmp}/missing.txt", says="--text: there is no file {tmp}/missing.txt"),
    case("demo", "char_lstm", "--text", "{tmp}/empty.txt", "--out", "{tmp}/run", says="is too short"),
    case("demo", "char_lstm", "--text", "{tmp}/latin1.txt", "--out", "{tmp}/run", says="cannot read the text"),
    case("demo", "char_lstm", "--resume", "--out", "{tmp}/run", says="no checkpoint {tmp}/run/checkpoint.npz"),
    case("demo", "char_lstm", "--resume", "{tmp}/missing.npz", says="no checkpoint {tmp}/missing.npz"),
    case("demo", "char_lstm", "--resume", "{tmp}/empty.txt", says="is not an .npz archive"),
    case("demo", "char_lstm", "--resume", "{tmp}/other.npz", says="is not a checkpoint of char_lstm.py"),
    case("demo", "char_lstm", "--resume", "--hidden", "8", says="--hidden cannot change them"),
    case("demo", "char_lstm", "--resume", "{tmp}/ckpt.npz", "--steps", "3", says="already at step 6"),
    case("demo", "char_lstm", "--sample", "{tmp}/missing.npz", says="--sample: there is no checkpoint"),
    case("demo", "char_lstm", "--out", "{tmp}/file", says="{tmp}/file is a file, not a folder"),
    case("demo", "char_lstm", "--out", "{tmp}/locked", says="cannot write in {tmp}/locked"),
    # the other demos
    case("demo", "adding_problem", "--seeds", "0", says="--seeds: must be at least 1"),
    case("demo", "adding_problem", "--updates", "-1", says="--updates: must be at least 1"),
    case("demo", "adding_problem", "--hidden", "0", says="--hidden: must be at least 1"),
    case("demo", "adding_problem", "--lengths", "10", "1", says="every length must be at least 2"),
    case("demo", "adding_problem", "--out", "{tmp}/file", says="is a file, not a folder"),
    case("demo", "long_term_dependency", "--gaps", "5", "0", says="--gaps: must be at least 1"),
    case("demo", "long_term_dependency", "--seeds", "0", says="--seeds: must be at least 1"),
    case("demo", "long_term_dependency", "--jobs", "0", says="--jobs: must be at least 1"),
    case("demo", "long_term_dependency", "--out", "{tmp}/locked/results", says="cannot write in {tmp}/locked"),
    case("demo", "gradient_flow", "--steps", "0", says="--steps: must be at least 1"),
    case("demo", "gradient_flow", "--seed", "-1", says="--seed: must be at least 0"),
    case("demo", "gradient_flow", "--out", "{tmp}/file/out", says="is a file, not a folder"),
    case("demo", "inside_the_cell", "--gap", "0", says="--gap: must be at least 1"),
    case("demo", "inside_the_cell", "--updates", "0", says="--updates: must be at least 1"),
    case("demo", "inside_the_cell", "--out", "{tmp}/file", says="is a file, not a folder"),
    case("demo", "autograd_tour", "--seed", "-1", says="--seed: must be at least 0"),
    case("demo", "tape", "--steps", "1", says="--steps: must be at least 2, got 1"),
]


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A folder with what the cases point at; the process works in it. A case that gets as far as writing gives
    --out in it: by default the demos write in the project's out/."""
    (tmp_path / "file").write_text("a file where a folder should be")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.svg").mkdir()
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    tg.save({"just": np.zeros(2)}, tmp_path / "other.npz")
    corpus = {"corpus.source": np.frombuffer(b"stdlib", np.uint8), "corpus.vocab": np.frombuffer(b"ab", np.uint8)}
    tg.save({"settings.steps": np.asarray(6), **corpus, "run.step": np.asarray(6)}, tmp_path / "ckpt.npz")
    if Path("/dev/full").exists():
        (tmp_path / "full.dot").symlink_to("/dev/full")  # every write to it fails: the disk is full
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    real = tempfile.TemporaryFile

    def no_write_in_locked(*args, dir=None, **kwargs):  # root may write anywhere: refuse as a user would be
        if dir is not None and Path(dir).resolve().is_relative_to(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", no_write_in_locked)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    locked.chmod(0o755)


@pytest.mark.parametrize(("argv", "says"), CASES)
def test_a_bad_argument_is_one_line_of_error_and_exit_status_2(places, argv, says, capsys, monkeypatch):
    def slow_work_started(*args, **kwargs):
        raise AssertionError("a demo started its work before checking its arguments")

    monkeypatch.setattr(tg.speed, "keep_freed_memory", slow_work_started)  # the demos call it to start training
    with pytest.raises(SystemExit) as exit:
        cli.main([a.replace("{tmp}", str(places)) for a in argv])
    err = capsys.readouterr().err
    assert exit.value.code == 2, err
    assert "Traceback" not in err
    lines = err.rstrip("\n").split("\n")
    assert lines[0].startswith("usage: ") and all(line.startswith(" ") for line in lines[1:-1]), err
    assert re.match(r"[\w.-]+( \w+)?: error: ", lines[-1]), err
    assert says.replace("{tmp}", str(places)) in lines[-1]
