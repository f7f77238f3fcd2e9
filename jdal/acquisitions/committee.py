"""Query-by-committee family: the ensemble's disagreement (variance) as the score.

`qbc` ranks by variance alone; `qbc_div` and `qbc_div_den` (Kee, del Castillo &
Runger 2018) mix it with diversity (distance in x to labelled ∪ picked, greedy) and
density (similarity to the nearest pool neighbours), each min-max normalised.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    greedy_picks,
    member_variance,
    min_dist_to_rows,
    minmax,
    pairwise_sq_dist,
    pool_mask,
    top_k,
    valid_rows,
)
from jdal.acquisitions.greedy import distance_to_row


def make_qbc(ctx: Context):
    """Top-k ensemble variance (population variance over members, mean over outputs)."""
    predict = ctx.ensemble.predict

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        variance = member_variance(predict(state.ensemble, pool_x))
        return top_k(variance, k, pool_mask(pool_x, state))

    return select


def knn_density(
    pool_x: jax.Array, n_neighbours: int, mask: jax.Array | None = None
) -> jax.Array:
    """f32[P]: mean similarity 1 / (1 + ‖x − x'‖) to the `n_neighbours` nearest others.

    High in dense regions. The similarity needs no bandwidth: every input lives in
    [-1, 1]^d, so distances have a fixed scale. One [P, P] matrix per AL step.
    Neighbours are masked-in rows only (`mask` bool[P], default all).
    """
    sq = pairwise_sq_dist(pool_x, pool_x)
    others = ~jnp.eye(pool_x.shape[0], dtype=bool)  # not itself
    if mask is not None:
        others = others & mask[None, :]
    sq = jnp.where(others, sq, jnp.inf)
    nearest_sq = -jax.lax.top_k(-sq, n_neighbours)[0]
    return jnp.mean(1.0 / (1.0 + jnp.sqrt(nearest_sq)), axis=1)


def greedy_mixture(
    pool_x: jax.Array,
    state: AcqState,
    k: int,
    fixed_score: jax.Array,
    diversity_weight: float,
) -> jax.Array:
    """int32[k]: greedy argmax of fixed_score + w · N(x-distance to labelled ∪ picked).

    `fixed_score` f32[P] (already normalised, weighted terms that do not change
    between picks); the distance term is re-normalised over the remaining pool at
    every pick.
    """
    min_dist = min_dist_to_rows(pool_x, state.labelled_x, valid_rows(state))
    return greedy_picks(
        k,
        min_dist,
        dist_to=lambda i: distance_to_row(pool_x, i),
        score=lambda dist, remaining: (
            fixed_score + diversity_weight * minmax(dist, remaining)
        ),
        candidates=pool_mask(pool_x, state),
    )


def make_qbc_div(ctx: Context):
    """QBC + diversity (Kee et al. 2018): greedy 0.5·N(var) + 0.5·N(min x-distance).

    N(var) is normalised once over the whole pool (variance does not change between
    picks); N(distance) over the remaining pool at every pick, the distance being to
    labelled ∪ picked.
    """
    predict = ctx.ensemble.predict

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        variance = member_variance(predict(state.ensemble, pool_x))
        fixed = 0.5 * minmax(variance, pool_mask(pool_x, state))
        return greedy_mixture(pool_x, state, k, fixed, 0.5)

    return select


def make_qbc_div_den(ctx: Context):
    """QBC-div-den (Kee et al. 2018): 0.34 N(var) + 0.33 N(div) + 0.33 N(den).

    Density is the mean similarity 1 / (1 + distance) of a candidate to its
    `cfg.density_neighbours` (10) nearest pool neighbours, computed once per AL step.
    Variance and density are normalised once over the whole pool (they do not change
    between picks); diversity as in `qbc_div`, re-normalised every pick.
    """
    predict = ctx.ensemble.predict
    n_neighbours = ctx.cfg.density_neighbours

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        mask = pool_mask(pool_x, state)
        variance = member_variance(predict(state.ensemble, pool_x))
        density = knn_density(pool_x, n_neighbours, mask)
        fixed = 0.34 * minmax(variance, mask) + 0.33 * minmax(density, mask)
        return greedy_mixture(pool_x, state, k, fixed, 0.33)

    return select


QBC = Acquisition(
    name="qbc",
    make=make_qbc,
    description="QBC (Seung et al. 1992; Burbidge et al. 2007): top-k member variance",
)

QBC_DIV = Acquisition(
    name="qbc_div",
    make=make_qbc_div,
    description="QBC + diversity (Kee et al. 2018): greedy 0.5 N(var) + 0.5 N(dist x)",
)

QBC_DIV_DEN = Acquisition(
    name="qbc_div_den",
    make=make_qbc_div_den,
    description=(
        "QBC + diversity + density (Kee et al. 2018): greedy "
        "0.34 N(var) + 0.33 N(dist x) + 0.33 N(kNN density)"
    ),
)
