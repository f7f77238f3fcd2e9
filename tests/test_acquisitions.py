"""Acquisitions: the contract every registered method keeps, hand-built cases with a
known answer, naive references for the greedy family, the auxiliaries that train,
and every method end to end on every kind of model (every problem with random).

The contract tests are parametrised over `acquisitions.names()`, so a new method is
covered by adding it to the registry.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny_runs import compile_fast, tiny_config

from jdal import acquisitions, config, make_run, problems
from jdal.acquisitions import AcqState, Context, Pool, full_pool
from jdal.acquisitions.bald import make_bald_side, make_dropout_mlp
from jdal.acquisitions.committee import knn_density
from jdal.acquisitions.emoc import emoc_scores
from jdal.acquisitions.learning_loss import (
    LossHead,
    Pairs,
    make_ll_head,
    margin_ranking_loss,
    random_pairs,
)
from jdal.models.ensemble import Ensemble, make_ensemble

METHODS = acquisitions.names()
POOL_SIZE, K = 24, 5


# ---------------------------------------------------------------------------
# A small trained robo ensemble per method (with its head / side model).


def uniform(key, n, d):
    return jax.random.uniform(key, (n, d), jnp.float32, -1.0, 1.0)


def build_ensemble(method, problem_name="robo", **changes):
    problem = problems.get(problem_name)
    acq = acquisitions.get(method)
    settings = dict(
        problem=problem_name, method=method, n_members=3, max_width=16, k=K, gamma=5
    )
    cfg = config.smoke(**{**settings, "train_steps": 30, **changes})
    extras = (problem, cfg, acq.resolve_options(cfg.options))
    head = None if acq.make_head is None else acq.make_head(*extras)
    side = None if acq.make_side is None else acq.make_side(*extras)
    return problem, cfg, make_ensemble(problem, cfg, head=head, side=side)


def context(problem, cfg, ensemble):
    """The Context of cfg.method: its options resolved."""
    options = acquisitions.get(cfg.method).resolve_options(cfg.options)
    return Context(problem, cfg, ensemble, options)


def train_on_uniform(problem, cfg, ensemble, seed, n_rows, n_valid, n_pool):
    """Trains `ensemble` on n_valid of n_rows uniform labelled rows: (AcqState,
    Context, a uniform `Pool` of n_pool rows)."""
    key_x, key_model, key_train, key_pool = jax.random.split(jax.random.key(seed), 4)
    x = uniform(key_x, n_rows, problem.dim_x)
    y = problem.label(x)
    state = ensemble.init(key_model)
    state, _ = jax.jit(ensemble.train)(key_train, state, x, y, n_valid)
    acq_state = AcqState(x, y, jnp.int32(n_valid), state)
    pool = full_pool(uniform(key_pool, n_pool, problem.dim_x))
    return acq_state, context(problem, cfg, ensemble), pool


@functools.cache
def trained_setup(method):
    """(select, Pool or None, AcqState, Context) on robo, 20 of 32 rows labelled."""
    problem, cfg, ensemble = build_ensemble(method)
    acq_state, ctx, pool = train_on_uniform(
        problem, cfg, ensemble, seed=7, n_rows=32, n_valid=20, n_pool=POOL_SIZE
    )
    acq = acquisitions.get(method)
    pool = None if acq.returns_points else pool
    return acq.make(ctx), pool, acq_state, ctx


def check_output(method, out, pool, dim_x):
    out = np.asarray(out)
    if acquisitions.get(method).returns_points:
        assert out.shape == (K, dim_x) and out.dtype == np.float32
        assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= 1.0)
    else:
        assert out.shape == (K,) and out.dtype == np.int32
        assert np.all((out >= 0) & (out < pool.x.shape[0]))
        assert len(set(out.tolist())) == K


def assert_same_output(method, a, b):
    if acquisitions.get(method).returns_points:
        np.testing.assert_allclose(a, b, atol=1e-5)
    else:
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# The contract, for every registered method.


BUILT_IN = [
    "random", "gsx", "gsy", "gsxy", "qbc", "qbc_div", "qbc_div_den",
    "bald", "emoc", "ll", "naqbc",
]  # fmt: skip


def test_registry_order_and_entries():
    """The study's methods in its order, then any added module's, references last."""
    assert METHODS[: len(BUILT_IN)] == BUILT_IN and METHODS[-1] == "mse"
    assert acquisitions.names(include_references=False) == METHODS[:-1]
    assert acquisitions.get("mse").reference
    assert acquisitions.get("naqbc").returns_points
    assert not acquisitions.get("naqbc").uses_pool
    for name in METHODS:
        assert acquisitions.get(name).name == name
        assert acquisitions.get(name).description
    with pytest.raises(ValueError, match="valid methods are"):
        acquisitions.get("nope")


@pytest.mark.parametrize("method", METHODS)
def test_output_contract(method, key):
    select, pool_x, state, ctx = trained_setup(method)
    check_output(method, select(key, pool_x, state, K), pool_x, ctx.problem.dim_x)


@pytest.mark.parametrize("method", METHODS)
def test_jit_equals_eager(method, key):
    select, pool_x, state, _ = trained_setup(method)
    jitted = jax.jit(select, static_argnums=3)
    assert_same_output(
        method, jitted(key, pool_x, state, K), select(key, pool_x, state, K)
    )


@pytest.mark.parametrize("method", METHODS)
def test_vmap_over_keys_equals_loop(method):
    select, pool_x, state, ctx = trained_setup(method)
    keys = jax.random.split(jax.random.key(3), 3)
    batched = jax.jit(jax.vmap(lambda k: select(k, pool_x, state, K)))(keys)
    for i in range(3):
        one = jax.jit(select, static_argnums=3)(keys[i], pool_x, state, K)
        check_output(method, batched[i], pool_x, ctx.problem.dim_x)
        assert_same_output(method, batched[i], one)


# Methods whose picks follow from their key: random rows, dropout masks (bald), the
# start points of query synthesis (naqbc), k-means++ sampling.
DRAWING = {"random", "bald", "naqbc", "kmeanspp"}
# The kernel methods draw only their kernel's random projection, which need not
# change the picks (bait's did not here): neither rule applies to them.
PROJECTING = {"lcmd", "bait", "maxdet", "maxdist"}


@pytest.mark.parametrize("method", sorted(set(METHODS) - PROJECTING))
def test_the_key_matters_only_to_methods_that_draw(method):
    """The key is a method's only source of randomness: one that draws nothing
    picks the same whatever the key, one that draws picks differently for some."""
    select, pool_x, state, _ = trained_setup(method)
    jitted = jax.jit(select, static_argnums=3)
    outputs = [
        np.asarray(jitted(jax.random.key(s), pool_x, state, K)) for s in (5, 6, 7)
    ]
    same = [
        np.array_equal(np.sort(outputs[0], axis=0), np.sort(o, axis=0))
        for o in outputs[1:]
    ]
    if method in DRAWING:
        assert not all(same)
    else:
        assert all(same)


POOL_METHODS = [m for m in METHODS if not acquisitions.get(m).returns_points]


@pytest.mark.parametrize("method", POOL_METHODS)
def test_padded_pool_picks_like_the_plain_pool(method, key):
    """A γ grid pads every pool to the largest γ and masks the padding: a method
    must pick among the masked-in rows only, exactly what it picks without them."""
    select, pool, state, _ = trained_setup(method)
    extra = uniform(jax.random.key(11), 3 * POOL_SIZE, pool.x.shape[1])
    padded_x = jnp.concatenate([pool.x, extra])
    padded = Pool(padded_x, jnp.arange(padded_x.shape[0]) < POOL_SIZE)
    jitted = jax.jit(select, static_argnums=3)
    padded = np.asarray(jitted(key, padded, state, K))
    assert np.all(padded < POOL_SIZE), padded
    plain = np.asarray(jitted(key, pool, state, K))
    np.testing.assert_array_equal(np.sort(padded), np.sort(plain))


# ---------------------------------------------------------------------------
# Hand-built cases: a fake ensemble whose predictions are set per pool point.


def fake_context(pool_x, means, spreads, problem_name="robo", **changes):
    """Context whose ensemble predicts, at the pool point nearest to x, members
    mean_i + c spread_i for c in (-1, 0, 1): member mean mean_i, variance
    (2/3) spread_i^2."""
    means = jnp.asarray(means, jnp.float32).reshape(len(pool_x), -1)
    spreads = jnp.asarray(spreads, jnp.float32).reshape(-1, 1)

    def predict(state, x):
        del state
        sq = jnp.sum(jnp.square(x[:, None, :] - pool_x[None, :, :]), axis=-1)
        nearest = jnp.argmin(sq, axis=1)
        offsets = jnp.array([-1.0, 0.0, 1.0])[:, None, None]
        return means[nearest][None] + offsets * spreads[nearest][None]

    ensemble = Ensemble(None, 3, 0, 0.0, None, predict, None, None)
    cfg = config.smoke(problem=problem_name, **changes)
    return Context(problems.get(problem_name), cfg, ensemble, {})


def labelled(x, y, capacity=8):
    """AcqState with rows x f32[n, d], y f32[n, dy] valid in a padded buffer."""
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    n = x.shape[0]
    pad_x = jnp.full((capacity - n, x.shape[1]), 9.0)  # far away: must be ignored
    pad_y = jnp.full((capacity - n, y.shape[1]), 9.0)
    return AcqState(
        jnp.concatenate([x, pad_x]), jnp.concatenate([y, pad_y]), jnp.int32(n), None
    )


def pick(method, ctx, pool_x, state, k):
    """The picks of `method` on a full pool, its options resolved from ctx.cfg."""
    acq = acquisitions.get(method)
    select = acq.make(ctx._replace(options=acq.resolve_options(ctx.cfg.options)))
    pool = full_pool(pool_x)
    return np.asarray(jax.jit(select, static_argnums=3)(None, pool, state, k))


def test_gsx_picks_farthest_from_labelled_first():
    pool_x = jnp.array([[0.1, 0.0], [0.9, 0.9], [-0.2, 0.1], [-0.9, 0.8]])
    state = labelled([[0.0, 0.0], [-1.0, 1.0]], [[0.0], [0.0]])
    ctx = fake_context(pool_x, jnp.zeros(4), jnp.zeros(4))
    # (0.9, 0.9) is farthest from both labelled points; then (-0.2, 0.1) is
    # farther from the labelled set ∪ {(0.9, 0.9)} than (0.1, 0) or (-0.9, 0.8).
    np.testing.assert_array_equal(pick("gsx", ctx, pool_x, state, 2), [1, 2])


def test_qbc_picks_where_members_disagree():
    pool_x = uniform(jax.random.key(1), 10, 2)
    spreads = jnp.array([0.1, 3.0, 0.2, 0.0, 2.0, 0.5, 0.3, 2.5, 0.1, 0.0])
    ctx = fake_context(pool_x, jnp.ones(10), spreads)
    state = labelled([[0.0, 0.0]], [[0.0]])
    np.testing.assert_array_equal(pick("qbc", ctx, pool_x, state, 3), [1, 7, 4])


def test_gsy_uses_true_labels_and_predicted_picks():
    # 1-D x; predicted y = 10 x. The labelled point sits at x = 0.9 with true
    # label 0, far from its prediction 9: gsy must measure distances to the
    # label 0, and then to the predicted y of what it picked.
    pool_x = jnp.array([[0.1], [0.5], [-0.3], [0.9], [0.85]])
    ctx = fake_context(pool_x, 10 * pool_x, jnp.zeros(5), problem_name="sine")
    state = labelled([[0.9]], [[0.0]])
    # y: 1, 5, -3, 9, 8.5 against {0}: 9 first; then 5 (4 from 9); then -3.
    np.testing.assert_array_equal(pick("gsy", ctx, pool_x, state, 3), [3, 1, 2])
    # gsx on the same pool goes by x: -0.3 is farthest from 0.9.
    assert pick("gsx", ctx, pool_x, state, 1)[0] == 2


def test_gsxy_maximises_the_product_of_x_and_y_distances():
    # Labelled (x, y) = (0, 0). A: far in x, near in y (1.0 * 0.1);
    # B: middling in both (0.5 * 0.5); C: near in x, far in y (0.1 * 2.0).
    pool_x = jnp.array([[1.0], [0.5], [0.1]])
    ctx = fake_context(pool_x, [0.1, 0.5, 2.0], jnp.zeros(3), problem_name="sine")
    state = labelled([[0.0]], [[0.0]])
    assert pick("gsx", ctx, pool_x, state, 1)[0] == 0
    assert pick("gsy", ctx, pool_x, state, 1)[0] == 2
    assert pick("gsxy", ctx, pool_x, state, 1)[0] == 1


def diversity_case():
    """Four near-duplicates with the largest variance, four spread points with a
    slightly smaller one, two low-variance fillers; labelled point at (-1, -1)."""
    cluster = jnp.array([[0.8, 0.8]]) + 1e-3 * uniform(jax.random.key(2), 4, 2)
    spread = jnp.array([[-1.0, 1.0], [1.0, -1.0], [0.0, 0.2], [-0.4, -0.9]])
    filler = jnp.array([[-0.9, -0.8], [-0.8, -0.9]])
    pool_x = jnp.concatenate([cluster, spread, filler])
    spreads = jnp.array([1.0] * 4 + [0.9] * 4 + [0.0] * 2)
    return pool_x, spreads, labelled([[-1.0, -1.0]], [[0.0]])


def test_qbc_div_spreads_its_batch_where_qbc_collapses():
    pool_x, spreads, state = diversity_case()
    ctx = fake_context(pool_x, jnp.zeros(10), spreads)
    qbc = pick("qbc", ctx, pool_x, state, 3)
    assert set(qbc.tolist()) <= {0, 1, 2, 3}  # all in the cluster
    picks = pick("qbc_div", ctx, pool_x, state, 3).tolist()
    assert sum(i < 4 for i in picks) == 1, picks  # one from the cluster
    assert set(picks[1:]) <= {4, 5}, picks  # then the two far corners


def test_knn_density_against_brute_force():
    pool_x = uniform(jax.random.key(4), 30, 3)
    got = knn_density(full_pool(pool_x), 10)
    d = np.linalg.norm(pool_x[:, None] - pool_x[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    want = np.mean(1.0 / (1.0 + np.sort(d, axis=1)[:, :10]), axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # High in dense regions: a tight cluster beats isolated points.
    crowd = jnp.concatenate([0.01 * pool_x[:12], pool_x[12:]])
    dens = knn_density(full_pool(crowd), 10)
    assert float(jnp.min(dens[:12])) > float(jnp.max(dens[12:]))


def naive_greedy(method, pool_x, pool_y, var, lab_x, lab_y, k, n_neighbours=10):
    """Recomputes every distance to labelled ∪ picked, and qbc_div_den's density
    over the remaining pool, at every pick (NumPy, float64)."""
    pool_x, pool_y, var = (np.asarray(a, np.float64) for a in (pool_x, pool_y, var))
    ref_x = list(np.asarray(lab_x, np.float64))
    ref_y = list(np.asarray(lab_y, np.float64))
    norm = lambda v, m: (v - v[m].min()) / (np.ptp(v[m]) or 1.0)  # noqa: E731
    dist = np.linalg.norm(pool_x[:, None] - pool_x[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    remaining = np.ones(len(pool_x), bool)
    picks = []
    for _ in range(k):
        dx = np.linalg.norm(pool_x[:, None] - np.array(ref_x)[None], axis=-1)
        dy = np.linalg.norm(pool_y[:, None] - np.array(ref_y)[None], axis=-1)
        # Density: the n nearest neighbours among the remaining pool only.
        to_remaining = np.where(remaining[None, :], dist, np.inf)
        nearest = np.sort(to_remaining, axis=1)[:, :n_neighbours]
        density = np.mean(1 / (1 + nearest), axis=1)
        score = {
            "gsx": dx.min(1),
            "gsy": dy.min(1),
            "gsxy": (dx * dy).min(1),
            "qbc_div": 0.5 * norm(var, slice(None)) + 0.5 * norm(dx.min(1), remaining),
            "qbc_div_den": 0.34 * norm(var, slice(None))
            + 0.33 * norm(dx.min(1), remaining)
            + 0.33 * norm(density, remaining),
        }[method]
        i = int(np.argmax(np.where(remaining, score, -np.inf)))
        picks.append(i)
        remaining[i] = False
        ref_x.append(pool_x[i])
        ref_y.append(pool_y[i])
    return picks


@pytest.mark.parametrize("method", ["gsx", "gsy", "gsxy", "qbc_div", "qbc_div_den"])
def test_greedy_methods_match_a_naive_reference(method):
    key_x, key_y, key_s, key_l = jax.random.split(jax.random.key(11), 4)
    pool_x = uniform(key_x, 40, 3)
    means = jax.random.normal(key_y, (40, 5))
    spreads = jax.random.uniform(key_s, (40,))
    ctx = fake_context(pool_x, means, spreads)
    lab_x = uniform(key_l, 6, 3)
    lab_y = jax.random.normal(jax.random.fold_in(key_l, 1), (6, 5))
    state = labelled(lab_x, lab_y, capacity=10)
    var = (2.0 / 3.0) * spreads**2
    want = naive_greedy(method, pool_x, means, var, lab_x, lab_y, 8)
    np.testing.assert_array_equal(pick(method, ctx, pool_x, state, 8), want)


def test_qbc_div_den_density_leaves_with_the_picks():
    """A batch as large as most of the pool: density over the remaining pool
    changes a lot between picks, and the naive recomputation agrees throughout."""
    key_x, key_s, key_l = jax.random.split(jax.random.key(12), 3)
    pool_x = uniform(key_x, 30, 2)
    spreads = jax.random.uniform(key_s, (30,))
    ctx = fake_context(pool_x, jnp.zeros((30, 1)), spreads)
    lab_x = uniform(key_l, 3, 2)
    state = labelled(lab_x, jnp.zeros((3, 1)))
    var = (2.0 / 3.0) * spreads**2
    want = naive_greedy("qbc_div_den", pool_x, np.zeros((30, 1)), var, lab_x,
                        np.zeros((3, 1)), 25)  # fmt: skip
    np.testing.assert_array_equal(pick("qbc_div_den", ctx, pool_x, state, 25), want)


def test_greedy_distances_resolve_near_duplicates_in_1d():
    """Late in a 1-D run the labelled points are ~1e-3 apart: max-min distances
    differ by ~1e-6, far below what |a|^2 + |b|^2 - 2ab resolves in float32
    (~3e-4). gsx must still pick exactly what a float64 greedy picks."""
    grid = np.linspace(0.5, 0.9, 401, dtype=np.float32)  # spacing 1e-3
    rng = np.random.default_rng(0)
    pool = grid[:-1] + 5e-4 + rng.uniform(-2e-4, 2e-4, 400).astype(np.float32)
    pool_x = jnp.asarray(pool[:, None])
    state = labelled(grid[:, None], np.zeros((401, 1)), capacity=410)
    ctx = fake_context(pool_x, jnp.zeros(400), jnp.zeros(400), problem_name="sine")
    want = naive_greedy("gsx", pool[:, None], np.zeros((400, 1)), np.zeros(400),
                        grid[:, None], np.zeros((401, 1)), 12)  # fmt: skip
    np.testing.assert_array_equal(pick("gsx", ctx, pool_x, state, 12), want)


def test_mse_reference_picks_largest_true_error():
    pool_x = uniform(jax.random.key(6), 50, 1)
    ctx = fake_context(pool_x, jnp.zeros(50), jnp.zeros(50), problem_name="sine")
    state = labelled([[0.0]], [[0.0]])
    error = np.asarray(ctx.problem.label(pool_x))[:, 0] ** 2  # prediction is 0
    want = np.argsort(-error)[:4]
    np.testing.assert_array_equal(pick("mse", ctx, pool_x, state, 4), want)


# ---------------------------------------------------------------------------
# Methods with their own trained parts.


def mean_variance(ctx, state, x):
    preds = ctx.ensemble.predict(state.ensemble, x)
    return float(jnp.mean(acquisitions.member_variance(preds)))


def test_naqbc_ascends_ensemble_variance():
    _, _, state, ctx = trained_setup("naqbc")
    naqbc = acquisitions.get("naqbc")
    key = jax.random.key(9)
    start = naqbc.make(ctx._replace(options={**ctx.options, "steps": 0}))
    x0 = start(key, None, state, 16)
    np.testing.assert_allclose(x0, uniform(jax.random.split(key)[0], 16, 4))
    moved = naqbc.make(ctx._replace(options={**ctx.options, "steps": 100}))
    x = moved(key, None, state, 16)
    assert np.all(np.abs(x) <= 1.0)
    assert mean_variance(ctx, state, x) > 1.5 * mean_variance(ctx, state, x0)


def train_once(method, n_rows=96, steps=400, **changes):
    problem, cfg, ensemble = build_ensemble(method, train_steps=steps, **changes)
    key_x, key_model, key_train = jax.random.split(jax.random.key(8), 3)
    x = uniform(key_x, n_rows, problem.dim_x)
    state = ensemble.init(key_model)
    return jax.jit(ensemble.train)(key_train, state, x, problem.label(x), n_rows)


def window_means(values, n_windows=8):
    values = np.asarray(values)
    return values.reshape(n_windows, -1).mean(axis=1)


def test_bald_side_model_trains():
    """Full robo widths (the 20-wide net of a 64 cap learns too slowly to show)."""
    state, info = train_once("bald", max_width=None)
    # The training loss (dropout on) falls...
    windows = window_means(info.side_loss)
    assert windows[-1] < 0.75 * windows[0], windows
    # ...and so does the side net's plain (dropout off) error on fresh points.
    problem, cfg, ensemble = build_ensemble("bald", max_width=None)
    module = make_dropout_mlp(problem, cfg, 0.5)
    x = uniform(jax.random.key(5), 256, 4)
    init = ensemble.init(jax.random.split(jax.random.key(8), 3)[1])

    def error(params):
        pred = module.apply(params, x, deterministic=True)
        return float(jnp.mean(jnp.square(pred - problem.label(x))))

    assert error(state.side_params) < 0.3 * error(init.side_params)
    assert np.all(np.asarray(info.head_loss) == 0)
    # Widths of the side net: robo's 500 / sqrt(10) -> 158.
    kernels = [v["kernel"] for v in state.side_params["params"].values()]
    assert [w.shape[1] for w in kernels] == [158, 158, 158, 158, 2]


def test_bald_side_widths_follow_the_problem():
    problem = problems.get("adm")
    side = make_bald_side(
        problem, config.paper(problem="adm", method="bald"), {"dropout": 0.5}
    )
    params = side.init(jax.random.key(0), problem.dim_x, problem.dim_y)
    kernels = [v["kernel"].shape for v in params["params"].values()]
    assert kernels == [(14, 474)] + [(474, 474)] * 5 + [(474, 2000)]


def test_ll_head_trains():
    """The ranking loss starts near the margin (an untrained head barely separates
    rows) and falls within the first tens of steps; afterwards the head ranks the
    training rows' losses better than chance (on fresh points it does so only
    weakly, rank correlation ~0.1-0.2 in this setting: not asserted)."""
    problem, cfg, ensemble = build_ensemble("ll", train_steps=400, max_width=32)
    key_x, key_model, key_train = jax.random.split(jax.random.key(8), 3)
    x = uniform(key_x, 96, 4)
    y = problem.label(x)
    state = ensemble.init(key_model)
    state, info = jax.jit(ensemble.train)(key_train, state, x, y, 96)
    head_loss = np.asarray(info.head_loss)
    assert head_loss[:5].mean() > 0.8 * 1.0  # the margin
    assert window_means(head_loss)[-1] < 0.7 * head_loss[:5].mean(), head_loss
    assert np.all(np.asarray(info.side_loss) == 0)
    preds, features = ensemble.predict_with_features(state, x)
    predicted = jax.vmap(LossHead().apply)(state.params["head"], features)
    row_loss = jnp.mean(jnp.square(preds - y[None]), axis=-1)
    assert spearman(predicted.mean(0), row_loss.mean(0)) > 0.2


def test_ll_head_stops_backbone_gradient_when_detached():
    problem = problems.get("robo")
    cfg = config.smoke(method="ll")  # 50 gradient steps: detached from step 30
    head = make_ll_head(problem, cfg, acquisitions.get("ll").resolve_options(()))
    params = head.init(jax.random.key(0), 8)
    features = jax.random.uniform(jax.random.key(1), (10, 8))
    row_loss = jax.random.uniform(jax.random.key(2), (10,))
    mask = jnp.arange(10) < 8
    key = jax.random.key(3)

    def grad_features(step):
        return jax.grad(head.loss, argnums=3)(
            params, key, jnp.int32(step), features, row_loss, mask
        )

    assert float(jnp.max(jnp.abs(grad_features(29)))) > 0
    np.testing.assert_array_equal(grad_features(30), 0.0)
    # The head itself still learns when detached.
    head_grad = jax.grad(head.loss)(
        params, key, jnp.int32(49), features, row_loss, mask
    )
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(head_grad)) > 0


def test_margin_ranking_loss_by_hand():
    predicted = jnp.array([3.0, 0.0, 1.0, 2.0, 7.0, 7.0])
    target = jnp.array([1.0, 5.0, 0.0, 2.0, 9.0, 9.0])
    pairs = Pairs(
        first=jnp.array([0, 1, 2, 3, 4, 5]),
        second=jnp.array([3, 2, 1, 0, 5, 4]),
        valid=jnp.array([True, True, False, False, False, False]),
    )
    # Pairs (0, 3): target 1 < 2 -> sign -1, hinge max(0, 1 + (3 - 2)) = 2;
    # (1, 2): target 5 > 0 -> sign +1, hinge max(0, 1 - (0 - 1)) = 2.
    got = margin_ranking_loss(predicted, target, pairs, margin=1.0)
    np.testing.assert_allclose(got, 2.0)


def test_ll_pairs_are_fresh_at_every_gradient_step():
    """Each step's key gives another random pairing of the valid rows: disjoint
    pairs of valid rows only, n_valid // 2 of them, different from step to step."""
    mask = jnp.arange(40) < 31
    key = jax.random.key(4)
    pairings = []
    for step in range(6):
        pairs = random_pairs(jax.random.fold_in(key, step), mask)
        first = np.asarray(pairs.first)[np.asarray(pairs.valid)]
        second = np.asarray(pairs.second)[np.asarray(pairs.valid)]
        rows = np.concatenate([first, second])
        assert len(first) == 15 and len(set(rows.tolist())) == 30
        assert rows.max() < 31
        pairings.append({frozenset(p) for p in zip(first, second, strict=True)})
    for a in range(6):
        for b in range(a + 1, 6):
            assert len(pairings[a] & pairings[b]) < 5  # mostly new pairs


def test_ensemble_gives_the_head_a_fresh_key_every_step():
    """The ensemble passes a new key to the member head at every gradient step (a
    head whose loss is a draw from its key shows it)."""
    from jdal.models.ensemble import MemberHead

    def draw_loss(params, key, step, features, row_loss, mask):
        del step, features, row_loss, mask
        return jax.random.uniform(key) + 0.0 * jnp.sum(params)

    head = MemberHead(init=lambda key, h: jnp.zeros(()), loss=draw_loss)
    problem = problems.get("robo")
    cfg = config.smoke(problem="robo", n_members=3, max_width=8, train_steps=12)
    ensemble = make_ensemble(problem, cfg, head=head)
    x = uniform(jax.random.key(1), 16, 4)
    _, info = jax.jit(ensemble.train)(
        jax.random.key(2), ensemble.init(jax.random.key(3)), x, problem.label(x), 16
    )
    draws = np.asarray(info.head_loss)  # mean over members of each member's draw
    assert len(set(draws.tolist())) == 12  # a new key at every step


def brute_force_emoc(ctx, state, pool_x):
    """One explicit SGD step (lr 1) on member m's last layer for y' = f_m'(x'),
    then the mean |change| of member m's outputs on the pool; mean over m, m'."""
    module = ctx.ensemble.module
    last = f"Dense_{len(module.hidden)}"  # the layer fed by the features
    preds = ctx.ensemble.predict(state.ensemble, pool_x)
    n_members = preds.shape[0]

    def change(member, x_new, y_new):
        params = jax.tree.map(lambda a: a[member], state.ensemble.params["mlp"])
        stats = jax.tree.map(lambda a: a[member], state.ensemble.batch_stats)

        def apply(layer, x):
            variables = {"params": {**params, last: layer}, "batch_stats": stats}
            return module.apply(variables, x)[0]

        def loss(layer):
            return 0.5 * jnp.sum(jnp.square(apply(layer, x_new[None])[0] - y_new))

        grad = jax.grad(loss)(params[last])
        stepped = jax.tree.map(lambda p, g: p - g, params[last], grad)
        return jnp.mean(jnp.abs(apply(stepped, pool_x) - apply(params[last], pool_x)))

    change = jax.jit(change)
    per_candidate = []
    for j in range(pool_x.shape[0]):
        total = 0.0
        for m in range(n_members):
            for target in range(n_members):
                total += float(change(m, pool_x[j], preds[target, j]))
        per_candidate.append(total / n_members**2)
    return np.array(per_candidate)


@pytest.mark.parametrize("problem_name", ["robo", "adm"])
def test_emoc_equals_an_explicit_gradient_step(problem_name):
    _, cfg, ensemble = build_ensemble(
        "emoc", problem_name, n_members=2, max_width=8, train_steps=10
    )
    problem = problems.get(problem_name)
    acq_state, ctx, pool = train_on_uniform(problem, cfg, ensemble, 3, 24, 24, 6)
    want = brute_force_emoc(ctx, acq_state, pool.x)
    got = jax.jit(lambda state, pool: emoc_scores(ctx, state, pool))(acq_state, pool)
    np.testing.assert_allclose(got, want, rtol=2e-3)


def spearman(a, b):
    rank = lambda v: np.argsort(np.argsort(np.asarray(v)))  # noqa: E731
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


def test_emoc_tracks_the_true_error_about_as_well_as_variance():
    """Honest check: on a trained robo ensemble EMOC ranks close to QBC's variance
    (it is the residual spread reweighted by a feature kernel) and its rank
    correlation with the true error is positive, like the variance's."""
    problem, cfg, ensemble = build_ensemble(
        "emoc", n_members=5, max_width=64, train_steps=300
    )
    key_x, key_model, key_train, key_pool = jax.random.split(jax.random.key(1), 4)
    x = uniform(key_x, 100, 4)
    y = problem.label(x)
    state, _ = jax.jit(ensemble.train)(key_train, ensemble.init(key_model), x, y, 100)
    acq_state = AcqState(x, y, jnp.int32(100), state)
    pool_x = uniform(key_pool, 500, 4)
    scores = emoc_scores(context(problem, cfg, ensemble), acq_state, full_pool(pool_x))
    preds = ensemble.predict(state, pool_x)
    variance = acquisitions.member_variance(preds)
    error = jnp.mean(jnp.square(jnp.mean(preds, 0) - problem.label(pool_x)), -1)
    assert 0.6 < spearman(scores, variance) < 0.999
    assert spearman(scores, error) > 0.2


# ---------------------------------------------------------------------------
# Every method end to end through make_run on every model shape; every problem
# end to end through make_run.
#
# The sizes are tiny and the CPU backend skips LLVM optimisation
# (tests/tiny_runs.py), the key uses the "unsafe_rbg" PRNG (cheaper to compile than
# threefry), and the runs of one problem are compiled as one program (shared pieces
# are lowered and compiled once: ~40 % less time). If that program fails to build,
# every method is built alone so that each test reports its own error.


def run_compiled(fn, key):
    return compile_fast(fn, key)(key)


# Every method meets every kind of model the problems have: one input and one
# output (sine), several outputs with weight decay (robo), 100 outputs (damp),
# 256 outputs with minibatches (stack) and, for the methods that use the model's
# internals, the convolutional head (adm). foil,
# hydr and bess have robo's kind of model with sine's single output, so compiling
# every method for them again checks nothing new (it was about a fifth of the
# suite's CPU time); they run with random, which still takes their oracles through
# the whole loop.
EVERY_METHOD = ("sine", "robo", "damp", "stack")
# On adm, what is new to a method is the convolutional head itself: the methods
# that reach into the model (gradient kernels, the last layer, a head or side
# model, gradients through the network to x) run there. The ones that only read
# the members' predictions or x (gsx, gsy, gsxy, the qbc family, mse) see an
# [M, N, dy] array like stack's, already covered with 256 outputs and minibatches.
MODEL_INTERNALS = ("random", "bald", "emoc", "ll", "naqbc", "lcmd", "bait",
                   "kmeanspp", "maxdet", "maxdist")  # fmt: skip


def end_to_end_methods(problem):
    if problem == "adm":
        return MODEL_INTERNALS
    return METHODS if problem in EVERY_METHOD else ("random",)


@functools.cache
def end_to_end_results(problem):
    """method -> RunResult of make_run on `problem`, or the exception it raised."""
    key = jax.random.key(0, impl="unsafe_rbg")
    methods = end_to_end_methods(problem)
    try:
        runs = {m: make_run(tiny_config(problem, m)) for m in methods}
        return run_compiled(lambda k: {m: run(k) for m, run in runs.items()}, key)
    except Exception:
        results = {}
        for method in methods:
            try:
                results[method] = run_compiled(
                    make_run(tiny_config(problem, method)), key
                )
            except Exception as error:
                results[method] = error
        return results


@pytest.mark.parametrize(
    "problem, method",
    # One problem's runs share one compiled program: keep them on one xdist worker.
    [
        pytest.param(p, m, marks=pytest.mark.xdist_group(f"e2e-{p}"))
        for p in problems.names()
        for m in end_to_end_methods(p)
    ],
)
def test_end_to_end_on_every_problem(problem, method):
    result = end_to_end_results(problem)[method]
    if isinstance(result, Exception):
        raise result
    cfg = tiny_config(problem, method)
    assert result.mse.shape == (cfg.steps + 1,)
    assert np.all(np.isfinite(result.mse))
    assert int(result.n_nonfinite_labels) == 0
    assert result.picked_x.shape == (cfg.steps, cfg.k, problems.get(problem).dim_x)
    assert np.all(np.abs(result.picked_x) <= 1.0)
    assert np.isfinite(result.div)
