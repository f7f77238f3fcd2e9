"""BALD by Monte-Carlo dropout (Tsymbalov, Panov & Shapeev 2018, "Dropout-based
active learning for regression"; Gal, Islam & Ghahramani 2017).

An auxiliary dropout MLP (the member's hidden widths ÷ √10, rounded down; Dense →
ReLU → Dropout blocks, rate `bald.dropout` = 0.5, no BatchNorm; every Dense
with PyTorch's default initialisation, weights and biases U(±1/√fan_in)) is trained
alongside the ensemble as a `SideModel` (same minibatches, optimiser, learning rate
and plateau schedule, inside the same compiled training step). At acquisition,
dropout stays on: the score of a candidate is the population variance of its
prediction over `bald.passes` (25) stochastic passes, averaged over outputs; the
top k are picked. The ensemble itself is not used to select, only to report test
MSE.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Pool,
    integer_option,
    number_option,
    register,
    top_k_method,
)
from jdal.config import Config, OptionValue
from jdal.metrics import masked_mean
from jdal.models.ensemble import SideModel, make_module
from jdal.models.mlp import PRECISION_SETTINGS, torch_dense
from jdal.problems import Problem


class DropoutMLP(nn.Module):
    """Dense → ReLU → Dropout blocks, then a linear Dense output (no BatchNorm).

    Every Dense starts as PyTorch's nn.Linear does (`torch_dense`, fan_in = the
    layer's input width): the study's reference implementation is PyTorch.
    """

    hidden: tuple[int, ...]
    dim_y: int
    rate: float
    dtype: Any = jnp.float32
    precision: Any = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool) -> jax.Array:
        opts = dict(dtype=self.dtype, precision=self.precision)
        h = x
        for width in self.hidden:
            h = nn.relu(torch_dense(width, h.shape[-1], **opts)(h))
            h = nn.Dropout(self.rate, deterministic=deterministic)(h)
        return torch_dense(self.dim_y, h.shape[-1], **opts)(h).astype(jnp.float32)


def make_dropout_mlp(problem: Problem, cfg: Config, dropout: float) -> DropoutMLP:
    """The BALD net: the member's hidden widths (after `cfg.max_width`) ÷ √10.

    Widths are rounded down, as the spec says (`int`, at least 1): robo 500 → 158,
    adm 1500 → 474, a 64 cap → 20, a 50 cap → 15 (not the nearest, 16). For adm
    the output is a plain Dense to the 2000 outputs: the member's Dense 1000 +
    transposed-convolution head is left out, since the spec describes the BALD net
    as an MLP and a linear head adds nothing to its dropout uncertainty.
    """
    widths = make_module(problem, cfg).hidden
    hidden = tuple(max(1, int(w / math.sqrt(10))) for w in widths)
    dtype, precision = PRECISION_SETTINGS[cfg.precision]
    return DropoutMLP(
        hidden=hidden,
        dim_y=problem.dim_y,
        rate=dropout,
        dtype=dtype,
        precision=precision,
    )


def make_bald_side(
    problem: Problem, cfg: Config, options: dict[str, OptionValue]
) -> SideModel:
    """The dropout MLP as a `SideModel`: MSE over the masked rows, dropout on."""
    module = make_dropout_mlp(problem, cfg, options["dropout"])

    def init(key: jax.Array, dim_x: int, dim_y: int):
        del dim_y
        return module.init(key, jnp.zeros((1, dim_x), jnp.float32), deterministic=True)

    def loss(params, key, x, y, mask):
        pred = module.apply(params, x, deterministic=False, rngs={"dropout": key})
        row_loss = jnp.mean(jnp.square(pred - y), axis=-1)
        return masked_mean(row_loss, mask)

    return SideModel(init=init, loss=loss)


def mc_dropout_variance(
    module: DropoutMLP, params, key: jax.Array, x: jax.Array, n_passes: int
) -> jax.Array:
    """f32[P]: variance over `n_passes` dropout passes, averaged over outputs.

    Welford's running mean / sum of squares over a scan, so memory stays O(P dy)
    whatever the number of passes. Row i's dropout masks come from
    fold_in(pass key, i), so a candidate's score does not depend on how many other
    candidates share the pool (a padded γ-grid pool scores like the plain one).
    """

    def row_prediction(key_pass, x_row, row):
        rngs = {"dropout": jax.random.fold_in(key_pass, row)}
        return module.apply(params, x_row[None], deterministic=False, rngs=rngs)[0]

    rows = jnp.arange(x.shape[0])

    def one_pass(carry, inputs):
        mean, m2 = carry
        index, key_pass = inputs
        pred = jax.vmap(row_prediction, (None, 0, 0))(key_pass, x, rows)
        delta = pred - mean
        mean = mean + delta / (index + 1.0)
        m2 = m2 + delta * (pred - mean)
        return (mean, m2), None

    zeros = jnp.zeros((x.shape[0], module.dim_y), jnp.float32)
    inputs = (jnp.arange(n_passes, dtype=jnp.float32), jax.random.split(key, n_passes))
    (_, m2), _ = jax.lax.scan(one_pass, (zeros, zeros), inputs)
    return jnp.mean(m2 / n_passes, axis=-1)


def make_dropout_variance(ctx: Context):
    """score(key, pool, state) -> f32[P]: MC-dropout variance of the side net over
    `bald.passes` passes."""
    module = make_dropout_mlp(ctx.problem, ctx.cfg, ctx.options["dropout"])
    n_passes = ctx.options["passes"]

    def variance(key: jax.Array, pool: Pool, state: AcqState) -> jax.Array:
        params = state.ensemble.side_params
        return mc_dropout_variance(module, params, key, pool.x, n_passes)

    return variance


BALD = register(
    Acquisition(
        name="bald",
        make=top_k_method(make_dropout_variance),
        description=(
            "BALD, MC dropout (Tsymbalov et al. 2018): top-k variance over dropout "
            "passes of an auxiliary dropout MLP"
        ),
        options={
            "passes": integer_option(25, 1),
            "dropout": number_option(0.5, 0.0, 1.0, high_open=True),
        },
        make_side=make_bald_side,
    )
)
