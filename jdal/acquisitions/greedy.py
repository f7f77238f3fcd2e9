"""Greedy-sampling family (Wu, Lin & Huang 2019): diversity in x, y or both.

Every method picks one candidate at a time, adds it to the labelled set and updates
a running minimum distance of the remaining candidates (O(P) per pick, never an
O(P^2) matrix per pick).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    greedy_picks,
    min_dist_to_rows,
    pairwise_sq_dist,
    pool_mask,
    valid_rows,
)


def distance_to_row(points: jax.Array, index: jax.Array) -> jax.Array:
    """f32[P]: Euclidean distance of every row of `points` f32[P, c] to row `index`."""
    return jnp.sqrt(jnp.sum(jnp.square(points - points[index][None, :]), axis=-1))


def make_gsx(ctx: Context):
    """GSx / core-set greedy k-centre: argmax of min x-distance to labelled ∪ picked."""
    del ctx

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        min_dist = min_dist_to_rows(pool_x, state.labelled_x, valid_rows(state))
        return greedy_picks(
            k,
            min_dist,
            dist_to=lambda i: distance_to_row(pool_x, i),
            score=lambda dist, remaining: dist,
            candidates=pool_mask(pool_x, state),
        )

    return select


def ensemble_mean(ctx: Context, state: AcqState, pool_x: jax.Array) -> jax.Array:
    """f32[P, dy]: the ensemble's prediction (member mean) on the pool."""
    return jnp.mean(ctx.ensemble.predict(state.ensemble, pool_x), axis=0)


def make_gsy(ctx: Context):
    """GSy: greedy argmax of min distance in y to labelled (true y) ∪ picked (ŷ).

    A candidate's output is the ensemble mean ŷ. The labelled rows contribute their
    true labels; a picked candidate has no label yet, so it joins with its predicted
    ŷ (Wu, Lin & Huang 2019 label one point at a time; this is the batch version).
    """

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        pool_y = ensemble_mean(ctx, state, pool_x)
        min_dist = min_dist_to_rows(pool_y, state.labelled_y, valid_rows(state))
        return greedy_picks(
            k,
            min_dist,
            dist_to=lambda i: distance_to_row(pool_y, i),
            score=lambda dist, remaining: dist,
            candidates=pool_mask(pool_x, state),
        )

    return select


def make_gsxy(ctx: Context):
    """iGS / GSxy: greedy argmax of min over labelled ∪ picked of ‖x − xl‖ · ‖ŷ − yl‖.

    ŷ is the ensemble mean; yl is the true label of a labelled row and the predicted
    ŷ of a picked candidate (as in `gsy`). The product is taken per pair, then the
    minimum, exactly iGS of Wu, Lin & Huang (2019); the one-off [P, N] matrices use
    matmul distances (no [P, N, dy] tensor).
    """

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        pool_y = ensemble_mean(ctx, state, pool_x)
        dist_x = jnp.sqrt(pairwise_sq_dist(pool_x, state.labelled_x))
        dist_y = jnp.sqrt(pairwise_sq_dist(pool_y, state.labelled_y))
        product = jnp.where(valid_rows(state)[None, :], dist_x * dist_y, jnp.inf)
        return greedy_picks(
            k,
            jnp.min(product, axis=1),
            dist_to=lambda i: distance_to_row(pool_x, i) * distance_to_row(pool_y, i),
            score=lambda dist, remaining: dist,
            candidates=pool_mask(pool_x, state),
        )

    return select


GSX = Acquisition(
    name="gsx",
    make=make_gsx,
    description="GSx (Wu et al. 2019; core-set k-centre): greedy max-min distance in x",
)

GSY = Acquisition(
    name="gsy",
    make=make_gsy,
    description="GSy (Wu et al. 2019): greedy max-min distance in predicted y",
)

GSXY = Acquisition(
    name="gsxy",
    make=make_gsxy,
    description="iGS / GSxy (Wu et al. 2019): greedy max-min of ‖Δx‖·‖Δy‖",
)
