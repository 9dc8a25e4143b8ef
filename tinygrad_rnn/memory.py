"""Keep freed memory for the next training step instead of handing it back to the OS.

A training step allocates many arrays, in forward and backward, and frees them all when it ends.
On Linux, glibc's malloc then gives the freed memory at the top of its heap back to the OS once
more than a few MB are free there, and the next step gets it again as fresh pages: the kernel
zeroes and maps every 4 KB page on first touch. For an LSTM step of B=32, T=50, H=128 that was
about 2,000-4,000 page faults a step and a quarter of its time; at H=512 up to 19,000 faults a
step (measured; see docs/benchmarks.md, "Memory from the OS").

glibc adjusts two thresholds as a program runs: arrays from the mmap threshold up are mapped
afresh for each allocation, and freed memory at the top of the heap beyond the trim threshold goes
back to the OS. Its adjustments did not keep up with a graph's many arrays. When tinygrad_rnn is
imported we set both with mallopt: arrays up to 32 MB (the most glibc itself would allow) come from
the heap, and up to KEEP_MB of freed memory stays at its top. Any part of the process can reuse
that memory; it only stops going back and forth to the OS between steps. (Setting one threshold
alone turns glibc's adjustment of the other off, which made a hand-written numpy LSTM at H=512
take 46,000 faults a step instead of 7,000: both are set together.)

Set the environment variable TINYGRAD_RNN_KEEP_FREED_MB=0 before the import to leave malloc as it
is, or another whole number of MB to keep. Elsewhere (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import os

KEEP_MB = 128
MMAP_MB = 32  # glibc's own upper limit for the mmap threshold on 64-bit systems
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from glibc's malloc.h


def keep_freed_memory(megabytes: int = KEEP_MB) -> bool:
    """Ask glibc to keep up to `megabytes` of freed heap memory, and to take arrays of up to
    MMAP_MB from the heap; True if both were set. False where there is no glibc (nothing changes).
    """
    if not 0 <= megabytes <= 2047:  # mallopt takes a C int of bytes
        raise ValueError(f"keep_freed_memory: megabytes must be between 0 and 2047, got {megabytes}")
    if not _glibc():
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    mmap_ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(MMAP_MB << 20))
    trim_ok = libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(megabytes << 20))
    return bool(mmap_ok and trim_ok)


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
