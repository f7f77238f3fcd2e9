"""Kernel batch methods for regression (Holzmüller, Zaverkin, Kästner & Steinwart,
JMLR 2023, "A Framework and Benchmark for Deep Batch Active Learning for Regression";
reference code: the `bmdal-reg` package): LCMD, BAIT-F, k-means++, MaxDet, MaxDist.

Each method runs the variant the paper recommends for ReLU networks (its
`run_evaluation.py`, the ReLU table), with the reference's settings for ReLU
(`get_relu_configs`: σ = 1e-3, float64 wherever a posterior transform or MaxDet /
BAIT is involved). Every method starts from the sketched gradient kernel of the
trained ensemble (`grad`, 512 features, each member with its own projections;
`jdal.acquisitions.kernels`), then:

| method | bmdal-reg name | transform of the kernel | mode | dtype |
|---|---|---|---|---|
| `lcmd` | lcmd-tp_grad_rp-512 | none | TP | f32 |
| `maxdist` | maxdist-p_grad_rp-512_train | scale, posterior σ | P | f64 |
| `kmeanspp` | kmeanspp-p_grad_rp-512_acs-rf-512 | scale, acs-rf (512, σ) | P | f64 |
| `maxdet` | maxdet-p_grad_rp-512_train | scale, posterior σ; + σ² | P | f64 |
| `bait` | bait-f-p_grad_rp-512_train | scale, posterior σ; noise σ² | P | f64 |

TP mode: the labelled points act as already selected. P mode: only pool points are
selected; the labelled points enter through the transform (scale(X_train), then the
Gaussian-process posterior post(X_train, σ²) or acs-rf).

The rules, with d(x, x')² = k(x, x) − 2 k(x, x') + k(x', x') in feature space:

- `maxdist` (Core-set in kernel space): the first pick has the largest k(x, x) (in P
  mode, the largest posterior variance), then greedy argmax of the distance to the
  picks (`jdal.acquisitions.greedy.greedy_max_min` on the features).
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

Where jdal differs from bmdal-reg: when a greedy rule runs out of positive scores
(the reference then fills the batch with random pool points) jdal keeps taking the
argmax; with σ > 0 and pools much larger than k this does not happen in practice.
The network's features are computed in float32 (the network is float32) and cast
to float64 for the transforms and the selection.

Each pick costs O(pool × features) (BAIT adds O(features²)); no [pool × pool]
matrix is formed. LCMD finds each pool point's nearest labelled point once per
step, O(pool × labelled × features). Distances come from coordinate differences,
and all matrix products run at full precision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Option,
    Pool,
    SelectFn,
    first_argmax,
    integer_option,
    pick_one_at_a_time,
    register,
)
from jdal.acquisitions.greedy import greedy_max_min
from jdal.acquisitions.kernels import (
    HIGHEST,
    acs_rf_features,
    gradient_features,
    last_layer_features,
    posterior_features,
    scale_to_labelled,
)
from jdal.metrics import map_rows

KERNELS = ("grad", "ll")
# The transforms of the kernel a method may run on (`make_kernel_method`).
TRANSFORMS = (None, "posterior", "acs_rf")
# bmdal-reg's posterior noise for ReLU networks (run_experiments.get_relu_configs:
# post_sigma = maxdet_sigma = bait_sigma = 1e-3).
SIGMA = 1e-3


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def kernel_options(transform: str | None) -> dict[str, Option]:
    """The options of a method on `transform`: the base kernel and its sketch size;
    σ for the transforms; acs-rf's number of random features."""
    options = {
        "kernel": Option("grad", f"one of {', '.join(KERNELS)}", KERNELS.__contains__),
        "sketch_dim": integer_option(512, 1),
    }
    if transform is not None:
        options["sigma"] = Option(SIGMA, "a number > 0", _positive_number)
    if transform == "acs_rf":
        options["rf_dim"] = integer_option(512, 1)
    return options


def kernel_features(
    ctx: Context, key: jax.Array, pool: Pool, state: AcqState
) -> tuple[jax.Array, jax.Array]:
    """(pool features f32[P, m], labelled features f32[N, m]) of the base kernel."""
    options = ctx.options
    features_of = {"grad": gradient_features, "ll": last_layer_features}
    x = jnp.concatenate([pool.x, state.labelled_x])
    features = features_of[options["kernel"]](
        ctx.ensemble, state.ensemble, x, key, options["sketch_dim"]
    )
    return features[: pool.x.shape[0]], features[pool.x.shape[0] :]


def transformed_features(
    transform: str | None,
    options,
    key: jax.Array,
    features: jax.Array,
    labelled: jax.Array,
    labelled_mask: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """(pool, labelled) features after `transform`, in the features' dtype:
    scale(X_train) then post(X_train, σ²) ("posterior") or acs-rf ("acs_rf"; the
    labelled rows are then returned unchanged, P-mode methods only use the pool's)."""
    if transform is None:
        return features, labelled
    features, labelled = scale_to_labelled(features, labelled, labelled_mask)
    sigma = options["sigma"]
    if transform == "posterior":
        return posterior_features(features, labelled, labelled_mask, sigma)
    # Drawn in float32 and cast: 64-bit random bits do not lower inside enable_x64.
    shape = (features.shape[1], options["rf_dim"])
    noise = jax.random.normal(key, shape, jnp.float32).astype(features.dtype)
    return acs_rf_features(features, labelled, labelled_mask, sigma, noise), labelled


def squared_distances_to(points: jax.Array, point: jax.Array) -> jax.Array:
    """f32[n]: squared Euclidean distance of every row of `points` to `point`."""
    return jnp.sum(jnp.square(points - point[None, :]), axis=-1)


# ---------------------------------------------------------------------------
# Selection on features. Each takes pool features f32[P, m] and candidates
# bool[P] and returns int32[k] distinct candidate rows in pick order.


class Clusters(NamedTuple):
    """LCMD's state: each row's squared distance f32[P] to its centre and the
    centre's id int32[P] (labelled rows 0..N−1, then the picks)."""

    min_sq: jax.Array
    centre: jax.Array


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

    clusters = Clusters(*map_rows(nearest_labelled, (features,), labelled.size))

    def choose(i, clusters: Clusters, remaining):
        weight = jnp.where(candidates, clusters.min_sq, 0.0)  # padding weighs 0
        size = jax.ops.segment_sum(weight, clusters.centre, num_segments=n_labelled + k)
        in_largest = size[clusters.centre] == jnp.max(size)
        return first_argmax(
            jnp.where(remaining & in_largest, clusters.min_sq, -jnp.inf)
        )

    def update(i, clusters: Clusters, index) -> Clusters:
        distances = squared_distances_to(features, features[index])
        closer = distances < clusters.min_sq  # strict: the earlier centre keeps ties
        return Clusters(
            min_sq=jnp.where(closer, distances, clusters.min_sq),
            centre=jnp.where(closer, n_labelled + i, clusters.centre),
        )

    return pick_one_at_a_time(k, candidates, clusters, choose, update)


def inverse_cdf_pick(weights: jax.Array, u: jax.Array) -> jax.Array:
    """int32[]: the first row whose cumulative weight exceeds u · total (u in [0, 1)):
    a draw with probability proportional to `weights` f32[P] (>= 0, some > 0)."""
    cumulative = jnp.cumsum(weights)
    return first_argmax((cumulative > u * cumulative[-1]).astype(jnp.int32))


def kmeanspp_picks(
    key: jax.Array, k: int, features: jax.Array, candidates: jax.Array
) -> jax.Array:
    """k-means++ seeding in P mode: the first pick uniform over the candidates, then
    each with probability proportional to its squared distance to the picks so far
    (uniform over the rest should all of them sit on picks); pick i draws
    u = uniform(fold_in(key, i)) and takes `inverse_cdf_pick`."""

    def choose(i, min_sq, remaining):
        # inf until the first pick: those weigh 0, and 0 weights mean uniform.
        weights = jnp.where(remaining & jnp.isfinite(min_sq), min_sq, 0.0)
        uniform = remaining.astype(jnp.float32)
        weights = jnp.where(jnp.sum(weights) > 0, weights, uniform)
        # float32 draws inside and outside float64 mode: the same u either way.
        u = jax.random.uniform(jax.random.fold_in(key, i), dtype=jnp.float32)
        return inverse_cdf_pick(weights, u)

    def update(i, min_sq, index):
        return jnp.minimum(min_sq, squared_distances_to(features, features[index]))

    min_sq = jnp.full(features.shape[0], jnp.inf, features.dtype)
    return pick_one_at_a_time(k, candidates, min_sq, choose, update)


def maxdist_picks(k: int, features: jax.Array, candidates: jax.Array) -> jax.Array:
    """MaxDist in P mode: the candidate of largest k(x, x) first, then greedy
    max-min distance to the picks."""
    diag = jnp.sum(jnp.square(features), axis=1)

    def score(min_dist, remaining):
        # Before the first pick every distance is inf (no centres yet).
        return jnp.where(jnp.isinf(min_dist), diag, min_dist)

    no_labelled = features[:1]  # a placeholder centre that never counts
    return greedy_max_min(
        k, candidates, [(features, no_labelled)], jnp.zeros(1, bool), score
    )


class Conditioned(NamedTuple):
    """Features f32[P, m] and their posterior variances f32[P] (k(x, x), plus σ²
    for maxdet), conditioned on the picks so far."""

    features: jax.Array
    diag: jax.Array


class RankOne(NamedTuple):
    """`condition_on_pick`'s result: the conditioned state and the pieces of the
    update (the pick's features phi f32[m], every row's φ·phi f32[P], β)."""

    state: Conditioned
    phi: jax.Array
    dots: jax.Array
    beta: jax.Array


def condition_on_pick(
    state: Conditioned, index: jax.Array, entry: jax.Array, sigma: float
) -> RankOne:
    """Conditions on row `index`, whose variance plus noise is `entry`: φ ← φ − β
    (φ·φ_i) φ_i with β = 1 / (√e (√e + σ)), and diag ← diag − (φ·φ_i)² / e. The
    rank-one update maxdet and bait share."""
    root = jnp.sqrt(entry)
    beta = 1.0 / (root * (root + sigma))
    phi = state.features[index]
    dots = jnp.matmul(state.features, phi, precision=HIGHEST)
    features = state.features - (beta * dots)[:, None] * phi[None, :]
    diag = state.diag - jnp.square(dots) / entry
    return RankOne(Conditioned(features, diag), phi, dots, beta)


def maxdet_picks(
    k: int, features: jax.Array, candidates: jax.Array, sigma: float
) -> jax.Array:
    """Greedy determinant (P mode): argmax of k(x, x) + σ², then condition the
    features on the pick: φ ← φ − β (φ·φ_i) φ_i, β = 1 / (√d (√d + σ))."""
    diag = jnp.sum(jnp.square(features), axis=1) + sigma**2

    def choose(i, state: Conditioned, remaining):
        return first_argmax(jnp.where(remaining, state.diag, -jnp.inf))

    def update(i, state: Conditioned, index) -> Conditioned:
        entry = jnp.maximum(state.diag[index], 1e-30)
        return condition_on_pick(state, index, entry, sigma).state

    state = Conditioned(features, diag)
    return pick_one_at_a_time(k, candidates, state, choose, update)


class BaitState(NamedTuple):
    """BAIT's state: the conditioned features and variances, the covariance C
    f32[m, m] and each row's numerator φᵀ C φ f32[P]."""

    conditioned: Conditioned
    cov: jax.Array
    numerator: jax.Array


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

    def choose(i, state: BaitState, remaining):
        scores = state.numerator / (state.conditioned.diag + sigma**2 + 1e-8)
        return first_argmax(jnp.where(remaining, scores, -jnp.inf))

    def update(i, state: BaitState, index) -> BaitState:
        features = state.conditioned.features  # before conditioning on the pick
        entry = state.conditioned.diag[index] + sigma**2
        step = condition_on_pick(state.conditioned, index, entry, sigma)
        phi, dots, beta = step.phi, step.dots, step.beta
        cov_phi = jnp.matmul(state.cov, phi, precision=HIGHEST)
        phi_cov_phi = state.numerator[index]
        numerator = (
            state.numerator
            - (2.0 / entry) * jnp.matmul(features, cov_phi, precision=HIGHEST) * dots
            + phi_cov_phi / entry**2 * jnp.square(dots)
        )
        outer = cov_phi[:, None] * phi[None, :]
        cov = (
            state.cov
            - beta * (outer + outer.T)
            + beta**2 * phi_cov_phi * jnp.outer(phi, phi)
        )
        return BaitState(step.state, cov, numerator)

    state = BaitState(Conditioned(features, diag), cov, numerator)
    return pick_one_at_a_time(k, candidates, state, choose, update)


# ---------------------------------------------------------------------------
# The registered methods.


# The selection on features of each method: (options, key, k, pool features [P, m],
# candidates bool[P], labelled features [N, m], labelled mask bool[N]) -> int32[k].
SelectOnFeatures = Callable[..., jax.Array]


class KernelVariant(NamedTuple):
    """One kernel batch method: its selection rule and the transform it runs on."""

    select: SelectOnFeatures
    transform: str | None


VARIANTS: dict[str, KernelVariant] = {
    "lcmd": KernelVariant(
        lambda o, key, k, f, c, lab, lab_mask: lcmd_picks(k, f, c, lab, lab_mask), None
    ),
    "maxdist": KernelVariant(
        lambda o, key, k, f, c, lab, lab_mask: maxdist_picks(k, f, c), "posterior"
    ),
    "kmeanspp": KernelVariant(
        lambda o, key, k, f, c, lab, lab_mask: kmeanspp_picks(key, k, f, c), "acs_rf"
    ),
    "maxdet": KernelVariant(
        lambda o, key, k, f, c, lab, lab_mask: maxdet_picks(k, f, c, o["sigma"]),
        "posterior",
    ),
    "bait": KernelVariant(
        lambda o, key, k, f, c, lab, lab_mask: bait_picks(
            k, f, c, lab, lab_mask, o["sigma"]
        ),
        "posterior",
    ),
}


def pick_on_features(
    name: str,
    options,
    key: jax.Array,
    k: int,
    features: jax.Array,
    candidates: jax.Array,
    labelled: jax.Array,
    labelled_mask: jax.Array,
) -> jax.Array:
    """int32[k]: method `name`'s picks given the base kernel's pool features
    f32[P, m] (candidates bool[P]) and labelled features f32[N, m] (labelled_mask
    bool[N]). With a transform, the transform and the selection run in float64 (as
    bmdal-reg does with allow_float64)."""
    variant = VARIANTS[name]
    key_transform, key_select = jax.random.split(key)
    if variant.transform is None:
        return variant.select(
            options, key_select, k, features, candidates, labelled, labelled_mask
        )
    # Tracing inside enable_x64 puts float64 operations in the program whatever the
    # global setting (the program must be traced as a whole, as make_run's jit of
    # a vmap is, not vmapped after a jit).
    with jax.enable_x64(True):
        features, labelled = transformed_features(
            variant.transform,
            options,
            key_transform,
            features.astype(jnp.float64),
            labelled.astype(jnp.float64),
            labelled_mask,
        )
        picks = variant.select(
            options, key_select, k, features, candidates, labelled, labelled_mask
        )
        return picks.astype(jnp.int32)


def make_kernel_method(name: str):
    """`make` of kernel method `name`: the base kernel's features of the trained
    ensemble, then `pick_on_features`."""

    def make(ctx: Context) -> SelectFn:
        def select(key: jax.Array, pool: Pool, state: AcqState, k: int):
            key_kernel, key_pick = jax.random.split(key)
            features, labelled = kernel_features(ctx, key_kernel, pool, state)
            return pick_on_features(
                name,
                ctx.options,
                key_pick,
                k,
                features,
                pool.mask,
                labelled,
                state.labelled_mask,
            )

        return select

    return make


def kernel_method(name: str, description: str) -> Acquisition:
    """Registers kernel batch method `name` (a key of VARIANTS)."""
    return register(
        Acquisition(
            name=name,
            make=make_kernel_method(name),
            description=description,
            options=kernel_options(VARIANTS[name].transform),
        )
    )


LCMD = kernel_method(
    "lcmd",
    "LCMD (Holzmüller et al. 2023): farthest point of the largest cluster, TP mode, "
    "sketched gradient kernel (lcmd-tp_grad_rp-512)",
)
BAIT = kernel_method(
    "bait",
    "BAIT-F (Ash et al. 2021; Holzmüller et al. 2023): greedy Fisher trace, P mode, "
    "posterior sketched gradient kernel (bait-f-p_grad_rp-512_train)",
)
KMEANSPP = kernel_method(
    "kmeanspp",
    "k-means++ seeding (BADGE-style; Holzmüller et al. 2023), P mode, acs-rf "
    "features of the sketched gradient kernel (kmeanspp-p_grad_rp-512_acs-rf-512)",
)
MAXDET = kernel_method(
    "maxdet",
    "MaxDet (BatchBALD-like; Holzmüller et al. 2023): greedy posterior variance, "
    "P mode, posterior sketched gradient kernel (maxdet-p_grad_rp-512_train)",
)
MAXDIST = kernel_method(
    "maxdist",
    "MaxDist (Core-set in kernel space; Holzmüller et al. 2023): greedy max-min "
    "distance, P mode, posterior sketched gradient kernel "
    "(maxdist-p_grad_rp-512_train)",
)

# The kernel batch methods (Holzmüller et al. 2023), beyond the study's ten: plots
# show them in a panel of their own.
KERNEL_METHODS = tuple(m.name for m in (LCMD, BAIT, KMEANSPP, MAXDET, MAXDIST))
