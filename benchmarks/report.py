"""Write docs/benchmarks.md: the results of the benchmarks, run now, on this machine (`make bench`).

Runs bench_overhead.py, bench_lstm.py and bench_viz.py one after the other, each in its own process,
and writes their tables under a description of the machine. The speed lessons' own measurements
(bench_lessons.py, bench_page_faults.py, bench_matmul_layout.py) are quoted in docs/speed.md.
Run:  python benchmarks/report.py [--out docs/benchmarks.md] [--smoke]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECTIONS = {
    "bench_overhead.py": "Per-op overhead: a tiny graph, and a chain of 100,000 ops",
    "bench_lstm.py": "An LSTM training step, against numpy by hand and PyTorch",
    "bench_viz.py": "Drawing an LSTM's graph",
}


def machine() -> list[str]:
    """What the numbers depend on: CPU, cores, Python, numpy, BLAS threads, PyTorch."""
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed (no PyTorch rows)"
    return [
        f"- date: {datetime.date.today().isoformat()}",
        f"- CPU: {cpu}, {os.cpu_count()} cores; BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS', '1')}",
        f"- Python {platform.python_version()}, numpy {np.__version__}, PyTorch {torch_version}",
        f"- {platform.system()} {platform.release()}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "benchmarks.md")
    parser.add_argument("--smoke", action="store_true", help="run each benchmark in its smoke mode")
    args = parser.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (benchmarks/report.py), which runs the benchmarks below on the machine",
        "described here. Each table compares implementations timed side by side in the same run, interleaved,",
        "over several rounds; ratios are medians of per-round ratios. `tinygrad_rnn` rows run with the speed",
        "lessons (the default), `(plain)` rows with the plain core ([speed.md](speed.md) says what each lesson",
        "does and what it buys). The goals are judged in the tables.",
        "",
        "## Machine",
        "",
        *machine(),
    ]
    for script, title in SECTIONS.items():
        cmd = [sys.executable, str(HERE / script)] + (["--smoke"] if args.smoke else [])
        print(f"running {script} ...", file=sys.stderr)
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        lines += ["", f"## {title} (`benchmarks/{script}`)", "", out.strip()]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
