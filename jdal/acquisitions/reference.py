"""Oracle references: upper bounds that peek at the labels (never shown as methods)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Pool,
    ensemble_mean,
    register,
    top_k_method,
)


def make_true_error(ctx: Context):
    """score(key, pool, state) -> f32[P]: true squared error of the ensemble mean
    (labels the whole pool)."""
    label = ctx.problem.label

    def true_error(key: jax.Array, pool: Pool, state: AcqState) -> jax.Array:
        del key
        error = ensemble_mean(ctx, state, pool.x) - label(pool.x)
        return jnp.mean(jnp.square(error), axis=-1)

    return true_error


MSE = register(
    Acquisition(
        name="mse",
        make=top_k_method(make_true_error),
        description="Oracle reference: top-k true squared error of the ensemble mean",
        reference=True,
    )
)
