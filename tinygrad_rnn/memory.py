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
that memory; it only stops going back and forth to the OS between steps. The cost: freed arrays
under 32 MB stay in the process, so its resident memory can stay well above what it uses (a freed
array below one still in use is never given back). Both thresholds are set together: setting one
alone turns off glibc's adjustment of the other, which made a hand-written numpy LSTM at H=512
take 46,000 page faults a step instead of 7,000.

Set the environment variable TINYGRAD_RNN_KEEP_FREED_MB=0 before the import to leave malloc as it
is, or another whole number of MB to keep (up to 2047). Without 64-bit glibc (macOS, Windows, musl,
32-bit systems) this does nothing.
"""

from __future__ import annotations

import ctypes
import os

KEEP_MB = 128
MMAP_MB = 32  # glibc's own upper limit for the mmap threshold on 64-bit systems
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from glibc's malloc.h


def keep_freed_memory(megabytes: int = KEEP_MB) -> bool:
    """Ask glibc to keep up to `megabytes` of freed memory at the top of its heap, and to take
    arrays of up to MMAP_MB from the heap; True if both were set.

    False where there is no 64-bit glibc (nothing is changed there). There is no call that gives
    glibc its own adaptive thresholds back: to keep them, set TINYGRAD_RNN_KEEP_FREED_MB=0 before
    importing tinygrad_rnn.
    """
    if not 1 <= megabytes <= 2047:  # mallopt takes a C int of bytes; 0 would trim at every free
        raise ValueError(
            f"keep_freed_memory: megabytes must be between 1 and 2047, got {megabytes} "
            "(to leave malloc as it is, set TINYGRAD_RNN_KEEP_FREED_MB=0 before the import)"
        )
    if not _glibc() or ctypes.sizeof(ctypes.c_long) < 8:  # 32-bit glibc caps the mmap threshold at 512 KB
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # The mmap threshold first: setting the trim threshold alone would switch off glibc's own
    # raising of the mmap threshold, the state that made every large array fresh pages.
    if not libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(MMAP_MB << 20)):
        return False
    return bool(libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(megabytes << 20)))


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows), or not glibc
        return False


def _on_import() -> None:
    setting = os.environ.get("TINYGRAD_RNN_KEEP_FREED_MB", "").strip() or str(KEEP_MB)
    try:
        megabytes = int(setting)
    except ValueError:
        megabytes = -1
    if not 0 <= megabytes <= 2047:
        raise ValueError(f"TINYGRAD_RNN_KEEP_FREED_MB must be a whole number of MB from 0 to 2047, got {setting!r}")
    if megabytes:
        keep_freed_memory(megabytes)
