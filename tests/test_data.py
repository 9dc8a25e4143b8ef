"""The data the demos train on (tinygrad_rnn/data.py): made on the spot, deterministic, and right."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import data


def test_stdlib_corpus_is_deterministic_and_capped():
    text = data.stdlib_docstrings(20_000)
    assert len(text) == 20_000
    assert text == data.stdlib_docstrings(20_000)
    assert data.stdlib_docstrings(5_000) == text[:5_000]  # a smaller cap cuts the same text
    assert set(text) <= {"\n"} | {chr(k) for k in range(32, 127)}
    assert len(set(text)) > 60 and text.count("\n\n") > 20  # real prose, many docstrings


def test_adding_problem_targets():
    x, y = data.adding_batch(np.random.default_rng(0), 500, 20)
    assert x.shape == (500, 20, 2) and y.shape == (500,) and x.dtype == y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[:, :10].sum(axis=1) == 1).all() and (markers[:, 10:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(y, (values * markers).sum(axis=1), rtol=1e-6)
    # The baseline the demo draws: always answering 1 has MSE Var(u1 + u2) = 1/12 + 1/12 = 1/6.
    assert data.ADDING_BASELINE == pytest.approx(1 / 6)
    _, many = data.adding_batch(np.random.default_rng(1), 200_000, 4)
    assert np.mean((many - 1.0) ** 2) == pytest.approx(1 / 6, rel=0.01)


def test_adding_problem_odd_and_shortest_lengths():
    for length in (2, 3, 7):
        x, y = data.adding_batch(np.random.default_rng(length), 100, length)
        half = length // 2
        assert (x[:, :half, 1].sum(axis=1) == 1).all() and (x[:, half:, 1].sum(axis=1) == 1).all()
        np.testing.assert_allclose(y, (x[..., 0] * x[..., 1]).sum(axis=1), rtol=1e-6)


def test_recall_task_puts_the_key_first_and_fillers_after():
    x, keys = data.recall_batch(np.random.default_rng(0), 64, 10, keys=3, fillers=5)
    assert x.shape == (64, 10, 8) and x.dtype == np.float32 and keys.shape == (64,)
    tokens = x.argmax(-1)
    assert (x.sum(-1) == 1).all()  # one-hot
    np.testing.assert_array_equal(tokens[:, 0], keys)
    assert (tokens[:, 1:] >= 3).all() and set(np.unique(keys)) == {0, 1, 2}
    time_major, same_keys = data.recall_batch(np.random.default_rng(0), 64, 10, keys=3, fillers=5, batch_first=False)
    np.testing.assert_array_equal(time_major, x.transpose(1, 0, 2))
    np.testing.assert_array_equal(same_keys, keys)
