"""Keep freed memory for the next training step instead of handing it back to the OS.

A training step allocates many arrays, in forward and backward, and frees them all when it ends.
On Linux, glibc's malloc then gives the freed memory at the top of its heap back to the OS once
more than a few MB are free there, and the next step gets it again as fresh pages: the kernel
zeroes and maps every 4 KB page on first touch. For an LSTM step of B=32, T=50, H=128 that was
about 2,000-4,000 page faults a step and a fifth of its time; at H=512 it was up to 19,000 faults
and 25% (measured in benchmarks/bench_lstm.py; see docs/benchmarks.md, "Memory from the OS").

Hand-written numpy allocates less per step and rarely crosses the threshold. PyTorch avoids the
question with its own caching allocator. We ask glibc to keep up to KEEP_MB of freed memory at
the top of the heap (mallopt's M_TOP_PAD) when tinygrad_rnn is imported. The memory stays
reusable by any part of the process; it only stops going back to the OS between steps.
Set the environment variable TINYGRAD_RNN_KEEP_FREED_MB=0 before the import to leave malloc as it
is. Elsewhere (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import os

KEEP_MB = 128
_M_TOP_PAD = -2  # mallopt's parameter number, from glibc's malloc.h


def keep_freed_memory(megabytes: int = KEEP_MB) -> bool:
    """Ask glibc to keep up to `megabytes` of freed heap memory; True if it was set.

    Returns False where there is no glibc (nothing is changed there).
    """
    if megabytes < 0:
        raise ValueError(f"keep_freed_memory: megabytes must be >= 0, got {megabytes}")
    if not _glibc():
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_TOP_PAD, ctypes.c_int(megabytes << 20)))


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows), or not glibc
        return False


def _on_import() -> None:
    setting = os.environ.get("TINYGRAD_RNN_KEEP_FREED_MB", str(KEEP_MB))
    try:
        megabytes = int(setting)
    except ValueError:
        raise ValueError(f"TINYGRAD_RNN_KEEP_FREED_MB must be a whole number of MB, got {setting!r}") from None
    if megabytes:
        keep_freed_memory(megabytes)
