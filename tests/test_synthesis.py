"""NA-QBC query synthesis: the box, the kept iterate, the start points, the linear
penalty's gradient, and the ascent on a trained ensemble.

Hand-built cases drive `synthesise` with an analytic variance, or `make_naqbc`
with a fake ensemble whose `predict` is a formula, so the answer is known.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jdal import acquisitions, config, problems
from jdal.acquisitions import AcqState, Context, member_variance
from jdal.acquisitions.synthesis import (
    BOX_MARGIN,
    box_excess,
    make_naqbc,
    naqbc_objective,
    synthesise,
)
from jdal.models.ensemble import Ensemble, make_ensemble

LR = 0.005


def uniform(key, n, d):
    return jax.random.uniform(key, (n, d), jnp.float32, -1.0, 1.0)


def naqbc_options(**changes):
    """NA-QBC's options: its defaults with `changes`."""
    return {**acquisitions.get("naqbc").resolve_options(()), **changes}


def fake_context(predict, **changes):
    """robo Context whose ensemble's `predict(state, x)` is the given formula;
    `changes` are NA-QBC options (e.g. steps=400)."""
    fields = {name: None for name in Ensemble._fields}
    ensemble = Ensemble(**{**fields, "n_members": 3, "predict": predict})
    cfg = config.smoke(method="naqbc")
    return Context(problems.get("robo"), cfg, ensemble, naqbc_options(**changes))


def runaway_predict(state, x):
    """Members -c x, 0, c x per output (dy = d) with c² = 1.5 d: member variance
    sum_j x_j², whose gradient 2 x beats the penalty's 1 outside the box."""
    del state
    scale = jnp.sqrt(1.5 * x.shape[1])
    return jnp.array([-1.0, 0.0, 1.0])[:, None, None] * scale * x[None]


def select_points(ctx, key, k):
    select = jax.jit(make_naqbc(ctx), static_argnums=3)
    return np.asarray(select(key, None, AcqState(None, None, None, None), k))


def start_points(key, k, d):
    """The k uniform start points: `synthesise` with no ascent step."""
    return synthesise(key, lambda x: jnp.zeros(x.shape[0]), k, d, 0, LR, 1.0)


# ---------------------------------------------------------------------------
# The box.


def test_escaped_coordinates_are_put_back_just_inside_and_distinct():
    k, d = 16, 4
    ctx = fake_context(runaway_predict, steps=400)
    x = select_points(ctx, jax.random.key(1), k)
    assert x.shape == (k, d) and x.dtype == np.float32
    assert np.all(np.isfinite(x))
    # Every coordinate ran out (variance grows without bound), so every one was
    # put back into [1 - 0.005, 1) in magnitude, keeping its sign...
    magnitude = np.abs(x)
    assert np.all((magnitude >= 1.0 - BOX_MARGIN) & (magnitude < 1.0)), x
    np.testing.assert_array_equal(
        np.sign(x), np.sign(np.asarray(start_points(jax.random.key(1), k, d)))
    )
    # ...at distinct values (clipping would have put them all on ±1).
    assert len(np.unique(x)) == x.size
    assert len(np.unique(x, axis=0)) == k


def test_coordinates_inside_the_box_are_left_as_they_are():
    """Only the first coordinate is pushed out; the others never move."""

    def predict(state, x):
        del state
        first = x[:, :1] * jnp.sqrt(1.5 * 4.0)
        return jnp.array([-1.0, 0.0, 1.0])[:, None, None] * first[None]

    key = jax.random.key(2)
    x = select_points(fake_context(predict, steps=400), key, 8)
    x0 = np.asarray(start_points(key, 8, 4))
    assert np.all(np.abs(x[:, 0]) >= 1.0 - BOX_MARGIN)
    np.testing.assert_array_equal(x[:, 1:], x0[:, 1:])


# ---------------------------------------------------------------------------
# The kept iterate and the start points.


def test_no_step_returns_the_uniform_start_points():
    key, k, d = jax.random.key(3), 12, 4
    ctx = fake_context(runaway_predict, steps=0)
    x = select_points(ctx, key, k)
    key_start = jax.random.split(key)[0]
    np.testing.assert_array_equal(x, uniform(key_start, k, d))


@jax.custom_jvp
def peaked_variance(x, target):
    """Per-point variance -(x_i0 - target_i)², peaked at x_i0 = target_i, whose
    gradient is replaced by +1 on coordinate 0 (`_push`): the ascent walks every
    point up coordinate 0 at Adam's step lr, past the peak."""
    return -jnp.square(x[:, 0] - target)


@peaked_variance.defjvp
def _push(primals, tangents):
    x, target = primals
    return peaked_variance(x, target), tangents[0][:, 0]


def test_the_iterate_with_the_highest_batch_mean_variance_is_kept():
    key, k, d, steps, peak_step = jax.random.key(4), 10, 4, 120, 50
    x0 = start_points(key, k, d)
    target = x0[:, 0] + peak_step * LR  # every point peaks at step 50

    def variance(x):
        return peaked_variance(x, target)

    # No penalty: the walk goes on past the box; the fix-up comes after the choice.
    x = np.asarray(synthesise(key, variance, k, d, steps, LR, 0.0))
    want = np.asarray(x0).copy()
    want[:, 0] += peak_step * LR  # neither the start nor the final iterate
    inside = np.abs(want) <= 1.0
    np.testing.assert_allclose(x[inside], want[inside], atol=1e-5)
    assert np.all(np.abs(x[~inside]) >= 1.0 - BOX_MARGIN)


def wavy_variance(x):
    """A smooth landscape with many local peaks: Adam (lr 0.005, momentum) climbs,
    overshoots and oscillates, so the batch-mean variance is not monotone."""
    return jnp.mean(jnp.sin(4.0 * x) ** 2 + 0.3 * jnp.cos(7.0 * x[:, ::-1]), axis=1)


def test_kept_iterate_matches_a_step_by_step_reference():
    """A plain Python loop of optax steps records every iterate (start, each
    intermediate, final); the returned points are the best one of them."""
    key, k, d, steps, penalty = jax.random.key(5), 6, 3, 80, 1.0
    x = np.asarray(synthesise(key, wavy_variance, k, d, steps, LR, penalty))

    def objective(x):
        return naqbc_objective(x, wavy_variance(x), penalty)

    optimizer = optax.adam(LR)

    @jax.jit
    def step(x, opt_state):
        updates, opt_state = optimizer.update(jax.grad(objective)(x), opt_state)
        return optax.apply_updates(x, updates), opt_state

    iterate = start_points(key, k, d)
    opt_state = optimizer.init(iterate)
    path = [iterate]
    for _ in range(steps):
        iterate, opt_state = step(iterate, opt_state)
        path.append(iterate)
    path = np.stack(path)  # [steps + 1, k, d]
    scores = np.array([float(jnp.mean(wavy_variance(p))) for p in path])
    best = int(np.argmax(scores))
    assert 0 < best < steps, scores  # the test needs an intermediate winner
    assert scores[best] > scores[-1] + 1e-4
    # The returned points are the recorded iterate nearest to them, within float
    # noise, and that iterate's score is the best one.
    inside = np.all(np.abs(path) <= 1.0, axis=(0, 2))
    distance = np.max(np.abs(path[:, inside] - x[inside]), axis=(1, 2))
    nearest = int(np.argmin(distance))
    assert distance[nearest] < 1e-5
    assert scores[nearest] >= scores[best] - 1e-6


# ---------------------------------------------------------------------------
# The linear penalty.


def test_linear_penalty_has_a_constant_gradient_outside_the_box():
    x = jnp.array([[1.5, -3.0, 0.2], [10.0, -1.01, -0.99]], jnp.float32)
    penalty, k = 2.5, x.shape[0]
    np.testing.assert_allclose(box_excess(x), [0.5 + 2.0, 9.0 + 0.01], rtol=1e-5)

    def objective(x):
        return naqbc_objective(x, jnp.zeros(k), penalty)

    grad = np.asarray(jax.grad(objective)(x))
    # ±weight per coordinate (÷ k: the objective is the mean over points) however
    # far out the coordinate is; 0 inside the box.
    want = penalty / k * np.array([[1.0, -1.0, 0.0], [1.0, -1.0, 0.0]])
    np.testing.assert_allclose(grad, want, rtol=1e-6)
    # The variance term enters with a minus sign: the ascent maximises it.
    grad_variance = jax.grad(lambda x: naqbc_objective(x, jnp.sum(x, 1), 0.0))(x)
    np.testing.assert_allclose(grad_variance, -np.ones(x.shape) / k, rtol=1e-6)


# ---------------------------------------------------------------------------
# A trained ensemble.


@functools.cache
def trained_robo():
    """A small robo ensemble trained on 20 uniform points: (Context, AcqState)."""
    problem = problems.get("robo")
    cfg = config.smoke(method="naqbc", n_members=3, max_width=16, train_steps=30)
    ensemble = make_ensemble(problem, cfg)
    key_x, key_model, key_train = jax.random.split(jax.random.key(7), 3)
    x = uniform(key_x, 20, problem.dim_x)
    y = problem.label(x)
    state, _ = jax.jit(ensemble.train)(key_train, ensemble.init(key_model), x, y, 20)
    ctx = Context(problem, cfg, ensemble, naqbc_options(steps=100))
    return ctx, AcqState(x, y, jnp.int32(20), state)


def test_ascent_raises_the_variance_of_a_trained_ensemble():
    ctx, state = trained_robo()
    key, k = jax.random.key(9), 16

    def batch_variance(x):
        preds = ctx.ensemble.predict(state.ensemble, jnp.asarray(x))
        return float(jnp.mean(member_variance(preds)))

    x = np.asarray(jax.jit(make_naqbc(ctx), static_argnums=3)(key, None, state, k))
    x0 = np.asarray(start_points(key, k, ctx.problem.dim_x))
    assert x.shape == (k, 4) and np.all(np.abs(x) <= 1.0)
    assert batch_variance(x) > 1.5 * batch_variance(x0), (
        batch_variance(x),
        batch_variance(x0),
    )
