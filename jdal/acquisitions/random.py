"""Random sampling: the baseline every method is scored against."""

from __future__ import annotations

import jax

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Pool,
    register,
    top_k_method,
)
from jdal.rng import prefix_uniform


def make_uniform_scores(ctx: Context):
    """score(key, pool, state) -> f32[P] i.i.d. uniform: the k largest are a uniform
    k-subset of the candidates. Per-row draws, so a padded pool picks what the
    unpadded one would."""
    del ctx

    def uniform_scores(key: jax.Array, pool: Pool, state: AcqState) -> jax.Array:
        del state
        return prefix_uniform(key, pool.x.shape[0])

    return uniform_scores


RANDOM = register(
    Acquisition(
        name="random",
        make=top_k_method(make_uniform_scores),
        description="Random sampling: k uniform points (ignores gamma)",
        uses_pool=False,
    )
)
