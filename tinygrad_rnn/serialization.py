"""Checkpoints on disk: `save(state_dict, path)` and `load(path)`, in numpy's `.npz` format.

This file owns the on-disk format of a state_dict and the promises made about it.

Saving:
- is atomic: the checkpoint is written to a temporary file next to the target, flushed to disk, then
  renamed over the target, so after a crash or kill at any point the target holds either the previous
  checkpoint or the new one, whole;
- leaves no litter: the temporary file, `.{name}.{host}.{pid}.{random}.tmp`, is removed on an exception,
  on KeyboardInterrupt, and on SIGTERM or SIGHUP (when `save` runs in the main thread and the signal has
  its default action: the file is removed, then the signal is delivered again, so the process still dies
  of it). A kill that no code sees (SIGKILL, a power cut) leaves it behind; the next save of the same
  target on the same host removes it once the process that wrote it is gone, never one still writing;
- keeps the permission bits of the file it replaces; a new file gets 0666 minus the umask, as `open` gives;
- reports a failure on the target's name (never the temporary file's): TypeError for a path that is not
  a path (None), IsADirectoryError for a directory, FileNotFoundError for a missing directory,
  PermissionError for a directory it may not write in.

Loading:
- never unpickles: only `.npy` members are read, with `allow_pickle=False`, and object arrays are refused;
- is bounded: the sizes the archive declares are added up before anything is read or inflated, and more
  than `max_bytes` (1 GiB unless told) is refused, so a small "zip bomb" cannot fill the memory;
- is never silently wrong: every member is checked against its CRC-32, every array's `.npy` header against
  its member's size, and the archive against its manifest (`__manifest__.json`, the first member: each
  array's name, dtype and shape, in order), so a file that is damaged, cut short or missing an array is a
  ValueError naming the file. The errors of `load` are: TypeError (path is not a path), FileNotFoundError,
  IsADirectoryError, PermissionError (the file cannot be opened), ValueError (anything wrong inside it).

The file is an ordinary `.npz` archive (the manifest, then one `<name>.npy` member per array, in state_dict
order), so `np.load(path)` opens it too; np.load lists the manifest among its `files` and gives it as bytes.
Archives without a manifest (written by `np.savez`, or by older versions of `save`) load as they are: a
member missing from such a file cannot be noticed here, and `load_state_dict(strict=True)` names it. The path
is used exactly as given: unlike `np.savez`, no `.npz` is appended.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import secrets
import signal
import socket
import stat
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .core import Tensor

try:
    from lzma import LZMAError
except ImportError:  # Python built without liblzma: zipfile cannot open LZMA members then, and says so
    LZMAError = zlib.error  # type: ignore[assignment,misc]

# bool, signed int, unsigned int, float: the kinds a Tensor may hold, and all that a checkpoint needs.
_NUMERIC_KINDS = "biuf"

# What an .npz file starts with: a zip local file header, or the end record of an empty zip.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")

# The first member of every checkpoint: {"tinygrad_rnn_checkpoint": 1, "arrays": [[name, dtype, shape], ...]}.
MANIFEST = "__manifest__.json"

# A bound on what load may allocate: far above what this engine trains (a 2-layer LSTM of width 1024 with
# Adam's two moments is 0.15 GiB in float32), and below a 2 MB deflate bomb, which declares 2 GiB of zeros.
MAX_BYTES = 2**30

# A new file, never an existing one: two saves never share a temporary file.
_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)

# Signals whose default action ends the process without running any Python code.
_FATAL_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

# What reading a damaged archive can raise, from zipfile, the decompressors and numpy's .npy header parser.
_DAMAGED = (
    zipfile.BadZipFile,
    EOFError,
    OSError,
    NotImplementedError,  # an unknown compression method or zip version
    RuntimeError,  # "encrypted" flag set
    ValueError,  # numpy's header errors, name decoding
    OverflowError,
    struct.error,
    zlib.error,
    LZMAError,
)


class _Refused(Exception):
    """Why `load` refuses a file it could open; `load` raises it as a ValueError that names the file."""


def _path_name(path: object, action: str) -> str:
    """`path` as a str, or a TypeError saying what a path is."""
    try:
        return os.fsdecode(path)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{action}: path must be a str or os.PathLike, got {type(path).__name__}") from None


def _check_name(key: object) -> str:
    """Return `key` if it can be stored as an .npz member name and read back unchanged, else raise."""
    if not isinstance(key, str):
        raise TypeError(f"save: state_dict keys must be str, got {type(key).__name__} {key!r}")
    # zipfile silently cuts a name at its first NUL (and on Windows turns '\\' into '/'): the array would
    # come back under another name, or overwrite a neighbour.
    if zipfile.ZipInfo(key + ".npy").filename != key + ".npy":
        raise ValueError(f"save: key {key!r} cannot be stored in an .npz file unchanged (NUL byte or path separator)")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"save: key {key!r} is not valid unicode (lone surrogate); zip names must be UTF-8") from None
    # np.load finds an array by its name with or without '.npy'; a key that already ends in '.npy' can then
    # be shadowed by another key (keys 'w' and 'w.npy' both answer to npz['w.npy']), and the key MANIFEST
    # by the manifest.
    if key.endswith(".npy"):
        raise ValueError(f"save: key {key!r} ends in '.npy', which np.load cannot tell apart from {key[:-4]!r}")
    if key == MANIFEST:
        raise ValueError(f"save: key {key!r} is the name of the checkpoint's manifest")
    return key


def _check_array(key: str, value: object) -> np.ndarray:
    """Return the numpy array behind `value` (an ndarray, numpy scalar or Tensor) if it is numeric, else raise."""
    arr = value.data if isinstance(value, Tensor) else value
    # A numpy scalar is what arithmetic on a 0-d array gives back (np.ones(()) * 2); it is saved as a 0-d array.
    # Python numbers are refused: their dtype would be a guess.
    if isinstance(arr, np.generic):
        arr = np.asarray(arr)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"save: value for key {key!r} must be a numpy array or a Tensor, got {type(value).__name__}")
    if arr.dtype.kind not in _NUMERIC_KINDS:
        # Object arrays would need pickle; strings, complex, dates and records are not parameters.
        raise TypeError(
            f"save: value for key {key!r} has dtype {arr.dtype}; only bool, integer and float arrays can be saved"
        )
    return arr


def save(state_dict: Mapping[str, np.ndarray | Tensor], path: str | os.PathLike[str]) -> None:
    """Write `state_dict` (name -> numpy array or Tensor) to `path` as an uncompressed `.npz` archive.

    Key order, dtypes (including byte order) and shapes (including 0-d) are kept exactly; a Tensor is saved as
    its `.data`, a numpy scalar such as np.float32(1.0) as a 0-d array. The file is written at `path` exactly
    as given: no `.npz` suffix is added (np.savez would add one). The archive starts with a manifest of the
    arrays (name, dtype, shape), which `load` checks.

    The write is atomic: the archive goes to a temporary file in the same directory, is fsync'ed, and is then
    renamed onto `path` with `os.replace`. If anything fails (or the process dies) before the rename, `path`
    still holds its previous contents. The temporary file is removed on an exception, KeyboardInterrupt,
    SIGTERM or SIGHUP; one left by a SIGKILL is removed by the next save of `path` (see the module docstring).
    An existing `path` keeps its permission bits.

    Raises TypeError for a path that is not a str or os.PathLike, a key that is not a str, or a value that is
    not a bool/int/float numpy array, numpy scalar or Tensor (object arrays are refused: they would need
    pickle); ValueError for a name an `.npz` file cannot hold unchanged; IsADirectoryError if `path` is a
    directory; FileNotFoundError if its directory does not exist; PermissionError or another OSError, naming
    `path`, if the file cannot be written. All checks of the state_dict run before any file is touched.
    """
    name = _path_name(path, "save")
    arrays = {_check_name(key): _check_array(key, value) for key, value in state_dict.items()}

    target = Path(name)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "save: the target is a directory, not a file", name)
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"save: {str(directory)!r} is not an existing directory", name)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None

    # Same directory as the target: os.replace is only atomic within one file system. The leading dot keeps
    # a half-written file out of ordinary listings and globs such as '*.npz'; the host and pid say who wrote it.
    prefix = f".{os.fsdecode(os.fsencode(target.name)[:100])}.{_host()}."  # within the 255 bytes a name may take
    _remove_stale_temp_files(directory, prefix)
    tmp = directory / f"{prefix}{os.getpid()}.{secrets.token_hex(6)}.tmp"
    try:
        with _removed_on_exit(tmp):
            # The kernel takes the umask off the mode: a new file gets 0666 & ~umask, as open() gives, and a
            # replacement is never, even while being written, more open than the file it replaces.
            fd = os.open(tmp, _CREATE_NEW, 0o666 if mode is None else mode)
            with open(fd, "wb") as f:
                if mode is not None and os.name == "posix":
                    os.fchmod(fd, mode)  # exactly the old bits, whatever the umask
                _write_npz(f, arrays)
                f.flush()
                os.fsync(fd)  # the bytes must be on disk before the rename makes them the checkpoint
            os.replace(tmp, target)
    except OSError as err:
        if err.errno is None:
            raise
        # The temporary file is an implementation detail: say what went wrong with the file asked for.
        raise type(err)(err.errno, f"save: {err.strerror}", name) from None
    _fsync_directory(directory)


def _host() -> str:
    """This machine's name, as it may appear in a file name."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:64]


def _remove_stale_temp_files(directory: Path, prefix: str) -> None:
    """Remove the temporary files named `{prefix}{pid}.{random}.tmp` whose writer, on this host, has died.

    A process killed by SIGKILL (or the OOM killer) mid-save cannot remove its temporary file. A file whose
    process is still running (another thread or process saving the same target) is left alone, as is one
    written on another host (a shared file system): its pid says nothing here.
    """
    if os.name != "posix":  # on Windows os.kill(pid, 0) would terminate the process
        return
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.[0-9a-f]{12}\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            match = pattern.fullmatch(entry)
            if match and not _is_running(int(match[1])):
                with contextlib.suppress(OSError):
                    os.unlink(directory / entry)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it exists, as another user
        return True
    return True


@contextlib.contextmanager
def _removed_on_exit(tmp: Path) -> Iterator[None]:
    """Remove `tmp` if the block raises (KeyboardInterrupt too) or the process gets SIGTERM/SIGHUP meanwhile."""

    def remove_then_die(signum: int, frame: object) -> None:
        tmp.unlink(missing_ok=True)
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)  # the default action: the process ends, killed by this signal

    # Only the main thread may set handlers, and only a default action skips Python's cleanup: a program's
    # own handler decides itself what the signal means (if it raises, the except below removes the file).
    installed = []
    if threading.current_thread() is threading.main_thread():
        for signum in _FATAL_SIGNALS:
            if signal.getsignal(signum) == signal.SIG_DFL:
                signal.signal(signum, remove_then_die)
                installed.append(signum)
    try:
        yield
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for signum in installed:
            signal.signal(signum, signal.SIG_DFL)


def _write_npz(f: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` into the open binary file `f` as an .npz archive, as np.savez does, after a manifest.

    np.savez(f, **arrays) would take a key named 'file' or 'allow_pickle' as its own argument (the second one
    silently), so the few lines of np.savez are written out here, with pickling switched off.
    """
    listed = [[key, np.lib.format.dtype_to_descr(arr.dtype), list(arr.shape)] for key, arr in arrays.items()]
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        # First, so that a damaged entry further on cannot hide it along with the arrays it lists.
        zf.writestr(MANIFEST, json.dumps({"tinygrad_rnn_checkpoint": 1, "arrays": listed}))
        for key, arr in arrays.items():
            # force_zip64 as numpy does: the size of a member is not known before it is written (numpy gh-10776)
            with zf.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def _fsync_directory(directory: Path) -> None:
    """Flush the directory entry, so the rename itself survives a power cut (POSIX; Windows has no such call)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> dict[str, np.ndarray]:
    """Read a checkpoint written by `save` (or any `.npz` without object arrays): name -> numpy array, in file order.

    Only `.npy` members are read, with `allow_pickle=False`: an archive holding object arrays (pickled Python
    objects, which could run code when loaded) is refused with a ValueError naming the file and the key. The
    arrays are read into memory and the file is closed before returning.

    `max_bytes` bounds the memory taken: if the members' declared sizes add up to more, the file is refused
    before any of it is read or inflated. Each `.npy` header's shape and dtype must account exactly for its
    member's size, each member must match its CRC-32, and a checkpoint's arrays must be those of its manifest.

    Raises TypeError if `path` is not a str or os.PathLike; FileNotFoundError, IsADirectoryError,
    PermissionError (naming `path`) if it cannot be opened as a file; ValueError naming the file if it is not
    an `.npz` archive (a `.npy` file, a pickle, text), is damaged or cut short, lacks an array of its
    manifest, holds something other than `.npy` arrays, holds object arrays, or declares more than `max_bytes`.
    """
    name = _path_name(path, "load")
    try:
        f = open(name, "rb")
    except OSError as err:
        if err.errno is None:
            raise
        raise type(err)(err.errno, f"load: {err.strerror}", name) from None
    with f:
        magic = f.read(4)
        # np.load would read a .npy file as one array, and take anything else for a pickle: check first.
        if not magic.startswith(_ZIP_MAGIC):
            raise ValueError(f"load: {name!r} is not an .npz archive (it starts with {magic!r}, not a zip header)")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as zf:
                return _read_arrays(zf, max_bytes)
        except _Refused as err:
            raise ValueError(f"load: {name!r} {err}") from None
        except _DAMAGED as err:
            raise ValueError(
                f"load: {name!r} is not a readable .npz archive (damaged or cut short: {type(err).__name__}: {err})"
            ) from None


def _read_arrays(zf: zipfile.ZipFile, max_bytes: int) -> dict[str, np.ndarray]:
    """Read every array of the open archive `zf`, after checking all that can be checked before reading."""
    members = zf.infolist()
    declared = sum(info.file_size for info in members)
    if declared > max_bytes:
        raise _Refused(
            f"declares {declared:,} bytes of data, more than max_bytes={max_bytes:,}; "
            "if the file is trusted, pass a larger max_bytes"
        )
    if members and members[0].filename == MANIFEST:
        listed = _read_manifest(zf, members.pop(0))
        names = [info.filename for info in members]
        if names != [key + ".npy" for key in listed]:
            missing = [key for key in listed if key + ".npy" not in names]
            unexpected = [n for n in names if n.removesuffix(".npy") not in listed]
            raise _Refused(
                f"does not hold the arrays its manifest lists (damaged or cut short): missing {missing}, "
                f"unexpected {unexpected}"
                if missing or unexpected
                else "holds its arrays in another order than its manifest, or one twice (damaged)"
            )
    else:
        listed = None

    arrays: dict[str, np.ndarray] = {}
    for info in members:
        if not info.filename.endswith(".npy"):
            raise _Refused(f"member {info.filename!r} is not a .npy array; not a checkpoint archive")
        key = info.filename.removesuffix(".npy")
        if key in arrays:
            raise _Refused(f"holds key {key!r} twice")
        with zf.open(info) as member:
            dtype, shape = _read_header(member, key, info.file_size)
            if listed is not None and listed[key] != (np.lib.format.dtype_to_descr(dtype), shape):
                raise _Refused(f"array {key!r} is {dtype} {shape}, not the {listed[key]} its manifest lists")
            member.seek(0)
            # read_array copies the bytes out of the zip into a fresh array, so nothing refers to the file later.
            arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
            member.read()  # to the end, where zipfile checks the CRC-32 (an empty array reads no data)
    return arrays


def _read_manifest(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The manifest as key -> (dtype descr, shape), in order."""
    try:
        listed = json.loads(zf.read(info))["arrays"]
        return {key: (descr, tuple(shape)) for key, descr, shape in listed}
    except (KeyError, TypeError, ValueError):
        raise _Refused(f"has a damaged manifest ({MANIFEST})") from None


def _read_header(member: BinaryIO, key: str, size: int) -> tuple[np.dtype, tuple[int, ...]]:
    """Read the .npy header at the start of `member`; check that its shape and dtype fill exactly `size` bytes."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise _Refused(f"array {key!r} has a .npy header of unsupported version {version}")
    if dtype.hasobject:
        raise _Refused(
            f"holds pickled/object data in key {key!r}; refused for safety (unpickling can run arbitrary code). "
            "Checkpoints hold only bool, integer and float arrays."
        )
    # Python ints: a shape such as (10**12,) gives a large number here, not an allocation.
    nbytes = math.prod(shape) * dtype.itemsize
    if any(n < 0 for n in shape) or member.tell() + nbytes != size:
        raise _Refused(
            f"array {key!r} is damaged: its header declares {dtype} {shape} ({nbytes:,} bytes), "
            f"which does not fit its member of {size:,} bytes"
        )
    return dtype, shape
