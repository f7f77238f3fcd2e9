"""Kernel batch methods (LCMD, BAIT-F, k-means++, MaxDet, MaxDist): each selection
rule against a naive NumPy implementation written from its definition, on random
features, with and without a padded (masked) pool; each method's whole pipeline
(transform and selection, float64 where bmdal-reg uses it) against a float64 NumPy
copy of bmdal-reg's code at σ = 1e-3; the kernels against direct computations
(Jacobian, Gaussian-process posterior)."""

import functools
import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import config, problems
from jdal.acquisitions import bmdal
from jdal.acquisitions.bmdal import (
    bait_picks,
    kmeanspp_picks,
    lcmd_picks,
    maxdet_picks,
    pick_on_features,
)
from jdal.acquisitions.greedy import greedy_max_min
from jdal.acquisitions.kernels import (
    acs_rf_features,
    gradient_features,
    last_layer_features,
    posterior_features,
    scale_to_labelled,
)
from jdal.models.ensemble import make_ensemble

SIGMA = 1e-3  # bmdal-reg's σ for ReLU networks, jdal's default


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


def in_float64(fn, *args):
    """fn(*args) traced and run with 64-bit types, the arrays cast to float64."""
    with jax.enable_x64(True):
        args = [
            a.astype(jnp.float64) if getattr(a, "dtype", None) == jnp.float32 else a
            for a in args
        ]
        return jax.tree.map(np.asarray, fn(*args))


@pytest.mark.parametrize("padding", [0, 17])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_maxdet_is_greedy_determinant(seed, padding):
    pool, candidates, _, _ = random_case(seed, padding=padding, dim=12)
    got = in_float64(
        jax.jit(maxdet_picks, static_argnums=(0, 3)), 8, pool, candidates, SIGMA
    )
    assert list(got) == naive_maxdet(8, pool, candidates, SIGMA)


@pytest.mark.parametrize("padding", [0, 17])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bait_is_greedy_posterior_trace(seed, padding):
    """In float64, as jdal runs it (bmdal-reg too)."""
    pool, candidates, labelled, labelled_mask = random_case(
        seed, padding=padding, dim=12
    )
    got = in_float64(
        jax.jit(bait_picks, static_argnums=(0, 5)),
        8,
        pool,
        candidates,
        labelled,
        labelled_mask,
        SIGMA,
    )
    want = naive_bait(8, pool, candidates, labelled, labelled_mask, SIGMA)
    assert list(got) == want


# ---------------------------------------------------------------------------
# Whole pipelines against a float64 NumPy copy of bmdal-reg (bmdal/selection.py,
# feature_maps.py, features.py), in the regime where float32 breaks: σ = 1e-3,
# labelled sets smaller and larger than the feature dimension, batches that use up
# the directions the labelled rows leave open.


def reference_scale(pool, train):
    """features.scale_tfm(None): mean labelled k(x, x) to 1."""
    factor = 1.0 / np.sqrt(np.mean(np.sum(train**2, axis=1)))
    return pool * factor, train * factor


def reference_posterior(pool, train, sigma):
    """FeatureMap.posterior in feature space: σ φ L^(-T), L L^T = ΦᵀΦ + σ² I."""
    cov = train.T @ train + sigma**2 * np.eye(train.shape[1])
    transform = sigma * np.linalg.inv(np.linalg.cholesky(cov)).T
    return pool @ transform, train @ transform


def reference_maxdet(k, pool, sigma):
    """MaxDetSelectionMethod (kernel space, P mode, noise_sigma = σ)."""
    kernel = pool @ pool.T
    diag = np.diag(kernel).copy() + sigma**2
    columns, picks = [], []
    for _ in range(k):
        scores = diag.copy()
        scores[picks] = -np.inf
        new = int(np.argmax(scores))
        l_matrix = np.array(columns).T if columns else np.zeros((len(pool), 0))
        column = kernel[new].copy()
        column[new] += sigma**2
        update = (column - l_matrix @ l_matrix[new]) / np.sqrt(diag[new])
        diag -= update**2
        columns.append(update)
        diag[new] = -np.inf
        picks.append(new)
    return picks


def reference_bait(k, pool, train, sigma):
    """BaitFeatureSpaceSelectionMethod, forward only (bait-f), P mode."""
    features = pool.copy()
    diag = np.sum(features**2, axis=1)
    cov = features.T @ features + train.T @ train
    numerator = np.einsum("ij,ji->i", features, cov @ features.T)
    picks = []
    for _ in range(k):
        scores = numerator / (diag + sigma**2 + 1e-8)
        scores[picks] = -np.inf
        new = int(np.argmax(scores))
        entry = diag[new] + sigma**2
        beta = 1.0 / (np.sqrt(entry) * (np.sqrt(entry) + sigma))
        phi = features[new].copy()
        dots = features @ phi
        cov_phi = cov @ phi
        phi_cov_phi = numerator[new]
        numerator = numerator - 2 / entry * (features @ cov_phi) * dots
        numerator = numerator + phi_cov_phi / entry**2 * dots**2
        outer = cov_phi[:, None] * phi[None, :]
        cov = (
            cov - beta * (outer + outer.T) + beta**2 * phi_cov_phi * np.outer(phi, phi)
        )
        features = features - dots[:, None] * (beta * phi[None, :])
        diag = diag - dots**2 / entry
        picks.append(new)
    return picks


def reference_maxdist_p(k, pool):
    """MaxDistSelectionMethod in P mode: largest k(x, x) first, then max-min."""
    diag = np.sum(pool**2, axis=1)
    min_sq = np.full(len(pool), np.inf)
    picks = []
    for i in range(k):
        if i == 0:
            new = int(np.argmax(diag))
        else:
            scores = min_sq.copy()
            scores[picks] = -np.inf
            new = int(np.argmax(scores))
        min_sq = np.minimum(min_sq, diag + diag[new] - 2 * pool @ pool[new])
        picks.append(new)
    return picks


def reference_picks(method, k, pool, train, sigma):
    pool, train = reference_scale(pool, train)
    pool, train = reference_posterior(pool, train, sigma)
    if method == "maxdet":
        return reference_maxdet(k, pool, sigma)
    if method == "bait":
        return reference_bait(k, pool, train, sigma)
    return reference_maxdist_p(k, pool)


@pytest.mark.parametrize("n_labelled", [12, 40])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", ["maxdet", "bait", "maxdist"])
def test_posterior_methods_pick_what_float64_bmdal_reg_picks(method, seed, n_labelled):
    """ReLU-like features (non-negative, correlated) of dimension 24, 12 labelled
    rows (the posterior leaves 12 directions open and 16 picks use them up) or 40
    (full rank: every posterior variance is of order σ²); the reference in float64.
    jdal's picks must be the same, in order."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(6, 24))
    rows = np.maximum(rng.normal(size=(90 + n_labelled, 6)) @ mixing, 0.0)
    rows = (rows + 0.1 * rng.normal(size=rows.shape)).astype(np.float32)
    pool, train = rows[:90], rows[90:]
    k = 16
    want = reference_picks(
        method, k, pool.astype(np.float64), train.astype(np.float64), SIGMA
    )
    options = {"sigma": SIGMA}
    got = jax.jit(
        lambda f, lab: pick_on_features(
            method,
            options,
            jax.random.key(0),
            k,
            f,
            jnp.ones(90, bool),
            lab,
            jnp.ones(n_labelled, bool),
        )
    )(jnp.asarray(pool), jnp.asarray(train))
    assert list(np.asarray(got)) == want


def test_kernel_methods_run_their_documented_variant():
    """The paper's ReLU variants: LCMD on the plain kernel in float32; MaxDist,
    MaxDet and BAIT on the posterior, k-means++ on acs-rf, in float64."""
    assert {n: v.transform for n, v in bmdal.VARIANTS.items()} == {
        "lcmd": None,
        "maxdist": "posterior",
        "kmeanspp": "acs_rf",
        "maxdet": "posterior",
        "bait": "posterior",
    }
    from jdal import acquisitions

    for name in bmdal.VARIANTS:
        options = acquisitions.get(name).options
        if name != "lcmd":
            assert options["sigma"].default == 1e-3
            assert not options["sigma"].is_valid(0.0)


def test_acs_rf_features_follow_the_reference_formula():
    """Feature j of x: (½ log(1 + s/σ²) − ((φ·θ_j)² + s)/(2σ²)) / √m with
    s = φᵀ(ΦᵀΦ + σ² I)^(-1) φ and θ_j = (ΦᵀΦ + σ² I)^(-1/2) ε_j, in float64."""
    rng = np.random.default_rng(3)
    pool = rng.normal(size=(20, 8))
    train = rng.normal(size=(5, 8))
    noise = rng.normal(size=(8, 16))
    sigma = 0.05
    got = in_float64(
        lambda p, t, e: acs_rf_features(p, t, jnp.ones(5, bool), sigma, e),
        jnp.asarray(pool, jnp.float32),
        jnp.asarray(train, jnp.float32),
        jnp.asarray(noise, jnp.float32),
    )
    pool, train, noise = (
        np.asarray(a, np.float32).astype(np.float64) for a in (pool, train, noise)
    )
    cov = np.linalg.inv(train.T @ train + sigma**2 * np.eye(8))
    values, vectors = np.linalg.eigh(cov)
    samples = vectors @ np.diag(np.sqrt(values)) @ vectors.T @ noise
    s = np.einsum("ij,jk,ik->i", pool, cov, pool)[:, None]
    want = 0.5 * np.log(1 + s / sigma**2) - ((pool @ samples) ** 2 + s) / (2 * sigma**2)
    np.testing.assert_allclose(got, want / np.sqrt(8), rtol=1e-8)


def test_float64_selection_survives_a_vmapped_jit():
    """make_run jits a vmap of the run; the float64 part must trace inside it."""
    rng = np.random.default_rng(0)
    pools = jnp.asarray(rng.normal(size=(3, 30, 6)), jnp.float32)
    train = jnp.asarray(rng.normal(size=(4, 6)), jnp.float32)

    def one(pool):
        return pick_on_features(
            "maxdet",
            {"sigma": SIGMA},
            jax.random.key(0),
            5,
            pool,
            jnp.ones(30, bool),
            train,
            jnp.ones(4, bool),
        )

    batched = jax.jit(jax.vmap(one))(pools)
    assert batched.dtype == jnp.int32
    for i in range(3):
        assert list(np.asarray(batched[i])) == list(np.asarray(jax.jit(one)(pools[i])))


# ---------------------------------------------------------------------------
# Kernels.


def test_posterior_features_give_the_gp_posterior_kernel():
    """ψ(x)·ψ(x') = k(x, x') − k(x, X)(K + σ² I)^(-1) k(X, x') over the masked rows,
    in float64 at σ = 1e-3 with fewer labelled rows than features."""
    pool, _, labelled, mask = random_case(3, n_pool=12, n_labelled=9, n_valid=7, dim=8)
    post_pool, post_labelled = in_float64(
        lambda p, lab: posterior_features(p, lab, mask, SIGMA), pool, labelled
    )
    x = np.asarray(pool, np.float64)
    train = np.asarray(labelled, np.float64)[np.asarray(mask)]
    gram = train @ train.T + SIGMA**2 * np.eye(len(train))
    cross = x @ train.T
    want = x @ x.T - cross @ np.linalg.solve(gram, cross.T)
    got = post_pool @ post_pool.T
    np.testing.assert_allclose(got, want, atol=1e-9 * np.abs(x @ x.T).max())
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


def exact_gradient_kernel(ensemble, state, x, last_only=False):
    """(1/M) Σ_m Σ_j ∇_W f_mj(x)·∇_W f_mj(x'), W = every Dense kernel and bias
    (only the last Dense layer's with `last_only`), from the full Jacobian."""
    module = ensemble.module
    total = 0.0
    for m in range(ensemble.n_members):
        params = jax.tree.map(lambda a, m=m: a[m], state.params["mlp"])
        stats = jax.tree.map(lambda a, m=m: a[m], state.batch_stats)
        dense = {n: p for n, p in params.items() if n.startswith("Dense")}
        if last_only:
            last = max(dense, key=lambda n: int(n.split("_")[1]))
            dense = {last: dense[last]}
        rest = {n: p for n, p in params.items() if n not in dense}

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


@pytest.mark.parametrize("problem_name", ["robo", "stack"])
def test_last_layer_features_are_the_exact_last_layer_gradient_kernel(problem_name):
    """bmdal-reg's ll kernel: the gradient of the last Dense layer, [a, 1] ⊗ δ, so
    k = dy (a·a' + 1) for a linear output layer; exact, against the Jacobian."""
    problem, ensemble, state = tiny_ensemble(problem_name)
    x = jax.random.uniform(jax.random.key(2), (7, problem.dim_x), minval=-1, maxval=1)
    want = exact_gradient_kernel(ensemble, state, x, last_only=True)
    f = np.asarray(last_layer_features(ensemble, state, x, jax.random.key(4), 512))
    assert f.shape == (7, ensemble.n_members * (ensemble.module.hidden[-1] + 1))
    np.testing.assert_allclose(f @ f.T, want, rtol=1e-4, atol=1e-5 * want.max())


def test_adm_last_layer_scale_is_the_heads_jacobian_norm():
    """For adm the last Dense (1000 wide) feeds a linear head: Σ_j |δ_j|² is the
    squared Frobenius norm of the head's Jacobian, the same at every x."""
    from jdal.acquisitions.kernels import output_gradient_norms

    problem = problems.get("adm")
    cfg = config.smoke(problem="adm", n_members=2, max_width=6)
    ensemble = make_ensemble(problem, cfg)
    state = ensemble.init(jax.random.key(1))
    head = state.params["mlp"]["AdmHead_0"]
    from jdal.models.mlp import AdmHead

    for m in range(2):
        params = jax.tree.map(lambda a, m=m: a[m], head)
        jac = jax.jacfwd(lambda z, p=params: AdmHead().apply({"params": p}, z))(
            jnp.zeros((1, 1000))
        )  # [1, 2000, 1, 1000]
        want = float(np.sum(np.asarray(jac, np.float64) ** 2))
        got = float(output_gradient_norms(ensemble, state)[m])
        assert got == pytest.approx(want, rel=1e-4)


def test_members_sketch_with_their_own_projections():
    """Member m's sketch depends on (key, m) only, and two members draw independent
    projections: with two identical members, their kernel estimates' errors are
    uncorrelated (a shared projection would make them correlated)."""
    problem, ensemble, state = tiny_ensemble("robo", n_members=2)
    twin = jax.tree.map(lambda a: jnp.stack([a[0], a[0]]), state)
    single_ensemble = make_ensemble(
        problem, config.smoke(problem="robo", n_members=1, max_width=6)
    )
    single = jax.tree.map(lambda a: a[:1], state)
    x = jax.random.uniform(jax.random.key(2), (7, problem.dim_x), minval=-1, maxval=1)
    dim = 64

    @jax.jit
    def member_sketches(key):
        pair = gradient_features(ensemble, twin, x, key, dim) * np.sqrt(2 * dim)
        first = gradient_features(single_ensemble, single, x, key, dim) * np.sqrt(dim)
        return first, pair - first  # s_0, s_1

    want = exact_gradient_kernel(single_ensemble, single, x)
    errors = []
    for key in jax.random.split(jax.random.key(5), 96):
        s0, s1 = (np.asarray(s, np.float64) for s in member_sketches(key))
        errors.append(
            [(s0 @ s0.T / dim - want).ravel(), (s1 @ s1.T / dim - want).ravel()]
        )
    errors = np.asarray(errors)  # [keys, 2, entries]
    correlation = np.corrcoef(errors[:, 0].ravel(), errors[:, 1].ravel())[0, 1]
    assert abs(correlation) < 0.25
    # Each member's own estimate is unbiased.
    assert np.max(np.abs(errors.mean(axis=0))) < 0.1 * np.max(np.diag(want))


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
@pytest.mark.parametrize("n_labelled", [12, 40])
@pytest.mark.parametrize("method", ["lcmd", "maxdist", "maxdet", "bait"])
def test_picks_agree_with_bmdal_reg_on_the_same_features(
    method, n_labelled, monkeypatch
):
    """bmdal-reg's own select_batch with the ReLU settings (σ = 1e-3,
    allow_float64) on the linear kernel of the same features, each method in the
    variant jdal runs (lcmd-tp plain; the others P mode after scale and posterior)."""
    import torch

    # bmdal-reg predates NumPy 2, which removed the np.Inf alias.
    monkeypatch.setattr(np, "Inf", np.inf, raising=False)
    from bmdal_reg.bmdal.algorithms import select_batch
    from bmdal_reg.bmdal.feature_data import TensorFeatureData

    rng = np.random.default_rng(11)
    mixing = rng.normal(size=(6, 24))
    rows = np.maximum(rng.normal(size=(90 + n_labelled, 6)) @ mixing, 0.0)
    rows = (rows + 0.1 * rng.normal(size=rows.shape)).astype(np.float32)
    pool, train = rows[:90], rows[90:]
    k, tp = 16, method == "lcmd"
    picks, _ = select_batch(
        batch_size=k,
        # One placeholder model: with the linear base kernel the features are the
        # data, but bmdal-reg keeps one feature map per model.
        models=[torch.nn.Identity()],
        data={
            "train": TensorFeatureData(torch.as_tensor(train, dtype=torch.float32)),
            "pool": TensorFeatureData(torch.as_tensor(pool, dtype=torch.float32)),
        },
        y_train=None,
        selection_method=method,
        base_kernel="linear",
        kernel_transforms=[] if tp else [("train", [SIGMA, None])],
        sel_with_train=tp,
        maxdet_sigma=SIGMA,
        bait_sigma=SIGMA,
        allow_float64=True,
        verbosity=0,
    )
    ours = pick_on_features(
        method,
        {"sigma": SIGMA},
        jax.random.key(0),
        k,
        jnp.asarray(pool),
        jnp.ones(90, bool),
        jnp.asarray(train),
        jnp.ones(n_labelled, bool),
    )
    assert list(np.asarray(ours)) == [int(i) for i in picks]
