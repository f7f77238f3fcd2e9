"""Oracle references: upper bounds that peek at the labels (never shown as methods)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import AcqState, Acquisition, Context, pool_mask, top_k


def make_mse(ctx: Context):
    """Top-k true squared error of the ensemble mean (labels the whole pool)."""
    label = ctx.problem.label
    predict = ctx.ensemble.predict

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        mean = jnp.mean(predict(state.ensemble, pool_x), axis=0)
        error = jnp.mean(jnp.square(mean - label(pool_x)), axis=-1)
        return top_k(error, k, pool_mask(pool_x, state))

    return select


MSE = Acquisition(
    name="mse",
    make=make_mse,
    description="Oracle reference: top-k true squared error of the ensemble mean",
    reference=True,
)
