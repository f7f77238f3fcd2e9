"""What every acquisition shares: its signature, its state and small score helpers.

An acquisition is a pure function with one signature,

    select(key, pool_x: f32[P, d], state: AcqState, k: int) -> int32[k]  (indices)
                                                               or f32[k, d] (points)

made by a factory `make(ctx: Context) -> select` that binds the model-specific
callables (the ensemble's `predict`, the oracle, settings) with closures, so the
selection itself stays a pure function of arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jdal.config import Config
from jdal.models.ensemble import Ensemble, EnsembleState, MemberHead, SideModel
from jdal.problems import Problem

SelectFn = Callable[[jax.Array, jax.Array, "AcqState", int], jax.Array]


class AcqState(NamedTuple):
    """What an acquisition may look at, all arrays (vmap- and jit-friendly).

    labelled_x: f32[N, d] fixed-capacity buffer; rows >= n_labelled are padding.
    labelled_y: f32[N, dy] true labels of the buffer rows.
    n_labelled: int32[] number of valid rows.
    ensemble: the trained `EnsembleState` (params, batch stats, side model).
    pool_size: int32[] number of valid pool rows, or None (the default) when every
      row is valid. A γ grid pads every pool to the largest γ; the pool of γ is
      then the first γ k rows, and an acquisition must pick among those only and
      compute pool statistics (normalisation, density, means) over them: use
      `pool_mask`, and pass it to `top_k`, `greedy_picks` and `minmax`.
    """

    labelled_x: jax.Array
    labelled_y: jax.Array
    n_labelled: jax.Array
    ensemble: EnsembleState
    pool_size: jax.Array | None = None


class Context(NamedTuple):
    """Static things a factory may bind: the problem, the config, the ensemble."""

    problem: Problem
    cfg: Config
    ensemble: Ensemble


class Acquisition(NamedTuple):
    """A registry entry.

    name: id used by configs and the CLI.
    make: `Context -> SelectFn`.
    description: one line with the source and the rule.
    returns_points: True for query synthesis (returns f32[k, d]).
    reference: True for oracle references (shown apart, never as a competitor).
    uses_pool: False when the method ignores gamma (random, query synthesis): a
      sweep runs it once per problem.
    make_head / make_side: `(Problem, Config) -> MemberHead / SideModel` for methods
      with extra trained parts; None costs nothing for the others.
    """

    name: str
    make: Callable[[Context], SelectFn]
    description: str
    returns_points: bool = False
    reference: bool = False
    uses_pool: bool = True
    make_head: Callable[[Problem, Config], MemberHead] | None = None
    make_side: Callable[[Problem, Config], SideModel] | None = None


# ---------------------------------------------------------------------------
# Score helpers shared by the families.


def valid_rows(state: AcqState) -> jax.Array:
    """bool[N]: which buffer rows are labelled."""
    return jnp.arange(state.labelled_x.shape[0]) < state.n_labelled


def pool_mask(pool_x: jax.Array, state: AcqState) -> jax.Array:
    """bool[P]: which pool rows are real candidates (all unless `state.pool_size`)."""
    rows = jnp.arange(pool_x.shape[0])
    if state.pool_size is None:
        return jnp.ones(rows.shape, bool)
    return rows < state.pool_size


def masked_mean(values: jax.Array, mask: jax.Array, axis: int) -> jax.Array:
    """Mean of `values` over the masked-in entries along `axis` (mask: bool[n])."""
    shape = [1] * values.ndim
    shape[axis] = mask.shape[0]
    weight = mask.astype(values.dtype).reshape(shape)
    total = jnp.sum(values * weight, axis=axis)
    return total / jnp.maximum(jnp.sum(weight), 1.0)


def member_variance(preds: jax.Array) -> jax.Array:
    """Population variance over members, mean over outputs: f32[M, P, dy] -> f32[P]."""
    return jnp.mean(jnp.var(preds, axis=0), axis=-1)


def minmax(values: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Min-max normalisation to [0, 1] over the masked-in entries (0 if constant)."""
    if mask is None:
        mask = jnp.ones(values.shape, bool)
    lo = jnp.min(jnp.where(mask, values, jnp.inf))
    hi = jnp.max(jnp.where(mask, values, -jnp.inf))
    span = hi - lo
    return jnp.where(span > 0, (values - lo) / jnp.where(span > 0, span, 1.0), 0.0)


def top_k(scores: jax.Array, k: int, mask: jax.Array | None = None) -> jax.Array:
    """int32[k] indices of the k largest scores among the masked-in entries.

    Distinct by construction; `mask` (bool[P], default all) must hold >= k entries.
    """
    if mask is not None:
        scores = jnp.where(mask, scores, -jnp.inf)
    return jax.lax.top_k(scores, k)[1].astype(jnp.int32)


def greedy_picks(
    k: int,
    min_dist: jax.Array,
    dist_to: Callable[[jax.Array], jax.Array],
    score: Callable[[jax.Array, jax.Array], jax.Array],
    candidates: jax.Array | None = None,
) -> jax.Array:
    """Greedy batch selection with a running minimum distance, O(P) per pick.

    Args:
      k: number of picks.
      min_dist: f32[P] distance of every candidate to the labelled set.
      dist_to: index -> f32[P], distance of every candidate to that candidate
        (it joins the "labelled" set once picked).
      score: (min_dist f32[P], remaining bool[P]) -> f32[P]; argmax is picked.
      candidates: bool[P] rows that may be picked (default all; see `pool_mask`).

    Returns:
      int32[k] distinct indices in pick order.
    """
    n_pool = min_dist.shape[0]

    def pick(i, carry):
        min_dist, remaining, picks = carry
        scores = jnp.where(remaining, score(min_dist, remaining), -jnp.inf)
        index = jnp.argmax(scores).astype(jnp.int32)
        min_dist = jnp.minimum(min_dist, dist_to(index))
        return min_dist, remaining.at[index].set(False), picks.at[i].set(index)

    remaining = jnp.ones(n_pool, bool) if candidates is None else candidates
    carry = (min_dist, remaining, jnp.zeros(k, jnp.int32))
    return jax.lax.fori_loop(0, k, pick, carry)[2]
