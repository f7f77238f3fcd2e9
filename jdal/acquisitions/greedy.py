"""Greedy-sampling family (Wu, Lin & Huang 2019): diversity in x, y or both.

One routine, `greedy_max_min`, picks one candidate at a time, adds it to the
labelled set and updates a running minimum distance of the remaining candidates
(O(P) per pick, never an O(P^2) matrix). The methods differ only in the space the
distance is measured in: x (gsx), the output (gsy), or the product of both (gsxy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Pool,
    SelectFn,
    ensemble_mean,
    first_argmax,
    pick_one_at_a_time,
    register,
)
from jdal.metrics import distances_to, map_rows

# One space of a greedy distance: (pool points f32[P, c], labelled points f32[N, c]).
Space = tuple[jax.Array, jax.Array]


def greedy_max_min(
    k: int,
    candidates: jax.Array,
    spaces: Sequence[Space],
    labelled_mask: jax.Array,
    score: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
) -> jax.Array:
    """int32[k] distinct pool rows, in pick order, by greedy max-min distance.

    The distance of two points is the product over `spaces` of their Euclidean
    distances in each (one space: plain distance), computed from differences. Each
    pick is the argmax of `score(min_dist, remaining)` over the remaining
    candidates, min_dist f32[P] being each candidate's distance to labelled ∪
    picked (default score: min_dist itself); the pick then joins the labelled set.

    candidates: bool[P] rows that may be picked (the pool's mask).
    labelled_mask: bool[N] which labelled rows count.
    """

    def distance_to_labelled(*points):
        product = None
        for point, (_, labelled) in zip(points, spaces, strict=True):
            distance = distances_to(labelled, point)
            product = distance if product is None else product * distance
        return jnp.min(jnp.where(labelled_mask, product, jnp.inf))

    def distance_to_pick(index):
        product = None
        for pool_points, _ in spaces:
            distance = distances_to(pool_points, pool_points[index])
            product = distance if product is None else product * distance
        return product

    labelled_size = sum(labelled.size for _, labelled in spaces)
    min_dist = map_rows(
        distance_to_labelled, tuple(p for p, _ in spaces), labelled_size
    )
    score = score or (lambda dist, remaining: dist)

    def choose(i, min_dist, remaining):
        return first_argmax(jnp.where(remaining, score(min_dist, remaining), -jnp.inf))

    def update(i, min_dist, index):
        return jnp.minimum(min_dist, distance_to_pick(index))

    return pick_one_at_a_time(k, candidates, min_dist, choose, update)


def greedy_method(spaces: Callable[[Context, Pool, AcqState], Sequence[Space]]):
    """`make` of a greedy max-min method measuring distance in `spaces(ctx, pool,
    state)`."""

    def make(ctx: Context) -> SelectFn:
        def select(key: jax.Array, pool: Pool, state: AcqState, k: int):
            del key
            return greedy_max_min(
                k, pool.mask, spaces(ctx, pool, state), state.labelled_mask
            )

        return select

    return make


def x_space(ctx: Context, pool: Pool, state: AcqState) -> list[Space]:
    """Input space: pool x against labelled x."""
    return [(pool.x, state.labelled_x)]


def y_space(ctx: Context, pool: Pool, state: AcqState) -> list[Space]:
    """Output space: a candidate's predicted ŷ (ensemble mean) against the labelled
    rows' true y; a picked candidate has no label yet, so it joins with its ŷ
    (Wu, Lin & Huang label one point at a time; this is the batch version)."""
    return [(ensemble_mean(ctx, state, pool.x), state.labelled_y)]


def xy_space(ctx: Context, pool: Pool, state: AcqState) -> list[Space]:
    """Both: the distance is ‖x − x'‖ · ‖ŷ − y'‖ per pair, then the minimum, exactly
    iGS of Wu, Lin & Huang (2019)."""
    return x_space(ctx, pool, state) + y_space(ctx, pool, state)


GSX = register(
    Acquisition(
        name="gsx",
        make=greedy_method(x_space),
        description=(
            "GSx (Wu et al. 2019; core-set k-centre): greedy max-min distance in x"
        ),
    )
)

GSY = register(
    Acquisition(
        name="gsy",
        make=greedy_method(y_space),
        description="GSy (Wu et al. 2019): greedy max-min distance in predicted y",
    )
)

GSXY = register(
    Acquisition(
        name="gsxy",
        make=greedy_method(xy_space),
        description="iGS / GSxy (Wu et al. 2019): greedy max-min of ‖Δx‖·‖Δy‖",
    )
)
