"""Which dtypes a tensor holds, and which dtype an op on two operands computes in.

PyTorch's rules, so copied PyTorch code computes in the same dtype, and nothing wraps around or
overflows without an error:

- A tensor holds bool, a signed or unsigned integer, float32 or float64. Python floats become
  float32, PyTorch's default. float16 is refused (on a CPU it is no faster, its sums overflow
  at 65,504 and Adam's eps of 1e-8 rounds to 0); so are complex numbers, strings and objects.
- Operands of different kinds (bool < integer < float) compute in the higher kind's dtype: an
  int64 tensor times a float32 tensor is float32, and `1.0 - uint8` never negates an unsigned
  integer. Within a kind, the wider dtype (float32 with float64 gives float64).
- A number takes the tensor's dtype unless its kind is higher (x * 2 stays float32, uint8 + 1
  stays uint8 and uint8 + 300 is an error); a float number with an integer tensor gives float32.
"""

from __future__ import annotations

import numpy as np

from .modes import OpError

FLOAT = np.dtype(np.float32)  # what Python floats, and integers that need a float, become
_KINDS = "biuf"  # bool, signed int, unsigned int, float
_RANK = {"b": 0, "i": 1, "u": 1, "f": 2}


def array(data, dtype=None, where: str = "Tensor") -> np.ndarray:
    """`data` as a new array a tensor may hold (a copy: the caller's array can change freely)."""
    try:
        arr = np.array(data, dtype=dtype, copy=True)
    except (ValueError, TypeError) as err:  # ragged lists, strings that are not numbers, ...
        raise ValueError(f"{where}: cannot make an array of numbers from {type(data).__name__}: {err}") from None
    if dtype is None and arr.dtype.kind == "f" and not isinstance(data, np.ndarray | np.generic):
        arr = arr.astype(FLOAT)  # Python floats default to float32, as in PyTorch
    return checked(arr, where)


def checked(arr: np.ndarray, where: str) -> np.ndarray:
    """`arr` if a tensor may hold its dtype, else a TypeError that says what to write instead."""
    if arr.dtype.kind == "f" and arr.dtype.itemsize not in (4, 8):
        raise TypeError(
            f"{where}: dtype {arr.dtype} is not supported, only float32 and float64: float16 sums overflow "
            "at 65,504 and Adam's eps underflows to 0. Convert with .astype(np.float32)"
        )
    if arr.dtype.kind not in _KINDS:
        raise TypeError(f"{where}: unsupported dtype {arr.dtype} (tensors hold bool, integers, float32 or float64)")
    return arr


def operand(value, like: np.dtype, where: str) -> np.ndarray:
    """The other operand of `tensor <op> value` as an array: a number in the dtype PyTorch gives
    it (see the file's docstring), an array copied and checked."""
    if isinstance(value, bool | int | float | np.bool_ | np.integer | np.floating):
        kind = "b" if isinstance(value, bool | np.bool_) else "f" if isinstance(value, float | np.floating) else "i"
        if _RANK[kind] > _RANK[like.kind]:
            return np.asarray(value, FLOAT if kind == "f" else np.int64)
        if like.kind in "iu" and not np.iinfo(like).min <= value <= np.iinfo(like).max:
            raise OpError(f"{where}: {value} does not fit in {like}; convert the tensor first: x.astype(np.int64)")
        return np.asarray(value, like)
    if value is None or isinstance(value, str | complex | np.generic):
        raise TypeError(f"{where}: cannot combine a tensor with {value!r} (only numbers, numeric arrays, tensors)")
    return array(value, where=where)


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype an op on operands of dtypes a and b computes in: the higher kind's, else the wider."""
    if _RANK[a.kind] != _RANK[b.kind]:
        return a if _RANK[a.kind] > _RANK[b.kind] else b
    return np.result_type(a, b)
