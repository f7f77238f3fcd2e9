"""Expected model output change, EMOC, for a deep ensemble via its last layer.

Sources: Freytag, Rodner & Denzler 2014 (EMOC, "Selecting influential examples");
Käding, Rodner, Freytag & Denzler 2016 ("Active and continuous exploration with
deep neural networks and expected model output changes": the gradient
approximation for deep nets); Käding et al. 2018 (BMVC, EMOC for regression).

What is computed, for a candidate x' and every member m with last-layer input
features φ_m (the last hidden activations, `predict_with_features`):

1. One gradient step of size η = 1 on the member's last layer (weights W and
   bias b) for the loss ½‖f_m(x') − y'‖². For a Dense last layer this changes
   the member's output at any x by Δf_m(x) = −(φ_m(x)·φ_m(x') + 1) · r', with the
   residual r' = f_m(x') − y'. The change is exactly linear in the step (the
   output is linear in the last layer), so η and the loss normalisation scale
   every score alike and leave the ranking unchanged.
2. The mean absolute change over the pool and the outputs,
   mean_{x, j} |Δf_m(x)_j| = (φ̄_m·φ_m(x') + 1) · mean_j |r'_j|, with φ̄_m the pool
   mean of φ_m. The factorisation is exact because ReLU features are ≥ 0, so
   φ_m(x)·φ_m(x') + 1 > 0: no [P, P] matrix is formed.
3. The expectation over y' from the ensemble's predictive spread: y' is one of the
   M member predictions f_m'(x'), uniformly (m' = m contributes 0).
4. The score is the mean over members m; the top k are picked.

score(x') = mean_m mean_m' [(φ̄_m·φ_m(x') + 1) · mean_j |G_m (f_m(x') − f_m'(x'))|_j]

with G_m = I for a Dense head. adm (head "adm_conv"): the layer after the features
is Dense 1000, followed by the transposed-convolution head H_m, which is linear
(no activations). jdal takes that Dense 1000 as the "last layer" (its input is the
ReLU features again) and keeps H_m fixed; the step then changes the outputs by
−(φ·φ' + 1) · H_m H_m^T r', so G_m = H_m H_m^T, applied with one vjp and one jvp
of the head (never a 2000 x 2000 matrix). Memory: O(M P (h + dy)) per target
member, scanned over the M target members.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Pool,
    register,
    top_k_method,
)
from jdal.metrics import masked_mean
from jdal.models.mlp import ADM_HEAD_LENGTH, AdmHead


def make_output_metric(ctx: Context):
    """(member mlp params, r f32[P, dy]) -> G r f32[P, dy]; G = I, or H H^T for adm."""
    module = ctx.ensemble.module
    if module.head != "adm_conv":
        return lambda params, residual: residual
    head = AdmHead(dtype=module.dtype, precision=module.precision)

    def gram(params, residual):
        def head_fn(z):
            return head.apply({"params": params["AdmHead_0"]}, z).astype(jnp.float32)

        z0 = jnp.zeros((residual.shape[0], ADM_HEAD_LENGTH), jnp.float32)
        _, head_vjp = jax.vjp(head_fn, z0)
        (pulled,) = head_vjp(residual)
        return jax.jvp(head_fn, (z0,), (pulled,))[1]

    return gram


def emoc_scores(ctx: Context, state: AcqState, pool: Pool) -> jax.Array:
    """f32[P]: expected mean absolute output change (module docstring) per candidate."""
    output_metric = make_output_metric(ctx)
    preds, features = ctx.ensemble.predict_with_features(state.ensemble, pool.x)
    mean_features = masked_mean(features, pool.mask, axis=1)  # [M, h]
    kernel = 1.0 + jnp.einsum(
        "mh,mph->mp", mean_features, features, precision=jax.lax.Precision.HIGHEST
    )
    mlp_params = state.ensemble.params["mlp"]

    def add_target(total, target):
        residual = preds - target[None]  # [M, P, dy], y' = one member's prediction
        change = jax.vmap(output_metric)(mlp_params, residual)
        return total + jnp.mean(jnp.abs(change), axis=-1), None

    n_members = preds.shape[0]
    zeros = jnp.zeros(preds.shape[:2], jnp.float32)
    total, _ = jax.lax.scan(add_target, zeros, preds)
    return jnp.mean(kernel * total / n_members, axis=0)


def make_emoc_score(ctx: Context):
    """score(key, pool, state) -> f32[P]: `emoc_scores`."""

    def score(key: jax.Array, pool: Pool, state: AcqState) -> jax.Array:
        del key
        return emoc_scores(ctx, state, pool)

    return score


EMOC = register(
    Acquisition(
        name="emoc",
        make=top_k_method(make_emoc_score),
        description=(
            "EMOC (Käding et al. 2016/2018): top-k expected mean |output change| on "
            "the pool after one last-layer gradient step, y' over member predictions"
        ),
    )
)
