"""Fault study of checkpoints (tinygrad_rnn/serialization.py): kills mid-save, a deflate bomb, damaged bytes.

Not a test file (pytest does not collect it): the measurements behind the promises in serialization.py's
docstring, at a size the tests avoid. It prints what it measured; tests/test_serialization.py checks the
same promises quickly. Run from the repository root:

    .venv/bin/python tests/fault_checkpoint.py              # about a minute
    .venv/bin/python tests/fault_checkpoint.py --all-values # every byte set to all 255 other values (minutes)
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_serialization import ROOT, small_state, write_deflate_bomb  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402

SAVER = """
import sys
import numpy as np
from tinygrad_rnn.serialization import save
state = {f"w{i}": np.full(3_000_000, i, dtype=np.float32) for i in range(8)}  # 96 MB
state["step"] = np.array(0)
save(state, sys.argv[1])
print("ready", flush=True)
while True:
    state["step"] += 1
    save(state, sys.argv[1])
"""


def temp_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def kills(directory: Path, signum: int, runs: int, rng: random.Random) -> collections.Counter:
    """Kill a process saving 96 MB over and over, at a random moment of a save, `runs` times."""
    counts: collections.Counter = collections.Counter()
    path = directory / f"kill{signum}.npz"
    for _ in range(runs):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.5))  # a save takes about 0.15 s here
        proc.send_signal(signum)
        code = proc.wait()
        proc.stdout.close()
        counts[f"exit {code}"] += 1
        got = tg.load(path)
        counts["checkpoint complete"] += all((got[f"w{i}"] == i).all() for i in range(8))
        counts["temp files left by the kill"] += len(temp_files(directory))
        tg.save({"w": np.ones(1)}, path.with_name("other.npz"))  # another target's save leaves them alone
        tg.save(got, path)  # the next save of this target removes those of dead writers
        counts["temp files left after the next save"] += len(temp_files(directory))
    return counts


def bomb(directory: Path) -> None:
    path = directory / "bomb.npz"
    write_deflate_bomb(path, 2**31)
    script = f"""
import resource, time
import tinygrad_rnn as tg
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    tg.load({str(path)!r})
except ValueError as err:
    print(f"{{time.perf_counter() - start:.4f}} s, peak RSS grew by "
          f"{{(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024:.1f}} MB: {{err}}")
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    print(f"deflate bomb of {path.stat().st_size / 1e6:.1f} MB declaring 2 GiB: refused in {result.stdout.strip()}")


def sweep(directory: Path, all_values: bool) -> None:
    """Change every byte of a small checkpoint (to every other value, or XOR 0xFF and XOR 0x01) and load it."""
    state = small_state()
    path, damaged = directory / "small.npz", directory / "damaged.npz"
    tg.save(state, path)
    data = path.read_bytes()
    outcomes: collections.Counter = collections.Counter()
    for i, byte in enumerate(data):
        for value in [v for v in range(256) if v != byte] if all_values else [byte ^ 0xFF, byte ^ 0x01]:
            damaged.write_bytes(data[:i] + bytes([value]) + data[i + 1 :])
            try:
                got = tg.load(damaged)
            except ValueError as err:
                outcomes["ValueError naming the file" if str(damaged) in str(err) else "ValueError, unnamed"] += 1
                continue
            except Exception as err:
                outcomes[f"raw {type(err).__name__}"] += 1
                continue
            same = list(got) == list(state) and all(
                got[k].dtype == v.dtype and got[k].shape == v.shape and np.array_equal(got[k], v)
                for k, v in state.items()
            )
            outcomes["identical arrays" if same else "DIFFERENT ARRAYS"] += 1
    print(f"single-byte changes of a {len(data)}-byte checkpoint ({sum(outcomes.values())} files): {dict(outcomes)}")


def permissions(directory: Path) -> None:
    path = directory / "private.npz"
    tg.save({"w": np.ones(2)}, path)
    path.chmod(0o600)
    tg.save({"w": np.zeros(2)}, path)
    new = directory / "new.npz"
    tg.save({"w": np.ones(2)}, new)
    umask = os.umask(0)
    os.umask(umask)
    print(
        f"re-saved over a 0600 file: {stat.S_IMODE(path.stat().st_mode):04o}; "
        f"new file under umask {umask:04o}: {stat.S_IMODE(new.stat().st_mode):04o}"
    )


def errors(directory: Path) -> None:
    cases = {
        "save to a directory": lambda: tg.save({}, directory),
        "save to None": lambda: tg.save({}, None),
        "save into a missing directory": lambda: tg.save({}, directory / "missing" / "m.npz"),
        "load a directory": lambda: tg.load(directory),
        "load None": lambda: tg.load(None),
        "load a missing file": lambda: tg.load(directory / "missing.npz"),
    }
    for what, call in cases.items():
        try:
            call()
        except Exception as err:
            print(f"{what}: {type(err).__name__}: {err}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=25, help="kills of each kind (default 25)")
    parser.add_argument("--all-values", action="store_true", help="set every byte to all 255 other values")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for signum in (signal.SIGKILL, signal.SIGTERM):
            counts = kills(directory, signum, args.runs, rng)
            print(f"{signal.Signals(signum).name} x {args.runs} during 96 MB saves: {dict(counts)}")
        bomb(directory)
        sweep(directory, args.all_values)
        permissions(directory)
        errors(directory)
    print(f"(peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
