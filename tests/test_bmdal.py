"""Kernel batch methods (LCMD, BAIT-F, k-means++, MaxDet, MaxDist): each selection
rule against a naive NumPy implementation written from its definition, on random
features, with and without a padded (masked) pool; the kernels against direct
computations (Jacobian, Gaussian-process posterior)."""

import functools
import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import config, problems
from jdal.acquisitions.bmdal import (
    bait_picks,
    kmeanspp_picks,
    lcmd_picks,
    maxdet_picks,
)
from jdal.acquisitions.greedy import greedy_max_min
from jdal.acquisitions.kernels import (
    gradient_features,
    last_layer_features,
    posterior_features,
    scale_to_labelled,
)
from jdal.models.ensemble import make_ensemble

SIGMA = 0.1


def random_case(seed, n_pool=30, n_labelled=8, n_valid=6, dim=5, padding=0):
    """Pool features f32[P + padding, dim] (padding rows masked out), labelled
    f32[N, dim] of which the first n_valid count."""
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(n_pool + padding, dim)).astype(np.float32)
    labelled = rng.normal(size=(n_labelled, dim)).astype(np.float32)
    candidates = np.arange(n_pool + padding) < n_pool
    labelled_mask = np.arange(n_labelled) < n_valid
    return tuple(jnp.asarray(a) for a in (pool, candidates, labelled, labelled_mask))


def as_numpy(*arrays):
    return tuple(np.asarray(a) for a in arrays)


def sq_dists(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1)


# ---------------------------------------------------------------------------
# Naive references, from the definitions (float64, recomputed from scratch).


def naive_maxdist(k, pool, candidates, labelled, labelled_mask):
    pool, candidates, labelled, labelled_mask = as_numpy(
        pool, candidates, labelled, labelled_mask
    )
    centres, picks = list(labelled[labelled_mask]), []
    for _ in range(k):
        score = sq_dists(pool, np.array(centres)).min(axis=1)
        score[~candidates] = -np.inf
        score[picks] = -np.inf
        picks.append(int(np.argmax(score)))
        centres.append(pool[picks[-1]])
    return picks


def naive_lcmd(k, pool, candidates, labelled, labelled_mask):
    """Centres: labelled rows then picks; every candidate joins its nearest centre
    (the first on ties); the largest cluster by summed squared distance; its
    farthest remaining point."""
    pool, candidates, labelled, labelled_mask = as_numpy(
        pool, candidates, labelled, labelled_mask
    )
    centres, picks = list(labelled[labelled_mask]), []
    for _ in range(k):
        d = sq_dists(pool, np.array(centres))
        nearest, min_sq = np.argmin(d, axis=1), d.min(axis=1)
        size = np.zeros(len(centres))
        np.add.at(size, nearest[candidates], min_sq[candidates])
        score = np.where(size[nearest] == size.max(), min_sq, -np.inf)
        score[~candidates] = -np.inf
        score[picks] = -np.inf
        picks.append(int(np.argmax(score)))
        centres.append(pool[picks[-1]])
    return picks


def naive_kmeanspp(k, pool, candidates, draws):
    """draws: the uniform u of each pick; P(row) ∝ squared distance to the picks
    (uniform over the candidates for the first pick); the row is the first whose
    cumulative weight exceeds u · total."""
    pool, candidates = as_numpy(pool, candidates)
    picks = []
    for i in range(k):
        if picks:
            weights = sq_dists(pool, pool[picks]).min(axis=1)
        else:
            weights = np.ones(len(pool))
        weights[~candidates] = 0.0
        weights[picks] = 0.0
        cumulative = np.cumsum(weights)
        picks.append(int(np.argmax(cumulative > draws[i] * cumulative[-1])))
    return picks


def naive_maxdet(k, pool, candidates, sigma):
    """Greedy argmax of log det(K_S + σ² I) over candidate additions."""
    pool, candidates = as_numpy(pool, candidates)
    pool = pool.astype(np.float64)
    kernel = pool @ pool.T
    picks = []
    for _ in range(k):
        best, best_value = None, -np.inf
        for i in np.flatnonzero(candidates):
            if i in picks:
                continue
            rows = picks + [int(i)]
            sub = kernel[np.ix_(rows, rows)] + sigma**2 * np.eye(len(rows))
            value = np.linalg.slogdet(sub)[1]
            if value > best_value:
                best, best_value = int(i), value
        picks.append(best)
    return picks


def naive_bait(k, pool, candidates, labelled, labelled_mask, sigma):
    """Greedy argmin of the total posterior variance over candidates ∪ labelled
    given the picks (noise σ²), in kernel space: BAIT's trace objective."""
    pool, candidates, labelled, labelled_mask = as_numpy(
        pool, candidates, labelled, labelled_mask
    )
    rows = np.concatenate([pool[candidates], labelled[labelled_mask]]).astype(float)
    index_of = np.flatnonzero(candidates)
    kernel = rows @ rows.T
    picks = []
    for _ in range(k):
        best, best_value = None, np.inf
        for j, i in enumerate(index_of):
            if int(i) in picks:
                continue
            chosen = [int(np.searchsorted(index_of, p)) for p in picks] + [j]
            k_sc = kernel[:, chosen]
            k_cc = kernel[np.ix_(chosen, chosen)] + sigma**2 * np.eye(len(chosen))
            trace = np.trace(kernel) - np.trace(k_sc @ np.linalg.solve(k_cc, k_sc.T))
            if trace < best_value:
                best, best_value = int(i), trace
        picks.append(best)
    return picks


# ---------------------------------------------------------------------------
# Each rule against its reference, plain and padded pools.


@pytest.mark.parametrize("padding", [0, 17])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distance_rules_match_their_definitions(seed, padding):
    pool, candidates, labelled, labelled_mask = random_case(seed, padding=padding)
    k = 8
    maxdist = greedy_max_min(k, candidates, [(pool, labelled)], labelled_mask)
    assert list(np.asarray(maxdist)) == naive_maxdist(
        k, pool, candidates, labelled, labelled_mask
    )
    lcmd = jax.jit(lcmd_picks, static_argnums=0)(
        k, pool, candidates, labelled, labelled_mask
    )
    assert list(np.asarray(lcmd)) == naive_lcmd(
        k, pool, candidates, labelled, labelled_mask
    )


@pytest.mark.parametrize("padding", [0, 17])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeanspp_draws_by_squared_distance(seed, padding):
    pool, candidates, _, _ = random_case(seed, padding=padding)
    key, k = jax.random.key(seed), 10
    got = jax.jit(kmeanspp_picks, static_argnums=1)(key, k, pool, candidates)
    draws = [float(jax.random.uniform(jax.random.fold_in(key, i))) for i in range(k)]
    assert list(np.asarray(got)) == naive_kmeanspp(k, pool, candidates, draws)
    assert np.all(np.asarray(candidates)[np.asarray(got)])


def test_kmeanspp_spreads_where_distances_are():
    """Statistically: a far cluster of 5 points gets picked far more often than 5
    points of a crowd would by uniform sampling."""
    rng = np.random.default_rng(5)
    crowd = rng.normal(scale=0.01, size=(95, 2))
    far = 10 + rng.normal(scale=0.01, size=(5, 2))
    pool = jnp.asarray(np.concatenate([crowd, far]), jnp.float32)
    candidates = jnp.ones(100, bool)
    picks = jax.vmap(lambda key: kmeanspp_picks(key, 2, pool, candidates))(
        jax.random.split(jax.random.key(0), 400)
    )
    second = np.asarray(picks[:, 1])
    first_in_crowd = np.asarray(picks[:, 0]) < 95
    # After a crowd point, the far cluster holds almost all the squared distance.
    assert np.mean(second[first_in_crowd] >= 95) > 0.95


@pytest.mark.parametrize("padding", [0, 17])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_maxdet_is_greedy_determinant(seed, padding):
    pool, candidates, _, _ = random_case(seed, padding=padding)
    got = jax.jit(maxdet_picks, static_argnums=(0, 3))(8, pool, candidates, SIGMA)
    assert list(np.asarray(got)) == naive_maxdet(8, pool, candidates, SIGMA)


@pytest.mark.parametrize("padding", [0, 17])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bait_is_greedy_posterior_trace(seed, padding):
    """float32 incremental updates: exact while the batch is smaller than the
    feature dimension (as in use: 40 picks, 512 features); with 8 picks of 5-D
    features near-exhausted directions reach float32 rounding (bmdal-reg runs BAIT
    in float64)."""
    pool, candidates, labelled, labelled_mask = random_case(
        seed, padding=padding, dim=12
    )
    got = jax.jit(bait_picks, static_argnums=(0, 5))(
        8, pool, candidates, labelled, labelled_mask, SIGMA
    )
    want = naive_bait(8, pool, candidates, labelled, labelled_mask, SIGMA)
    assert list(np.asarray(got)) == want


# ---------------------------------------------------------------------------
# Kernels.


def test_posterior_features_give_the_gp_posterior_kernel():
    """ψ(x)·ψ(x') = k(x, x') − k(x, X)(K + σ² I)^(-1) k(X, x') over the masked rows."""
    pool, _, labelled, mask = random_case(3, n_pool=12, n_labelled=9, n_valid=7)
    post_pool, post_labelled = posterior_features(pool, labelled, mask, SIGMA)
    x = np.asarray(pool, np.float64)
    train = np.asarray(labelled, np.float64)[np.asarray(mask)]
    gram = train @ train.T + SIGMA**2 * np.eye(len(train))
    cross = x @ train.T
    want = x @ x.T - cross @ np.linalg.solve(gram, cross.T)
    got = np.asarray(post_pool, np.float64) @ np.asarray(post_pool, np.float64).T
    np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(x @ x.T).max())
    assert post_labelled.shape == labelled.shape


def test_scale_makes_the_mean_labelled_diagonal_one():
    pool, _, labelled, mask = random_case(4)
    pool_s, labelled_s = scale_to_labelled(pool, 3.0 * labelled, mask)
    norms = np.sum(np.asarray(labelled_s)[np.asarray(mask)] ** 2, 1)
    np.testing.assert_allclose(np.mean(norms), 1.0, 1e-5)
    ratio = np.asarray(pool_s) / np.asarray(pool)
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-5)


@functools.cache
def tiny_ensemble(problem_name="robo", n_members=2):
    problem = problems.get(problem_name)
    cfg = config.smoke(problem=problem_name, n_members=n_members, max_width=6)
    ensemble = make_ensemble(problem, cfg)
    state = ensemble.init(jax.random.key(1))
    # Nonzero BatchNorm statistics, as after training.
    state = state._replace(
        batch_stats=jax.tree.map(lambda a: a + 0.3, state.batch_stats)
    )
    return problem, ensemble, state


def exact_gradient_kernel(ensemble, state, x):
    """(1/M) Σ_m Σ_j ∇_W f_mj(x)·∇_W f_mj(x'), W = every Dense kernel and bias,
    from the full Jacobian."""
    module = ensemble.module
    total = 0.0
    for m in range(ensemble.n_members):
        params = jax.tree.map(lambda a, m=m: a[m], state.params["mlp"])
        stats = jax.tree.map(lambda a, m=m: a[m], state.batch_stats)
        dense = {n: p for n, p in params.items() if n.startswith("Dense")}
        rest = {n: p for n, p in params.items() if not n.startswith("Dense")}

        def outputs(dense, rest=rest, stats=stats):
            variables = {"params": {**dense, **rest}, "batch_stats": stats}
            return module.apply(variables, x)[0]  # [n, dy]

        jacobian = jax.jacrev(outputs)(dense)
        flat = jnp.concatenate(
            [j.reshape(j.shape[0], j.shape[1], -1) for j in jax.tree.leaves(jacobian)],
            axis=-1,
        )  # [n, dy, parameters]
        total = total + jnp.einsum("ajp,bjp->ab", flat, flat)
    return np.asarray(total, np.float64) / ensemble.n_members


@pytest.mark.parametrize("problem_name", ["robo", "stack"])
def test_gradient_sketch_preserves_the_gradient_kernel(problem_name):
    """The sketch is unbiased for the exact gradient kernel: averaged over 64
    independent 512-feature sketches, every entry lies within 5 % of the largest
    diagonal entry (a single sketch: within 40 %, the random-projection error of
    512 product features). stack has 256 outputs: 4 random output directions."""
    problem, ensemble, state = tiny_ensemble(problem_name)
    x = jax.random.uniform(jax.random.key(2), (7, problem.dim_x), minval=-1, maxval=1)
    want = exact_gradient_kernel(ensemble, state, x)
    scale = np.max(np.diag(want))
    sketch = jax.jit(lambda key: gradient_features(ensemble, state, x, key, 512))
    kernels = []
    for key in jax.random.split(jax.random.key(3), 64):
        f = np.asarray(sketch(key), np.float64)
        kernels.append(f @ f.T)
    assert np.max(np.abs(kernels[0] - want)) < 0.4 * scale
    assert np.max(np.abs(np.mean(kernels, axis=0) - want)) < 0.05 * scale


def test_last_layer_sketch_preserves_the_mean_member_kernel():
    problem, ensemble, state = tiny_ensemble()
    x = jax.random.uniform(jax.random.key(2), (7, problem.dim_x), minval=-1, maxval=1)
    _, features = ensemble.predict_with_features(state, x)
    want = np.mean(np.einsum("mah,mbh->mab", features, features), axis=0)
    f = np.asarray(last_layer_features(ensemble, state, x, jax.random.key(4), 20000))
    np.testing.assert_allclose(f @ f.T, want, atol=0.05 * np.max(np.diag(want)))


# ---------------------------------------------------------------------------
# Optional cross-check with the reference package (needs PyTorch and bmdal-reg).


def _bmdal_reg_importable() -> bool:
    try:  # the package needs PyTorch and dill besides itself
        import bmdal_reg.bmdal.algorithms  # noqa: F401
    except ImportError:
        return False
    return True


HAS_BMDAL = (
    importlib.util.find_spec("bmdal_reg") is not None and _bmdal_reg_importable()
)


@pytest.mark.skipif(not HAS_BMDAL, reason="bmdal-reg (and PyTorch) not installed")
@pytest.mark.parametrize("method", ["lcmd", "maxdist", "maxdet", "bait"])
def test_picks_agree_with_bmdal_reg_on_the_same_features(method, monkeypatch):
    import torch

    # bmdal-reg predates NumPy 2, which removed the np.Inf alias.
    monkeypatch.setattr(np, "Inf", np.inf, raising=False)
    from bmdal_reg.bmdal.algorithms import select_batch
    from bmdal_reg.bmdal.feature_data import TensorFeatureData

    pool, candidates, labelled, labelled_mask = random_case(7, n_pool=40)
    k, train = 8, np.asarray(labelled)[np.asarray(labelled_mask)]
    tp = method in ("lcmd", "maxdist")
    picks, _ = select_batch(
        batch_size=k,
        # One placeholder model: with the linear base kernel the features are the
        # data, but bmdal-reg keeps one feature map per model.
        models=[torch.nn.Identity()],
        data={
            "train": TensorFeatureData(torch.as_tensor(train, dtype=torch.float64)),
            "pool": TensorFeatureData(
                torch.as_tensor(np.asarray(pool), dtype=torch.float64)
            ),
        },
        y_train=None,
        selection_method=method,
        base_kernel="linear",
        kernel_transforms=[] if tp else [("train", [SIGMA, None])],
        sel_with_train=tp,
        maxdet_sigma=SIGMA,
        bait_sigma=SIGMA,
        verbosity=0,
    )
    if tp:
        ours = (
            lcmd_picks(k, pool, candidates, labelled, labelled_mask)
            if method == "lcmd"
            else greedy_max_min(k, candidates, [(pool, labelled)], labelled_mask)
        )
    else:
        features, post_train = scale_to_labelled(pool, labelled, labelled_mask)
        features, post_train = posterior_features(
            features, post_train, labelled_mask, SIGMA
        )
        ours = (
            maxdet_picks(k, features, candidates, SIGMA)
            if method == "maxdet"
            else bait_picks(k, features, candidates, post_train, labelled_mask, SIGMA)
        )
    assert list(np.asarray(ours)) == [int(i) for i in picks]
