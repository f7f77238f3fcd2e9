"""The deep ensemble: stacking, masked BatchNorm, training, plateau schedule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import config, problems
from jdal.models.ensemble import (
    count_params,
    init_plateau,
    make_ensemble,
    minibatch,
    update_plateau,
)


@pytest.fixture
def robo_ensemble():
    cfg = config.smoke(problem="robo", train_steps=100, n_members=3, max_width=32)
    return problems.get("robo"), cfg, make_ensemble(problems.get("robo"), cfg)


def labelled_buffer(problem, key, n_valid, capacity, pad_value=0.0):
    x = jax.random.uniform(key, (capacity, problem.dim_x), minval=-1, maxval=1)
    y = problem.label(x)
    pad = jnp.arange(capacity)[:, None] >= n_valid
    return jnp.where(pad, pad_value, x), jnp.where(pad, pad_value, y)


def test_members_are_stacked_and_differ(robo_ensemble, key):
    problem, cfg, ensemble = robo_ensemble
    state = ensemble.init(key)
    for leaf in jax.tree.leaves(state.params):
        assert leaf.shape[0] == 3
    kernel = state.params["mlp"]["Dense_0"]["kernel"]
    assert not np.allclose(kernel[0], kernel[1])
    preds = ensemble.predict(state, jnp.zeros((7, problem.dim_x)))
    assert preds.shape == (3, 7, problem.dim_y) and preds.dtype == jnp.float32


def test_paper_widths_match_spec():
    cfg = config.paper(problem="robo")
    state = make_ensemble(problems.get("robo"), cfg).init(jax.random.key(0))
    # robo: 4 x 500 hidden, 10 members: (4*500+500) + 3*(500*500+500) + (500*2+2)
    # dense weights, plus BatchNorm scale and bias (2*500 per layer).
    per_member = (4 * 500 + 500) + 3 * (500 * 500 + 500) + (500 * 2 + 2) + 4 * 1000
    assert count_params(state.params) == 10 * per_member


def test_training_lowers_the_loss(robo_ensemble, key):
    problem, cfg, ensemble = robo_ensemble
    x, y = labelled_buffer(problem, key, 80, 120)
    state, info = jax.jit(ensemble.train)(key, ensemble.init(key), x, y, 80)
    assert info.loss.shape == (cfg.train_steps,)
    assert info.loss[-1] < 0.5 * info.loss[0]


def test_padding_rows_do_not_matter(robo_ensemble, key):
    """BatchNorm statistics and the loss use valid rows only."""
    problem, cfg, ensemble = robo_ensemble
    state0 = ensemble.init(key)
    x0, y0 = labelled_buffer(problem, key, 80, 120, pad_value=0.0)
    x1, y1 = labelled_buffer(problem, key, 80, 120, pad_value=1e3)
    train = jax.jit(ensemble.train)
    s0, i0 = train(key, state0, x0, y0, 80)
    s1, i1 = train(key, state0, x1, y1, 80)
    np.testing.assert_allclose(i0.loss, i1.loss, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(s0), jax.tree.leaves(s1), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_warm_start_keeps_weights(robo_ensemble, key):
    problem, cfg, ensemble = robo_ensemble
    x, y = labelled_buffer(problem, key, 120, 120)
    train = jax.jit(ensemble.train)
    state, first = train(key, ensemble.init(key), x, y, 120)
    _, second = train(jax.random.fold_in(key, 1), state, x, y, 120)
    assert second.loss[0] < 0.5 * first.loss[0]


def test_minibatch_draws_distinct_valid_rows(key):
    rows, mask = minibatch(key, capacity=100, n_valid=jnp.int32(60), batch_size=50)
    assert rows.shape == (50,) and bool(mask.all())
    assert len(set(np.asarray(rows).tolist())) == 50 and int(rows.max()) < 60
    rows, mask = minibatch(key, capacity=100, n_valid=jnp.int32(30), batch_size=50)
    assert int(mask.sum()) == 30
    assert set(np.asarray(rows[mask]).tolist()) == set(range(30))
    rows, mask = minibatch(key, capacity=100, n_valid=jnp.int32(30), batch_size=None)
    assert rows.shape == (100,) and int(mask.sum()) == 30


def test_plateau_follows_pytorch_semantics():
    """ReduceLROnPlateau(mode=min, factor=0.5, patience=2, threshold=0.1, rel)."""
    # Hand-traced against torch.optim.lr_scheduler.ReduceLROnPlateau's rules:
    # improvement means loss < best * (1 - 0.1); after more than 2 bad steps in a
    # row the scale halves and the counter resets.
    losses = [1.0, 0.95, 0.95, 0.95, 0.5, 0.49, 0.48, 0.47, 0.46]
    expected = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
    state = init_plateau()
    scales = []
    for loss in losses:
        state = update_plateau(state, jnp.float32(loss), 0.5, 2, 0.1)
        scales.append(float(state.scale))
    assert scales == expected
