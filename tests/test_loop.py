"""The compiled AL run: shapes, one trace, seed batching, pairing, Div."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import config, loop, make_run, seed_keys, stopwatch
from jdal.loop import make_grid_run, nearest_other_distance, size_buckets

TINY = dict(
    problem="robo",
    steps=3,
    train_steps=20,
    n_members=2,
    max_width=16,
    n_test=128,
    gamma=4,
)


@pytest.fixture(scope="module")
def qbc_batch():
    cfg = config.smoke(method="qbc", **TINY)
    return cfg, jax.jit(jax.vmap(make_run(cfg)))(seed_keys([0, 1, 2]))


def test_result_shapes(qbc_batch):
    cfg, result = qbc_batch
    T, k = cfg.steps, cfg.k
    assert result.mse.shape == (3, T + 1)
    assert result.picked_x.shape == (3, T, k, 4)
    assert result.div_per_step.shape == (3, T) and result.div.shape == (3,)
    np.testing.assert_array_equal(result.n_labelled[0], 80 + 40 * np.arange(T + 1))
    assert np.all(np.isfinite(result.mse)) and np.all(result.mse > 0)
    assert int(result.n_nonfinite_labels.sum()) == 0
    assert np.all(np.abs(result.picked_x) <= 1.0)


def test_whole_run_traces_once():
    cfg = config.smoke(method="gsx", **TINY)
    run = chex.assert_max_traces(make_run(cfg), n=1)
    jitted = jax.jit(run)
    jitted(jax.random.key(0))
    jitted(jax.random.key(1))  # a new seed reuses the compiled run


def test_seed_alone_equals_seed_in_batch(qbc_batch):
    cfg, batch = qbc_batch
    alone = jax.jit(make_run(cfg))(jax.random.key(1))
    # Same picks; the curve agrees to float rounding, which XLA's batched matmul
    # kernels change in the last bits and 20 Adam steps amplify to ~1e-4.
    # The same points each step (top-k may order near-ties differently).
    np.testing.assert_array_equal(
        np.sort(alone.picked_x, axis=1), np.sort(batch.picked_x[1], axis=1)
    )
    np.testing.assert_allclose(alone.mse, batch.mse[1], rtol=2e-3)


def test_timed_run_computes_the_same_numbers(qbc_batch):
    """Clock stamps only read values: same seeds, the same numbers bit for bit, and
    stamps that follow the run's parts in order."""
    cfg, batch = qbc_batch
    timed = jax.jit(jax.vmap(make_run(cfg, timed=True)))(seed_keys([0, 1, 2]))
    assert batch.clock == ()
    for name in ("mse", "train_loss", "picked_x", "div_per_step", "pool_sizes"):
        np.testing.assert_array_equal(getattr(timed, name), getattr(batch, name))
    seconds = stopwatch.seconds(timed.clock)
    assert seconds.shape == (3, 2 * cfg.steps + 3)
    assert np.all(np.diff(seconds, axis=-1) >= 0)
    assert np.all(seconds[:, -1] > seconds[:, 0])


def test_stopwatch_stamps_are_exact_microseconds():
    stamps = np.array([[12, 250_000], [13, 5]], np.uint32)
    np.testing.assert_allclose(stopwatch.seconds(stamps), [12.25, 13.000005])


def test_runs_are_paired_across_methods_and_gammas(qbc_batch):
    """Same seed: same initial set, test set and initial model for every cell."""
    cfg, batch = qbc_batch
    other = jax.jit(jax.vmap(make_run(cfg.replace(method="random", gamma=2))))(
        seed_keys([0, 1, 2])
    )
    np.testing.assert_array_equal(other.mse[:, 0], batch.mse[:, 0])
    assert not np.array_equal(other.mse[:, 0], other.mse[:, 1])


@pytest.mark.parametrize("batch_size", [None, 32])
def test_buckets_do_not_change_the_protocol(batch_size):
    """Bucketed training sees exactly the labelled rows and the same minibatches
    (full batch or 32 rows), so the curve is the same up to float rounding."""
    cfg = config.smoke(method="random", batch_size=batch_size, **TINY)
    one = jax.jit(make_run(cfg.replace(train_buckets=1)))(jax.random.key(0))
    many = jax.jit(make_run(cfg.replace(train_buckets=3)))(jax.random.key(0))
    # Masked padding changes reduction lengths, hence rounding (~1e-4 after Adam).
    np.testing.assert_allclose(one.mse, many.mse, rtol=2e-3)
    np.testing.assert_array_equal(one.picked_x, many.picked_x)


def test_training_is_traced_once_per_bucket(monkeypatch):
    """The final training (step T) runs inside the last bucket's scan, so the
    training body is traced, hence compiled, once per size bucket and no more."""
    traced = []
    real_make_ensemble = loop.make_ensemble

    def counting_make_ensemble(*args, **kwargs):
        ensemble = real_make_ensemble(*args, **kwargs)

        def train(*train_args):
            traced.append(1)
            return ensemble.train(*train_args)

        return ensemble._replace(train=train)

    monkeypatch.setattr(loop, "make_ensemble", counting_make_ensemble)
    cfg = config.smoke(method="random", **TINY)
    jax.jit(make_run(cfg)).lower(jax.random.key(0))
    assert len(size_buckets(cfg)) == 2
    assert len(traced) == 2


@pytest.mark.parametrize("method", ["gsx", "qbc_div_den"])
def test_gamma_grid_equals_separate_cells(method):
    """One compiled γ × seed grid gives each cell's own run (pools nest across γ)."""
    cfg = config.smoke(method=method, **TINY)
    gammas = [2, 5]
    keys = seed_keys([0, 1])
    grid = jax.jit(jax.vmap(make_grid_run(cfg, gammas)))
    flat_keys = jnp.concatenate([keys, keys])
    flat_gammas = jnp.repeat(jnp.array(gammas), 2)
    both = grid(flat_keys, flat_gammas)
    for i, gamma in enumerate(gammas):
        alone = jax.jit(jax.vmap(make_run(cfg.replace(gamma=gamma))))(keys)
        lanes = slice(2 * i, 2 * i + 2)
        np.testing.assert_array_equal(
            np.sort(alone.picked_x, axis=2), np.sort(both.picked_x[lanes], axis=2)
        )
        np.testing.assert_allclose(alone.mse, both.mse[lanes], rtol=2e-3)
    assert not np.array_equal(both.picked_x[:2], both.picked_x[2:])


@pytest.mark.parametrize(
    "gammas, method, match",
    [
        ([], "gsx", "at least one"),
        ([2, 2], "gsx", "distinct"),
        ([2, 0], "gsx", "gamma"),
        ([2.5], "gsx", "not an integer"),
        ([2, 4], "random", "ignores gamma"),
        ([2, 4], "naqbc", "ignores gamma"),
    ],
)
def test_gamma_grid_rejects_bad_grids(gammas, method, match):
    with pytest.raises(ValueError, match=match):
        make_grid_run(config.smoke(method=method, **TINY), gammas)


def test_nearest_other_distance_by_hand():
    buffer_x = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.5], [0.0, 0.6], [9, 9]])
    # Rows 0-1 were labelled before; rows 2-3 are the new batch; row 4 is padding.
    new_x = buffer_x[2:4]
    dist = nearest_other_distance(new_x, buffer_x, jnp.int32(2))
    np.testing.assert_allclose(dist, [0.1, 0.1], rtol=1e-5)
    dist = nearest_other_distance(new_x[:1], buffer_x[:3], jnp.int32(2))
    np.testing.assert_allclose(dist, [0.5], rtol=1e-6)
