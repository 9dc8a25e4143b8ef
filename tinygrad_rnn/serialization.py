"""Checkpoints on disk: `save(state_dict, path)` and `load(path)`, in numpy's `.npz` format.

This file owns the on-disk format of a state_dict and the two promises made about it:

- saving is atomic: the checkpoint is written to a temporary file next to the target, flushed to disk,
  then renamed over the target, so a crash mid-save leaves the previous checkpoint as it was;
- loading never unpickles: files are read with `np.load(..., allow_pickle=False)`, and only plain numeric
  arrays (bool, integer, float) are written or accepted, so a checkpoint from a stranger cannot run code.

The file is an ordinary `.npz` archive (one `<name>.npy` member per array, in state_dict order), so
`np.load(path)` opens it too. The path is used exactly as given: unlike `np.savez`, no `.npz` is appended.
"""

from __future__ import annotations

import os
import secrets
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .core import Tensor

# bool, signed int, unsigned int, float: the kinds a Tensor may hold, and all that a checkpoint needs.
_NUMERIC_KINDS = "biuf"
_DTYPE_NAMES = {"b": "bool", "i": "int", "u": "uint", "f": "float"}

# What an .npz file starts with: a zip local file header, or the end record of an empty zip (save({}, path)).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


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
    # be shadowed by another key (keys 'w' and 'w.npy' both answer to npz['w.npy']).
    if key.endswith(".npy"):
        raise ValueError(f"save: key {key!r} ends in '.npy', which np.load cannot tell apart from {key[:-4]!r}")
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
    as given: no `.npz` suffix is added (np.savez would add one).

    The write is atomic: the archive goes to a temporary file in the same directory, is fsync'ed, and is then
    renamed onto `path` with `os.replace`. If anything fails (or the process dies) before the rename, `path`
    still holds its previous contents, and on an exception the temporary file is removed.

    Raises TypeError for a key that is not a str, or a value that is not a bool/int/float numpy array, numpy
    scalar or Tensor (object arrays are refused: they would need pickle); ValueError for a name an `.npz`
    file cannot hold unchanged; FileNotFoundError if the directory of `path` does not exist. All checks run
    before any file is touched.
    """
    arrays = {_check_name(key): _check_array(key, value) for key, value in state_dict.items()}

    target = Path(path)
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"save: directory {str(directory)!r} does not exist (saving to {str(target)!r})")
    # Same directory as the target: os.replace is only atomic within one file system. The leading dot keeps
    # a half-written file out of ordinary listings and globs such as '*.npz'.
    tmp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        # Mode 'x' makes a new file with the usual permissions (umask applies), never reusing an existing one.
        with open(tmp, "xb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())  # the bytes must be on disk before the rename makes them the checkpoint
        os.replace(tmp, target)
    except BaseException:  # also KeyboardInterrupt: never leave a stray temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _write_npz(f: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` into the open binary file `f` as an .npz archive, as np.savez does.

    np.savez(f, **arrays) would take a key named 'file' or 'allow_pickle' as its own argument (the second one
    silently), so the few lines of np.savez are written out here, with pickling switched off.
    """
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
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


def load(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a checkpoint written by `save` (or any `.npz` without object arrays): name -> numpy array, in file order.

    The file is opened with `np.load(..., allow_pickle=False)`: an archive holding object arrays (pickled
    Python objects, which could run code when loaded) is refused with a ValueError naming the file and the
    key. The arrays are read into memory and the file is closed before returning.

    Raises FileNotFoundError if `path` does not exist, ValueError if it is not an `.npz` archive (a `.npy`
    file, a pickle, text, a damaged zip), holds something other than `.npy` arrays, or holds object arrays.
    """
    name = str(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file: {name!r}") from None
    with f:
        magic = f.read(4)
        # np.load would read a .npy file as one array, and take anything else for a pickle: check first.
        if not magic.startswith(_ZIP_MAGIC):
            raise ValueError(f"load: {name!r} is not an .npz archive (it starts with {magic!r}, not a zip header)")
        f.seek(0)
        try:
            npz = np.load(f, allow_pickle=False)
        except zipfile.BadZipFile as err:
            raise ValueError(
                f"load: {name!r} is not a readable .npz archive (damaged or truncated zip: {err})"
            ) from None
        with npz:
            return _read_arrays(name, npz)


def _read_arrays(name: str, npz: np.lib.npyio.NpzFile) -> dict[str, np.ndarray]:
    """Read every member of the open archive `npz` into memory, refusing anything but plain .npy arrays."""
    arrays: dict[str, np.ndarray] = {}
    # Index by the full member name ('w.npy'): np.load's lookup by bare name can pick the wrong member when
    # names such as 'w' and 'w.npy' are both in the file.
    for member in npz.zip.namelist():
        key = member.removesuffix(".npy")
        if key in arrays:
            raise ValueError(f"load: {name!r} holds key {key!r} twice")
        try:
            value = npz[member]
        except ValueError as err:
            # numpy raises ValueError both for an object array and for a damaged header; only the first
            # mentions allow_pickle, and it is the one a learner must be told about plainly.
            if "allow_pickle" in str(err):
                raise ValueError(
                    f"load: {name!r} holds pickled/object data in key {key!r}; refused for safety (unpickling "
                    f"can run arbitrary code). Checkpoints hold only bool, integer and float arrays."
                ) from None
            raise ValueError(f"load: {name!r}: array {key!r} is damaged or unreadable: {err}") from err
        except zipfile.BadZipFile as err:
            raise ValueError(f"load: {name!r}: array {key!r} is damaged (bad zip data: {err})") from None
        if not isinstance(value, np.ndarray):
            # NpzFile hands back raw bytes for a member that is not a .npy array.
            raise ValueError(f"load: {name!r} member {member!r} is not a .npy array; not a checkpoint archive")
        # read_array copies the bytes out of the zip into a fresh array, so nothing refers to the file once it closes.
        arrays[key] = value
    return arrays
