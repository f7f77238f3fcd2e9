"""Exact distances of `jdal.metrics` and the Div they feed, against float64 NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import config, make_run, metrics
from jdal.loop import nearest_other_distance


def numpy_nearest(x, others, mask):
    """float64 nearest distance over the allowed pairs."""
    x, others = np.asarray(x, np.float64), np.asarray(others, np.float64)
    dist = np.linalg.norm(x[:, None, :] - others[None, :, :], axis=-1)
    return np.min(np.where(mask, dist, np.inf), axis=1)


@pytest.mark.parametrize("dim", [1, 4])
def test_nearest_distance_resolves_points_1e5_apart(dim):
    """Near-duplicates 1e-5 apart (which |a|^2 + |b|^2 - 2ab in float32 rounds to
    0 or to ~3e-4) are measured within 1e-3 relative of float64."""
    rng = np.random.default_rng(dim)
    base = rng.uniform(-0.9, 0.9, (30, dim)).astype(np.float32)
    direction = rng.normal(size=(30, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    gaps = rng.uniform(0.5e-5, 2e-5, (30, 1))
    near = (base + gaps * direction).astype(np.float32)
    others = np.concatenate([base, rng.uniform(-1, 1, (50, dim)).astype(np.float32)])
    mask = rng.uniform(size=(30, 80)) < 0.9
    mask[np.arange(30), np.arange(30)] = True  # the twin always counts
    got = np.asarray(jax.jit(metrics.nearest_distance)(near, others, mask))
    want = numpy_nearest(near, others, mask)
    assert want.max() < 3e-5  # the twins are the nearest
    np.testing.assert_allclose(got, want, rtol=1e-3)


def test_nearest_distance_blocks_agree_with_one_block(monkeypatch):
    """Computed in row blocks (`map_rows`) or all at once: the same numbers up to
    the last bit (XLA may vectorise the sum over d differently); a row with no
    allowed pair gets inf."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (37, 3)).astype(np.float32)
    others = rng.uniform(-1, 1, (50, 3)).astype(np.float32)
    mask = rng.uniform(size=(37, 50)) < 0.5
    mask[5] = False
    whole = np.asarray(metrics.nearest_distance(x, others, mask))
    monkeypatch.setattr(metrics, "ROW_BLOCK_ELEMENTS", 4 * others.size)
    blocked = np.asarray(metrics.nearest_distance(x, others, mask))
    np.testing.assert_allclose(blocked, whole, rtol=3e-7)
    assert np.isinf(whole[5])
    np.testing.assert_allclose(np.delete(whole, 5), np.delete(
        numpy_nearest(x, others, mask), 5), rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize("dim", [1, 4])
def test_div_term_of_near_duplicate_picks(dim):
    """Div's per-point term: nearest other labelled point, the batch included,
    never the point itself; twins 1e-5 apart give 1e-5, not 0."""
    rng = np.random.default_rng(10 + dim)
    before = rng.uniform(-1, 1, (20, dim)).astype(np.float32)
    first = rng.uniform(-1, 1, (3, dim)).astype(np.float32)
    twins = (first + 1e-5).astype(np.float32)  # each new point has a twin in batch
    new = np.concatenate([first, twins])
    buffer = np.concatenate([before, new, np.full((4, dim), 9.0, np.float32)])
    got = np.asarray(nearest_other_distance(jnp.asarray(new), buffer, jnp.int32(20)))
    labelled = buffer[:26]
    mask = np.ones((6, 26), bool)
    mask[np.arange(6), 20 + np.arange(6)] = False  # not itself
    want = numpy_nearest(new, labelled, mask)
    np.testing.assert_allclose(got, want, rtol=1e-3)
    assert np.all(got > 0.5e-5) and np.all(got < 1e-4)


def test_div_of_a_run_is_its_mean_exact_distance():
    """A run's `div` is the mean over steps and picks of the exact nearest-other
    distance, recomputed here in float64 from the run's picks and initial set."""
    cfg = config.smoke(
        problem="sine", method="gsx", steps=3, train_steps=5, n_members=2,
        max_width=8, n_test=16, n_initial=10, k=4, gamma=3,
    )  # fmt: skip
    key = jax.random.key(0)
    result = jax.jit(make_run(cfg))(key)
    initial = jax.random.uniform(jax.random.fold_in(key, 0), (10, 1), minval=-1.0,
                                 maxval=1.0)  # fmt: skip
    labelled = [np.asarray(initial, np.float64)]
    per_step = []
    for t in range(cfg.steps):
        new = np.asarray(result.picked_x[t], np.float64)
        everything = np.concatenate(labelled + [new])
        n_before = everything.shape[0] - cfg.k
        mask = np.ones((cfg.k, everything.shape[0]), bool)
        mask[np.arange(cfg.k), n_before + np.arange(cfg.k)] = False
        per_step.append(numpy_nearest(new, everything, mask).mean())
        labelled.append(new)
    np.testing.assert_allclose(result.div_per_step, per_step, rtol=1e-4)
    np.testing.assert_allclose(result.div, np.mean(per_step), rtol=1e-4)
