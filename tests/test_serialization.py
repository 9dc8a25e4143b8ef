"""Checkpoints: save/load round trips, atomic saving, refusal of pickled data, and the errors for bad input."""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.serialization import MANIFEST, MAX_BYTES, load, save

ROOT = Path(__file__).resolve().parent.parent


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
        assert npz.files == [MANIFEST, *state]  # the manifest comes first, as bytes
        np.testing.assert_array_equal(npz["counts"], state["counts"])
        manifest = json.loads(npz[MANIFEST])
    assert manifest["arrays"][:2] == [["weight_ih", "<f4", [8, 3]], ["bias_ih", "<f8", [8]]]
    assert [name for name, _, _ in manifest["arrays"]] == list(state)


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
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert_same_state(load(path), old)
    # A killed process cannot clean up: its temp file stays behind, hidden, and is never mistaken for the checkpoint.
    leftovers = tmp_files(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".m.npz.")
    save(old, path)  # the next save of the same target removes it: its writer is gone
    assert tmp_files(tmp_path) == []


# -- refusing bad input to save --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "error", "match"),
    [
        (1, TypeError, "keys must be str"),
        (("a", "b"), TypeError, "keys must be str"),
        ("a\0b", ValueError, "cannot be stored"),
        ("w.npy", ValueError, "ends in '.npy'"),
        (MANIFEST, ValueError, "name of the checkpoint's manifest"),
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
    with pytest.raises(FileNotFoundError, match="is not an existing directory") as info:
        save({"w": np.ones(1)}, path)
    assert info.value.filename == str(path) and str(path) in str(info.value)
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


def test_directory_and_non_path_are_refused_naming_them(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        load(tmp_path)
    assert info.value.filename == str(tmp_path) and str(tmp_path) in str(info.value)
    with pytest.raises(TypeError, match="load: path must be a str or os.PathLike, got NoneType"):
        load(None)


def test_huge_declared_shape_is_a_value_error_not_a_memory_error(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("w.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
        member.write(np.zeros(1).tobytes())  # 8 bytes, not 8 TB
    with pytest.raises(ValueError, match=r"declares float64 \(1000000000000,\) \(8,000,000,000,000 bytes\)") as info:
        load(path)
    assert str(path) in str(info.value)


# -- the manifest: a lost array is an error, not a smaller dict ----------------------------------------


def copy_members(src: Path, dst: Path, order=None, replace=None) -> None:
    """Copy the archive `src` to `dst` member by member: those named in `order` (all, by default), in that
    order, with the bytes of any member named in `replace` swapped for new ones."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist() if order is None else order:
            new = (replace or {}).get(name)
            zout.writestr(name, zin.read(name) if new is None else new)


def npy_bytes(arr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, arr)
    return buffer.getvalue()


@pytest.fixture
def saved(tmp_path) -> tuple[Path, list[str]]:
    path = tmp_path / "m.npz"
    save(sample_state(), path)
    with zipfile.ZipFile(path) as zf:
        return path, zf.namelist()


def test_missing_array_is_refused_naming_file_and_key(saved):
    path, members = saved
    damaged = path.with_name("damaged.npz")
    copy_members(path, damaged, order=[m for m in members if m != "counts.npy"])
    with pytest.raises(ValueError, match=r"missing \['counts'\]") as info:
        load(damaged)
    assert str(damaged) in str(info.value)


def test_array_not_in_manifest_is_refused(saved):
    path, members = saved
    damaged = path.with_name("damaged.npz")
    copy_members(path, damaged, order=[*members, "extra.npy"], replace={"extra.npy": npy_bytes(np.ones(2))})
    with pytest.raises(ValueError, match=r"unexpected \['extra.npy'\]"):
        load(damaged)


def test_arrays_out_of_manifest_order_are_refused(saved):
    path, members = saved
    damaged = path.with_name("damaged.npz")
    copy_members(path, damaged, order=[members[0], members[2], members[1], *members[3:]])
    with pytest.raises(ValueError, match="another order than its manifest"):
        load(damaged)


def test_array_unlike_its_manifest_entry_is_refused(saved):
    path, _ = saved
    damaged = path.with_name("damaged.npz")
    copy_members(path, damaged, replace={"ids.npy": npy_bytes(np.array([0, 255], dtype=np.uint16))})
    with pytest.raises(ValueError, match=r"array 'ids' is uint16 \(2,\), not the \('\|u1', \(2,\)\)"):
        load(damaged)


def test_checkpoint_without_manifest_loads_as_np_savez_files_do(saved):
    path, members = saved
    old = path.with_name("old.npz")
    copy_members(path, old, order=members[1:])  # the format of older versions of save
    assert_same_state(load(old), sample_state())


def small_state() -> dict[str, np.ndarray]:
    return {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "bé": np.array([1, -2], dtype=np.int16),  # a non-ASCII name: flags the UTF-8 bit of the zip entry
        "step": np.array(3, dtype=np.int64),
        "empty": np.zeros((0, 2)),  # no data: only the header and the CRC-32 guard it
        "mask": np.array([True, False]),
    }


def test_every_single_byte_change_gives_the_same_arrays_or_a_value_error(tmp_path):
    # Every byte of a small checkpoint, changed two ways (all bits, lowest bit); and every truncation.
    # Bytes zipfile does not read (times, version fields, the local copies of sizes and CRCs) change nothing.
    state = small_state()
    path = tmp_path / "small.npz"
    save(state, path)
    data = path.read_bytes()
    damaged = tmp_path / "damaged.npz"
    variants = [(i, data[:i] + bytes([data[i] ^ flip]) + data[i + 1 :]) for i in range(len(data)) for flip in (255, 1)]
    variants += [(n, data[:n]) for n in range(len(data))]
    outcomes = {"same": 0, "ValueError": 0}
    for where, content in variants:
        damaged.write_bytes(content)
        try:
            got = load(damaged)
        except ValueError as err:
            assert str(damaged) in str(err), (where, err)
            outcomes["ValueError"] += 1
            continue
        except Exception as err:  # pragma: no cover - the message is the point
            pytest.fail(f"byte {where}: raw {type(err).__name__}: {err}")
        assert len(content) == len(data), f"cut to {where} bytes, yet it loaded"
        try:
            assert_same_state(got, state)
        except AssertionError as err:  # pragma: no cover
            pytest.fail(f"byte {where}: loaded different arrays: {err}")
        outcomes["same"] += 1
    assert outcomes["same"] > 0 and outcomes["ValueError"] > len(data), outcomes


# -- bounded loading -----------------------------------------------------------------------------------


def write_deflate_bomb(path: Path, n: int) -> None:
    """Write an honest .npz whose one member, x.npy, holds n zero bytes (n a multiple of 1 MiB) deflated 1000:1."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (n,)})
    header = header.getvalue()
    mib = bytes(2**20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    # A full flush forgets what came before, so every MiB of zeros deflates to these same bytes.
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    data = first + block * (n // 2**20) + deflate.flush()
    crc = zlib.crc32(header)
    for _ in range(n // 2**20):
        crc = zlib.crc32(mib, crc)
    name, size, deflated, date = b"x.npy", len(header) + n, zipfile.ZIP_DEFLATED, 0x21  # 1 January 1980
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, deflated, 0, date, crc, len(data), size, len(name), 0)
    central = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, deflated, 0, date, crc, len(data), size, len(name), 0, 0, 0, 0, 0, 0
    )
    offset = len(local) + len(name) + len(data)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), offset, 0)
    path.write_bytes(local + name + data + central + name + end)


def test_deflate_bomb_is_refused_before_inflating(tmp_path):
    small = tmp_path / "small_bomb.npz"
    write_deflate_bomb(small, 2**23)
    with np.load(small) as npz:
        assert npz["x"].shape == (2**23,)  # a real archive: numpy inflates it
    assert load(small)["x"].nbytes == 2**23  # and so does load, below max_bytes
    with pytest.raises(ValueError, match=r"declares 8,388,736 bytes of data, more than max_bytes=4,194,304"):
        load(small, max_bytes=2**22)

    bomb = tmp_path / "bomb.npz"
    write_deflate_bomb(bomb, 2**31)  # 2 GiB of zeros
    assert bomb.stat().st_size < 2.5e6 and MAX_BYTES < 2**31
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(ValueError, match="if the file is trusted, pass a larger max_bytes") as info:
            load(bomb)
        seconds, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(bomb) in str(info.value)
    assert seconds < 1.0 and peak < 2**20, (seconds, peak)


# -- no litter: exceptions, signals, kills -------------------------------------------------------------


def test_fatal_signal_handlers_are_set_only_while_writing_from_the_main_thread(tmp_path, monkeypatch):
    seen = []
    write_array = np.lib.format.write_array

    def spy(*args, **kwargs):
        seen.append(signal.getsignal(signal.SIGTERM))
        return write_array(*args, **kwargs)

    def own_handler(signum, frame):
        pass

    monkeypatch.setattr(np.lib.format, "write_array", spy)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        save({"w": np.ones(2)}, tmp_path / "a.npz")
        assert seen[-1] not in (signal.SIG_DFL, None) and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        thread = threading.Thread(target=save, args=({"w": np.ones(2)}, tmp_path / "b.npz"))
        thread.start()
        thread.join()
        assert seen[-1] == signal.SIG_DFL  # only the main thread may set handlers
        signal.signal(signal.SIGTERM, own_handler)
        save({"w": np.ones(2)}, tmp_path / "c.npz")
        assert seen[-1] is own_handler and signal.getsignal(signal.SIGTERM) is own_handler  # the program's choice
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(seen) == 3 and sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz", "c.npz"]


SAVER = """
import signal, sys
import numpy as np
from tinygrad_rnn.serialization import save
for signum in (signal.SIGTERM, signal.SIGHUP):  # the defaults, even under a runner that ignores them (nohup)
    signal.signal(signum, signal.SIG_DFL)
if sys.argv[2] == "exits-on-sigterm":
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(5))
state = {f"w{i}": np.full(2_000_000, i, dtype=np.float32) for i in range(8)}  # 64 MB
state["step"] = np.array(0)
save(state, sys.argv[1])
print("ready", flush=True)
while True:
    state["step"] += 1
    save(state, sys.argv[1])
"""
SAVED_BYTES = 8 * 2_000_000 * 4


def temp_file_sizes(directory: Path) -> list[int]:
    sizes = []
    for entry in os.scandir(directory):
        if entry.name.endswith(".tmp"):
            try:
                sizes.append(entry.stat().st_size)
            except FileNotFoundError:  # renamed meanwhile
                pass
    return sizes


def signal_mid_save(path: Path, signum: int, written: int, program: str = "default") -> tuple[int, int]:
    """Start a process that saves a 64 MB state dict to `path` over and over, send it `signum` once a temporary
    file holds `written` bytes, and return the process's pid and exit code."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(path), program], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 30
        while not any(size >= written for size in temp_file_sizes(path.parent)):
            assert time.monotonic() < deadline and proc.poll() is None
        proc.send_signal(signum)
        return proc.pid, proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def assert_complete_checkpoint(path: Path) -> None:
    got = load(path)
    assert list(got) == [*(f"w{i}" for i in range(8)), "step"]
    assert all(got[f"w{i}"].shape == (2_000_000,) and (got[f"w{i}"] == i).all() for i in range(8))


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize(
    ("signame", "written"),
    [("SIGTERM", 0), ("SIGTERM", 2**24), ("SIGTERM", 3 * 2**24), ("SIGTERM", SAVED_BYTES), ("SIGHUP", 2**24)],
    ids=["SIGTERM-created", "SIGTERM-16MB", "SIGTERM-48MB", "SIGTERM-all", "SIGHUP-16MB"],
)
def test_sigterm_or_sighup_mid_save_removes_temp_file_and_still_kills(tmp_path, signame, written):
    path = tmp_path / "m.npz"
    signum = getattr(signal, signame)
    _, code = signal_mid_save(path, signum, written)
    assert code == -signum  # delivered again after the cleanup: the process died of it
    assert tmp_files(tmp_path) == []
    assert_complete_checkpoint(path)


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_program_handler_that_exits_on_sigterm_also_leaves_no_temp_file(tmp_path):
    path = tmp_path / "m.npz"
    _, code = signal_mid_save(path, signal.SIGTERM, 2**24, program="exits-on-sigterm")
    assert code == 5 and tmp_files(tmp_path) == []
    assert_complete_checkpoint(path)


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("written", [2**24, 3 * 2**24], ids=["16MB", "48MB"])
def test_sigkill_leaves_a_temp_file_that_the_next_save_removes(tmp_path, written):
    path = tmp_path / "m.npz"
    pid, code = signal_mid_save(path, signal.SIGKILL, written)
    assert code == -signal.SIGKILL
    leftovers = tmp_files(tmp_path)
    assert len(leftovers) == 1 and f".{pid}." in leftovers[0]  # no code runs on SIGKILL
    assert_complete_checkpoint(path)
    save({"w": np.ones(2)}, path)
    assert tmp_files(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="cleaning up after killed savers is POSIX-only")
def test_next_save_removes_only_temp_files_of_dead_writers_of_that_target_on_this_host(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(finished.stdout), os.getpid()
    host = tg.serialization._host()
    names = {
        f".m.npz.{host}.{dead}.0123456789ab.tmp": False,  # its writer is gone: removed
        f".m.npz.{host}.{alive}.0123456789ab.tmp": True,  # still being written (by another thread, here)
        f".other.npz.{host}.{dead}.0123456789ab.tmp": True,  # another target's
        f".m.npz.another-host.{dead}.0123456789ab.tmp": True,  # on a shared disk: the pid is another host's
        ".m.npz.0123456789ab.tmp": True,  # no pid, no telling
    }
    for name in names:
        (tmp_path / name).write_bytes(b"half a checkpoint")
    save({"w": np.ones(2)}, tmp_path / "m.npz")
    assert sorted(tmp_files(tmp_path)) == sorted(name for name, kept in names.items() if kept)


CONCURRENT_SAVER = """
import sys
import numpy as np
from tinygrad_rnn.serialization import save
for step in range(40):
    save({"w": np.full(200_000, float(sys.argv[2])), "step": np.array(step)}, sys.argv[1])
"""


def test_concurrent_savers_never_remove_each_others_temp_files(tmp_path):
    path = tmp_path / "m.npz"
    command = [sys.executable, "-c", CONCURRENT_SAVER, str(path)]
    procs = [subprocess.Popen([*command, str(k)], cwd=ROOT, stderr=subprocess.PIPE, text=True) for k in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err  # a removed temp file would fail that saver's rename
    got = load(path)
    assert got["step"] == 39 and got["w"][0] in (0.0, 1.0, 2.0)
    assert tmp_files(tmp_path) == []


# -- permissions ---------------------------------------------------------------------------------------


@pytest.fixture
def umask():
    """Set the process umask for one test (it is process-wide: pytest runs tests one at a time)."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444, 0o755])
def test_overwrite_keeps_permission_bits_whatever_the_umask(tmp_path, umask, mode):
    path = tmp_path / "m.npz"
    save({"w": np.ones(2)}, path)
    path.chmod(mode)
    umask(0o077)
    save({"w": np.zeros(2)}, path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    np.testing.assert_array_equal(load(path)["w"], [0.0, 0.0])


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_file_gets_0666_minus_umask(tmp_path, umask, mask):
    umask(mask)
    save({"w": np.ones(2)}, tmp_path / "m.npz")
    assert stat.S_IMODE((tmp_path / "m.npz").stat().st_mode) == 0o666 & ~mask


# -- errors name the target, never the temporary file --------------------------------------------------


def test_save_to_a_directory_or_none(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        save({"w": np.ones(1)}, tmp_path)
    assert info.value.filename == str(tmp_path) and str(tmp_path) in str(info.value)
    with pytest.raises(TypeError, match="save: path must be a str or os.PathLike, got NoneType"):
        save({"w": np.ones(1)}, None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_save_into_an_unwritable_directory_names_the_target(tmp_path, monkeypatch):
    directory = tmp_path / "read_only"
    directory.mkdir()
    directory.chmod(0o500)
    if os.geteuid() == 0:  # root writes anyway: refuse as the kernel refuses anyone else
        real_open = os.open

        def refused(path, flags, *args, **kwargs):
            if str(path).endswith(".tmp"):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refused)
    path = directory / "m.npz"
    try:
        with pytest.raises(PermissionError) as info:
            save({"w": np.ones(1)}, path)
    finally:
        directory.chmod(0o700)
    assert info.value.filename == str(path) and ".tmp" not in str(info.value)
    assert list(directory.iterdir()) == []


def test_disk_full_names_the_target_and_removes_the_temp_file(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    path = tmp_path / "m.npz"
    with pytest.raises(OSError, match="No space left on device") as info:
        save({"w": np.ones(1)}, path)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert list(tmp_path.iterdir()) == []
