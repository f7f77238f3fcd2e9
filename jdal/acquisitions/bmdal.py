"""Kernel batch methods for regression (Holzmüller, Zaverkin, Kästner & Steinwart,
JMLR 2023, "A Framework and Benchmark for Deep Batch Active Learning for Regression";
reference code: the `bmdal-reg` package): LCMD, BAIT-F, k-means++, MaxDet, MaxDist.

Every method works on a kernel of the trained ensemble (`jdal.acquisitions.kernels`),
by default the sketched gradient kernel with 512 features, in one of the paper's two
modes:

- TP mode (the labelled points act as already selected): `maxdist` and `lcmd`, on
  the plain kernel, as the paper recommends for the distance-based methods.
- P mode (only pool points are selected; the labelled points enter through the
  posterior kernel post(X_train, σ²) after scale(X_train), σ = 0.1 as in the
  paper's experiments): `maxdet`, `bait`, `kmeanspp`.

The rules, with d(x, x')² = k(x, x) − 2 k(x, x') + k(x', x') in feature space:

- `maxdist` (Core-set in kernel space): greedy argmax of the distance to labelled ∪
  picked (`jdal.acquisitions.greedy.greedy_max_min` on the features).
- `lcmd` (largest cluster maximum distance): every pool point belongs to the
  cluster of its nearest centre (labelled ∪ picked); a cluster's size is the sum of
  its members' squared distances to their centre; pick, within the largest
  cluster, the point farthest from its centre.
- `kmeanspp` (BADGE-style k-means++ seeding): the first pick uniform over the pool,
  then each pick drawn with probability proportional to its squared distance to the
  picks so far.
- `maxdet` (greedy determinant, BatchBALD-like): greedy argmax of the posterior
  variance k(x, x) + σ², conditioning on each pick (a rank-one update of the
  features: a pivoted Cholesky step).
- `bait` (BAIT-F, forward greedy): argmax of φᵀ C φ / (k(x, x) + σ²) with C the
  features' covariance over pool ∪ labelled, then the same conditioning of the
  features, C and the scores.

Each pick costs O(pool × features) (BAIT adds O(features²)); no [pool × pool]
matrix is formed. LCMD finds each pool point's nearest labelled point once per
step, O(pool × labelled × features). Features come from coordinate differences
where distances are taken, and all matrix products run at full float32 precision.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Option,
    Pool,
    SelectFn,
    integer_option,
    number_option,
    register,
)
from jdal.acquisitions.greedy import greedy_max_min
from jdal.acquisitions.kernels import (
    HIGHEST,
    gradient_features,
    last_layer_features,
    posterior_features,
    scale_to_labelled,
)
from jdal.metrics import map_rows

KERNELS = ("grad", "ll")


def kernel_options() -> dict[str, Option]:
    """The options every method here shares: the kernel, its sketch size, σ."""
    return {
        "kernel": Option("grad", f"one of {', '.join(KERNELS)}", KERNELS.__contains__),
        "sketch_dim": integer_option(512, 1),
        "sigma": number_option(0.1, 0.0),
    }


def kernel_features(
    ctx: Context, key: jax.Array, pool: Pool, state: AcqState, posterior: bool
) -> tuple[jax.Array, jax.Array]:
    """(pool features f32[P, m], labelled features f32[N, m]) of the method's kernel;
    with `posterior`, of post(X_train, σ²) after scale(X_train)."""
    options = ctx.options
    features_of = {"grad": gradient_features, "ll": last_layer_features}
    x = jnp.concatenate([pool.x, state.labelled_x])
    features = features_of[options["kernel"]](
        ctx.ensemble, state.ensemble, x, key, options["sketch_dim"]
    )
    pool_features, labelled = features[: pool.x.shape[0]], features[pool.x.shape[0] :]
    if posterior:
        mask = state.labelled_mask
        pool_features, labelled = scale_to_labelled(pool_features, labelled, mask)
        pool_features, labelled = posterior_features(
            pool_features, labelled, mask, options["sigma"]
        )
    return pool_features, labelled


def squared_distances_to(points: jax.Array, point: jax.Array) -> jax.Array:
    """f32[n]: squared Euclidean distance of every row of `points` to `point`."""
    return jnp.sum(jnp.square(points - point[None, :]), axis=-1)


# ---------------------------------------------------------------------------
# Selection on features. Each takes pool features f32[P, m] and candidates
# bool[P] and returns int32[k] distinct candidate rows in pick order.


def lcmd_picks(
    k: int,
    features: jax.Array,
    candidates: jax.Array,
    labelled: jax.Array,
    labelled_mask: jax.Array,
) -> jax.Array:
    """LCMD in TP mode: centres are the labelled rows (ids 0..N−1), then the picks
    (ids N, N+1, ...); clusters weighted by squared distance."""
    n_labelled = labelled.shape[0]

    def nearest_labelled(point):
        distances = squared_distances_to(labelled, point)
        distances = jnp.where(labelled_mask, distances, jnp.inf)
        return jnp.min(distances), jnp.argmin(distances).astype(jnp.int32)

    min_sq, centre = map_rows(nearest_labelled, (features,), labelled.size)

    def pick(i, carry):
        min_sq, centre, remaining, picks = carry
        weight = jnp.where(candidates, min_sq, 0.0)  # padding rows weigh nothing
        size = jax.ops.segment_sum(weight, centre, num_segments=n_labelled + k)
        in_largest = size[centre] == jnp.max(size)
        scores = jnp.where(remaining & in_largest, min_sq, -jnp.inf)
        index = jnp.argmax(scores).astype(jnp.int32)
        distances = squared_distances_to(features, features[index])
        closer = distances < min_sq  # strict: the earlier centre keeps its ties
        centre = jnp.where(closer, n_labelled + i, centre)
        min_sq = jnp.where(closer, distances, min_sq)
        return min_sq, centre, remaining.at[index].set(False), picks.at[i].set(index)

    carry = (min_sq, centre, candidates, jnp.zeros(k, jnp.int32))
    return jax.lax.fori_loop(0, k, pick, carry)[3]


def inverse_cdf_pick(weights: jax.Array, u: jax.Array) -> jax.Array:
    """int32[]: the first row whose cumulative weight exceeds u · total (u in [0, 1)):
    a draw with probability proportional to `weights` f32[P] (>= 0, some > 0)."""
    cumulative = jnp.cumsum(weights)
    return jnp.argmax(cumulative > u * cumulative[-1]).astype(jnp.int32)


def kmeanspp_picks(
    key: jax.Array, k: int, features: jax.Array, candidates: jax.Array
) -> jax.Array:
    """k-means++ seeding in P mode: the first pick uniform over the candidates, then
    each with probability proportional to its squared distance to the picks so far
    (uniform over the rest should all of them sit on picks); pick i draws
    u = uniform(fold_in(key, i)) and takes `inverse_cdf_pick`."""

    def pick(i, carry):
        min_sq, remaining, picks = carry
        # inf until the first pick: those weigh 0, and 0 weights mean uniform.
        weights = jnp.where(remaining & jnp.isfinite(min_sq), min_sq, 0.0)
        uniform = remaining.astype(jnp.float32)
        weights = jnp.where(jnp.sum(weights) > 0, weights, uniform)
        u = jax.random.uniform(jax.random.fold_in(key, i))
        index = inverse_cdf_pick(weights, u)
        min_sq = jnp.minimum(min_sq, squared_distances_to(features, features[index]))
        return min_sq, remaining.at[index].set(False), picks.at[i].set(index)

    min_sq = jnp.full(features.shape[0], jnp.inf, jnp.float32)
    carry = (min_sq, candidates, jnp.zeros(k, jnp.int32))
    return jax.lax.fori_loop(0, k, pick, carry)[2]


def maxdet_picks(
    k: int, features: jax.Array, candidates: jax.Array, sigma: float
) -> jax.Array:
    """Greedy determinant (P mode): argmax of k(x, x) + σ², then condition the
    features on the pick: φ ← φ − β (φ·φ_i) φ_i, β = 1 / (√d (√d + σ))."""
    diag = jnp.sum(jnp.square(features), axis=1) + sigma**2

    def pick(i, carry):
        features, diag, remaining, picks = carry
        index = jnp.argmax(jnp.where(remaining, diag, -jnp.inf)).astype(jnp.int32)
        entry = jnp.maximum(diag[index], 1e-30)
        root = jnp.sqrt(entry)
        beta = 1.0 / (root * (root + sigma))
        phi = features[index]
        dots = jnp.matmul(features, phi, precision=HIGHEST)
        features = features - (beta * dots)[:, None] * phi[None, :]
        diag = diag - jnp.square(dots) / entry
        return features, diag, remaining.at[index].set(False), picks.at[i].set(index)

    carry = (features, diag, candidates, jnp.zeros(k, jnp.int32))
    return jax.lax.fori_loop(0, k, pick, carry)[3]


def bait_picks(
    k: int,
    features: jax.Array,
    candidates: jax.Array,
    labelled: jax.Array,
    labelled_mask: jax.Array,
    sigma: float,
) -> jax.Array:
    """BAIT-F (forward greedy, P mode): argmax of φᵀ C φ / (k(x, x) + σ²), C the
    feature covariance over the candidates and the labelled rows; each pick
    conditions features, C and the numerators by rank-one updates."""
    features = jnp.where(candidates[:, None], features, 0.0)  # only candidates in C
    valid = jnp.where(labelled_mask[:, None], labelled, 0.0)
    cov = jnp.matmul(features.T, features, precision=HIGHEST) + jnp.matmul(
        valid.T, valid, precision=HIGHEST
    )
    diag = jnp.sum(jnp.square(features), axis=1)
    numerator = jnp.sum(jnp.matmul(features, cov, precision=HIGHEST) * features, axis=1)

    def pick(i, carry):
        features, cov, diag, numerator, remaining, picks = carry
        scores = numerator / (diag + sigma**2 + 1e-8)
        index = jnp.argmax(jnp.where(remaining, scores, -jnp.inf)).astype(jnp.int32)
        entry = diag[index] + sigma**2
        root = jnp.sqrt(entry)
        beta = 1.0 / (root * (root + sigma))
        phi = features[index]
        dots = jnp.matmul(features, phi, precision=HIGHEST)
        cov_phi = jnp.matmul(cov, phi, precision=HIGHEST)
        phi_cov_phi = numerator[index]
        numerator = (
            numerator
            - (2.0 / entry) * jnp.matmul(features, cov_phi, precision=HIGHEST) * dots
            + phi_cov_phi / entry**2 * jnp.square(dots)
        )
        outer = cov_phi[:, None] * phi[None, :]
        cov = (
            cov - beta * (outer + outer.T) + beta**2 * phi_cov_phi * jnp.outer(phi, phi)
        )
        features = features - (beta * dots)[:, None] * phi[None, :]
        diag = diag - jnp.square(dots) / entry
        return (
            features,
            cov,
            diag,
            numerator,
            remaining.at[index].set(False),
            picks.at[i].set(index),
        )

    carry = (features, cov, diag, numerator, candidates, jnp.zeros(k, jnp.int32))
    return jax.lax.fori_loop(0, k, pick, carry)[5]


# ---------------------------------------------------------------------------
# The registered methods.


def make_kernel_method(select_on_features, posterior: bool):
    """`make` of a method: features of the trained ensemble, then
    `select_on_features(ctx, key, k, pool_features, pool, labelled, state)`."""

    def make(ctx: Context) -> SelectFn:
        def select(key: jax.Array, pool: Pool, state: AcqState, k: int):
            key_kernel, key_select = jax.random.split(key)
            features, labelled = kernel_features(
                ctx, key_kernel, pool, state, posterior
            )
            return select_on_features(
                ctx, key_select, k, features, pool, labelled, state
            )

        return select

    return make


def _maxdist(ctx, key, k, features, pool, labelled, state):
    return greedy_max_min(k, pool.mask, [(features, labelled)], state.labelled_mask)


def _lcmd(ctx, key, k, features, pool, labelled, state):
    return lcmd_picks(k, features, pool.mask, labelled, state.labelled_mask)


def _kmeanspp(ctx, key, k, features, pool, labelled, state):
    return kmeanspp_picks(key, k, features, pool.mask)


def _maxdet(ctx, key, k, features, pool, labelled, state):
    return maxdet_picks(k, features, pool.mask, ctx.options["sigma"])


def _bait(ctx, key, k, features, pool, labelled, state):
    return bait_picks(
        k, features, pool.mask, labelled, state.labelled_mask, ctx.options["sigma"]
    )


LCMD = register(
    Acquisition(
        name="lcmd",
        make=make_kernel_method(_lcmd, posterior=False),
        description=(
            "LCMD (Holzmüller et al. 2023): farthest point of the largest cluster, "
            "TP mode, sketched gradient kernel"
        ),
        options=kernel_options(),
    )
)

BAIT = register(
    Acquisition(
        name="bait",
        make=make_kernel_method(_bait, posterior=True),
        description=(
            "BAIT-F (Ash et al. 2021; Holzmüller et al. 2023): greedy Fisher trace, "
            "P mode, posterior sketched gradient kernel"
        ),
        options=kernel_options(),
    )
)

KMEANSPP = register(
    Acquisition(
        name="kmeanspp",
        make=make_kernel_method(_kmeanspp, posterior=True),
        description=(
            "k-means++ seeding (BADGE-style; Holzmüller et al. 2023), P mode, "
            "posterior sketched gradient kernel"
        ),
        options=kernel_options(),
    )
)

MAXDET = register(
    Acquisition(
        name="maxdet",
        make=make_kernel_method(_maxdet, posterior=True),
        description=(
            "MaxDet (BatchBALD-like; Holzmüller et al. 2023): greedy posterior "
            "variance, P mode, posterior sketched gradient kernel"
        ),
        options=kernel_options(),
    )
)

MAXDIST = register(
    Acquisition(
        name="maxdist",
        make=make_kernel_method(_maxdist, posterior=False),
        description=(
            "MaxDist (Core-set in kernel space; Holzmüller et al. 2023): greedy "
            "max-min distance, TP mode, sketched gradient kernel"
        ),
        options=kernel_options(),
    )
)
