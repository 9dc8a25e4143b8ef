"""Checkpoints: save/load round trips, atomic saving, refusal of pickled data, and the errors for bad input."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.serialization import load, save


def sample_state() -> OrderedDict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    # Deliberately not alphabetical, so a sorted read-back would show.
    return OrderedDict(
        [
            ("weight_ih", rng.standard_normal((8, 3)).astype(np.float32)),
            ("bias_ih", rng.standard_normal(8).astype(np.float64)),
            ("step", np.array(7, dtype=np.int64)),  # 0-d
            ("alpha", np.array(0.5, dtype=np.float32)),  # 0-d float
            ("counts", np.arange(24, dtype=np.int32).reshape(2, 3, 4)),
            ("mask", np.array([True, False, True])),
            ("ids", np.array([0, 255], dtype=np.uint8)),
            ("empty", np.zeros((0, 5), dtype=np.float32)),
            ("big_endian", np.arange(3, dtype=">f4")),
            ("fortran", np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))),
            ("half", np.array([1.5, -2.0], dtype=np.float16)),
        ]
    )


def assert_same_state(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key, w in want.items():
        g = got[key]
        assert isinstance(g, np.ndarray), key
        assert g.dtype == w.dtype, (key, g.dtype, w.dtype)
        assert g.shape == w.shape, (key, g.shape, w.shape)
        np.testing.assert_array_equal(g, w, err_msg=key)


def tmp_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


# -- round trips -----------------------------------------------------------------------------------


def test_round_trip_keeps_order_dtype_shape_and_values(tmp_path):
    state = sample_state()
    path = tmp_path / "model.npz"
    save(state, path)
    got = load(path)
    assert type(got) is dict
    assert_same_state(got, state)
    assert got["step"].ndim == 0 and got["step"] == 7
    assert got["big_endian"].dtype.byteorder == ">"


def test_loaded_arrays_are_independent_and_writable(tmp_path):
    path = tmp_path / "m.npz"
    save({"w": np.ones(3)}, path)
    got = load(path)
    got["w"][0] = 5.0  # no read-only buffer tied to the file
    path.unlink()  # the file is closed, and the array does not need it
    np.testing.assert_array_equal(got["w"], [5.0, 1.0, 1.0])


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to list open files")
def test_load_closes_the_file(tmp_path):
    path = tmp_path / "m.npz"
    save({"w": np.ones(3)}, path)
    load(path)
    open_files = [os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")]
    assert str(path.resolve()) not in open_files


def test_tensors_are_saved_as_their_data(tmp_path):
    w = tg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    b = tg.Tensor(np.array([1.0, 2.0]))  # float64 kept
    path = tmp_path / "t.npz"
    save({"w": w, "b": b, "raw": np.zeros(2, dtype=np.int64)}, path)
    got = load(path)
    assert list(got) == ["w", "b", "raw"]
    assert all(isinstance(v, np.ndarray) for v in got.values())
    assert got["w"].dtype == np.float32 and got["b"].dtype == np.float64
    np.testing.assert_array_equal(got["w"], w.data)
    np.testing.assert_array_equal(got["b"], [1.0, 2.0])


def test_numpy_scalars_are_saved_as_0d_arrays(tmp_path):
    path = tmp_path / "s.npz"
    save({"lr": np.float32(0.25), "epoch": np.ones((), dtype=np.int64) * 3}, path)  # the second is a scalar too
    got = load(path)
    assert got["lr"].shape == () and got["lr"].dtype == np.float32 and got["lr"] == 0.25
    assert got["epoch"].shape == () and got["epoch"].dtype == np.int64 and got["epoch"] == 3


def test_path_is_kept_exactly_without_npz_suffix(tmp_path):
    path = tmp_path / "checkpoint.ckpt"
    save({"w": np.ones(2)}, str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.ckpt"]
    np.testing.assert_array_equal(load(str(path))["w"], [1.0, 1.0])


def test_file_is_an_ordinary_npz_that_numpy_reads(tmp_path):
    state = sample_state()
    path = tmp_path / "m.npz"
    save(state, path)
    with np.load(path, allow_pickle=False) as npz:
        assert npz.files == list(state)
        np.testing.assert_array_equal(npz["counts"], state["counts"])


def test_loads_a_file_written_by_np_savez(tmp_path):
    path = tmp_path / "np.npz"
    np.savez(path, b=np.arange(3), a=np.float32(2.0))
    got = load(path)
    assert list(got) == ["b", "a"]
    assert got["a"].dtype == np.float32 and got["a"].shape == ()


def test_keys_that_np_savez_would_take_as_its_own_arguments(tmp_path):
    # np.savez(f, **d) would choke on 'file' and silently swallow 'allow_pickle'.
    state = {"file": np.ones(2), "allow_pickle": np.zeros(3), "arr_0": np.arange(2), "lstm/weight_ih_l0": np.ones(1)}
    path = tmp_path / "k.npz"
    save(state, path)
    assert_same_state(load(path), state)


def test_empty_state_dict(tmp_path):
    path = tmp_path / "empty.npz"
    save({}, path)
    assert load(path) == {}


def test_overwrite_replaces_previous_checkpoint(tmp_path):
    path = tmp_path / "m.npz"
    save({"old": np.ones(2)}, path)
    save({"new": np.zeros(3, dtype=np.int8)}, path)
    got = load(path)
    assert list(got) == ["new"] and got["new"].dtype == np.int8
    assert tmp_files(tmp_path) == []


# -- atomic saving ---------------------------------------------------------------------------------


def test_failure_mid_write_keeps_old_checkpoint_and_removes_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = {"w": np.arange(4, dtype=np.float32)}
    save(old, path)
    before = path.read_bytes()

    real_write_array = np.lib.format.write_array
    calls = []

    def write_then_crash(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first array is written, the second half-written, then the "crash"
            fp.write(b"\x93NUMPY partial")
            raise OSError("disk full")
        return real_write_array(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)
    with pytest.raises(OSError, match="disk full"):
        save({"w": np.zeros(4), "b": np.ones(100)}, path)
    assert len(calls) == 2  # the crash happened mid-save, after data went to disk

    monkeypatch.undo()
    assert path.read_bytes() == before
    assert_same_state(load(path), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_failure_at_rename_keeps_old_checkpoint_and_removes_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    save({"w": np.ones(2)}, path)
    before = path.read_bytes()
    seen = []

    def failing_replace(src, dst):
        seen.append(Path(src))
        assert Path(src).parent == tmp_path and Path(src).stat().st_size > 0  # fully written, next to the target
        raise PermissionError("rename refused")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        save({"w": np.zeros(2)}, path)
    monkeypatch.undo()
    assert len(seen) == 1 and not seen[0].exists()
    assert path.read_bytes() == before
    assert tmp_files(tmp_path) == []


def test_keyboard_interrupt_mid_save_removes_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    save({"w": np.ones(2)}, path)
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save({"w": np.zeros(2)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert tmp_files(tmp_path) == []


def test_process_killed_mid_save_keeps_old_checkpoint(tmp_path):
    # A real crash: the process dies inside save, so no cleanup code runs at all.
    path = tmp_path / "m.npz"
    old = {"w": np.arange(5, dtype=np.int64)}
    save(old, path)
    script = f"""
import os, numpy as np
from tinygrad_rnn.serialization import save
def die(fp, array, *args, **kwargs):
    fp.write(b"half an array")
    os._exit(3)
np.lib.format.write_array = die
save({{"w": np.zeros(1000)}}, {str(path)!r})
"""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert_same_state(load(path), old)
    # A killed process cannot clean up: its temp file stays behind, hidden, and is never mistaken for the checkpoint.
    leftovers = tmp_files(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".m.npz.")


# -- refusing bad input to save --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "error", "match"),
    [
        (1, TypeError, "keys must be str"),
        (("a", "b"), TypeError, "keys must be str"),
        ("a\0b", ValueError, "cannot be stored"),
        ("w.npy", ValueError, "ends in '.npy'"),
        ("bad\udc80", ValueError, "not valid unicode"),
    ],
)
def test_bad_keys_are_refused_before_anything_is_written(tmp_path, key, error, match):
    path = tmp_path / "m.npz"
    with pytest.raises(error, match=match):
        save({"ok": np.ones(1), key: np.ones(1)}, path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.array([1, "a", None], dtype=object), "dtype object"),
        (np.array(["a", "b"]), "dtype <U1"),
        (np.array([1 + 2j]), "dtype complex128"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "dtype datetime64"),
        (np.zeros(2, dtype=[("x", "f4"), ("y", "i4")]), "dtype"),
        ([1.0, 2.0], "must be a numpy array or a Tensor, got list"),
        (1.5, "must be a numpy array or a Tensor, got float"),
        (None, "must be a numpy array or a Tensor, got NoneType"),
    ],
)
def test_bad_values_are_refused_and_old_checkpoint_kept(tmp_path, value, match):
    path = tmp_path / "m.npz"
    save({"w": np.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=match) as info:
        save({"w": np.zeros(2), "bad": value}, path)
    assert "'bad'" in str(info.value)  # the message names the key
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_save_into_missing_directory(tmp_path):
    path = tmp_path / "no_such_dir" / "m.npz"
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        save({"w": np.ones(1)}, path)
    assert list(tmp_path.iterdir()) == []


# -- refusing bad files in load --------------------------------------------------------------------


def test_object_npz_is_refused_naming_file_and_key(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, fine=np.ones(2), payload=np.array([{"a": 1}, None], dtype=object))  # pickled by numpy
    with pytest.raises(ValueError, match="pickled/object data") as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and "'payload'" in message and "refused for safety" in message


def test_plain_pickle_file_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": np.ones(2)}))
    with pytest.raises(ValueError, match="not an .npz archive") as info:
        load(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz") as info:
        load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"just some text\n", b"", b"PK\x03\x04 truncated zip"],
    ids=["text", "empty-file", "truncated-zip"],
)
def test_non_npz_file_gives_value_error_naming_path(tmp_path, content):
    path = tmp_path / "weights.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not an .npz archive|not a readable .npz archive") as info:
        load(path)
    assert str(path) in str(info.value)


def test_npy_file_is_not_an_npz(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError, match="not an .npz archive") as info:
        load(path)
    assert str(path) in str(info.value)


def test_checkpoint_cut_short_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    save(sample_state(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # e.g. an interrupted copy
    with pytest.raises(ValueError, match="not a readable .npz archive") as info:
        load(path)
    assert str(path) in str(info.value)


def test_zip_of_other_files_is_refused(tmp_path):
    path = tmp_path / "notes.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="'readme.txt' is not a .npy array") as info:
        load(path)
    assert str(path) in str(info.value)
