"""Kernels of the trained ensemble as sketched feature maps, for kernel batch methods.

Holzmüller, Zaverkin, Kästner & Steinwart (JMLR 2023, "A Framework and Benchmark for
Deep Batch Active Learning for Regression", package bmdal-reg) select batches with
a kernel k(x, x') = φ(x)·φ(x') built from the trained network. Two base kernels:

- `last_layer_features`: φ = the last hidden activations (the "ll" kernel).
- `gradient_features`: φ = the gradient of the network output with respect to the
  weights and biases of every Dense layer (the "grad" kernel, the paper's
  recommendation). For Dense layer l with input a and output z, ∂f/∂W_l = δ_l ⊗ a,
  so k_l(x, x') = (δ_l·δ_l')((a·a') + 1) factorises per layer; jdal never forms
  the gradient. BatchNorm and the adm convolution head count as fixed maps (the
  paper's default also takes linear layers only).

Both are sketched to `dim` features (the paper's "rp" transform, 512 in its
experiments): a product kernel through the elementwise product of two independent
Gaussian projections, ((a R_a) ⊙ (δ R_δ)) / √dim, whose inner products are unbiased
for (a·a')(δ·δ'); independent projections make cross terms vanish in expectation,
so the layers', outputs' and members' sketches are summed into one `dim`-vector.

Several outputs (dy > 1): k = Σ_j ∇f_j·∇f_j' (the trace of the output kernel).
With dy <= OUTPUT_DIRECTIONS every output is its own backward pass; otherwise
OUTPUT_DIRECTIONS Gaussian directions u estimate it, E[∇(u·f)·∇(u·f')] = Σ_j (...).

The M ensemble members enter as the mean of their kernels, (1/M) Σ_m k_m: every
member is a trained model of the same data, their average is the ensemble's kernel
(the paper's "ens" transform), and sketching keeps it at `dim` features whatever M.

Transformations: `scale_to_labelled` (the paper's scale(X_train)) and
`posterior_features` (post(X_train, σ²): the kernel of a Gaussian process
conditioned on the labelled points, computed in feature space).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jdal.models.ensemble import Ensemble, EnsembleState
from jdal.models.mlp import DENSE_INPUTS

OUTPUT_DIRECTIONS = 4
HIGHEST = jax.lax.Precision.HIGHEST


def _project(x: jax.Array, key: jax.Array, dim: int) -> jax.Array:
    """f32[n, dim]: x f32[n, c] times a N(0, 1) matrix [c, dim] drawn from `key`."""
    matrix = jax.random.normal(key, (x.shape[-1], dim), jnp.float32)
    return jnp.matmul(x, matrix, precision=HIGHEST)


def last_layer_features(
    ensemble: Ensemble, state: EnsembleState, x: jax.Array, key: jax.Array, dim: int
) -> jax.Array:
    """f32[n, dim]: sketch of the members' mean last-layer kernel at x f32[n, d]."""
    _, features = ensemble.predict_with_features(state, x)  # [M, n, h]
    keys = jax.random.split(key, features.shape[0])
    sketches = jax.vmap(_project, (0, 0, None))(features, keys, dim)
    return jnp.sum(sketches, axis=0) / math.sqrt(dim * features.shape[0])


def output_directions(dim_y: int, key: jax.Array) -> jax.Array:
    """f32[r, dy] output directions whose gradients sum to the trace kernel: the
    unit vectors when dy <= OUTPUT_DIRECTIONS, else scaled Gaussian ones."""
    if dim_y <= OUTPUT_DIRECTIONS:
        return jnp.eye(dim_y, dtype=jnp.float32)
    gaussian = jax.random.normal(key, (OUTPUT_DIRECTIONS, dim_y), jnp.float32)
    return gaussian / math.sqrt(OUTPUT_DIRECTIONS)


def gradient_features(
    ensemble: Ensemble, state: EnsembleState, x: jax.Array, key: jax.Array, dim: int
) -> jax.Array:
    """f32[n, dim]: sketch of the members' mean gradient kernel at x f32[n, d]."""
    module = ensemble.module
    n = x.shape[0]
    widths = (*module.hidden, _last_dense_width(module))
    layers = [f"dense{i}" for i in range(len(widths))]
    key_inputs, key_members, key_directions = jax.random.split(key, 3)
    # One input projection per layer, shared by members and outputs: the output
    # projections below are independent for each of them, which is enough for
    # the cross terms to vanish in expectation.
    input_keys = jax.random.split(key_inputs, len(layers))
    directions = output_directions(module.dim_y, key_directions)

    def member_sketch(total, member):
        params, batch_stats, member_key = member

        def forward(perturbations):
            variables = {
                "params": params["mlp"],
                "batch_stats": batch_stats,
                "perturbations": perturbations,
            }
            (y, _), sown = module.apply(variables, x, mutable=[DENSE_INPUTS])
            return y, sown[DENSE_INPUTS]

        zeros = {
            name: jnp.zeros((n, w), jnp.float32)
            for name, w in zip(layers, widths, strict=True)
        }
        _, pullback, inputs = jax.vjp(forward, zeros, has_aux=True)
        ones = jnp.ones((n, 1), jnp.float32)
        # Keys are indexed, not iterated: iterating a traced typed key array
        # fails in JAX (jax.random.key under jit).
        projected_inputs = [
            _project(
                jnp.concatenate([inputs[name][0], ones], axis=1), input_keys[i], dim
            )
            for i, name in enumerate(layers)
        ]

        def direction_sketch(total, direction):
            u, direction_key = direction
            (deltas,) = pullback(jnp.broadcast_to(u, (n, u.shape[0])))
            delta_keys = jax.random.split(direction_key, len(layers))
            for i, (name, a_proj) in enumerate(
                zip(layers, projected_inputs, strict=True)
            ):
                total = total + a_proj * _project(deltas[name], delta_keys[i], dim)
            return total, None

        direction_keys = jax.random.split(member_key, directions.shape[0])
        total, _ = jax.lax.scan(direction_sketch, total, (directions, direction_keys))
        return total, None

    n_members = ensemble.n_members
    members = (
        state.params,
        state.batch_stats,
        jax.random.split(key_members, n_members),
    )
    total, _ = jax.lax.scan(member_sketch, jnp.zeros((n, dim), jnp.float32), members)
    return total / math.sqrt(dim * n_members)


def _last_dense_width(module) -> int:
    """Width of the last Dense layer: the output, or the adm head's Dense 1000."""
    from jdal.models.mlp import ADM_HEAD_LENGTH

    return ADM_HEAD_LENGTH if module.head == "adm_conv" else module.dim_y


def scale_to_labelled(
    features: jax.Array, labelled: jax.Array, mask: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Both feature sets divided so the labelled rows' mean k(x, x) is 1 (the
    paper's scale(X_train)); `mask` bool[N] marks the labelled rows that count."""
    sq_norms = jnp.sum(jnp.square(labelled), axis=1)
    mean = jnp.sum(jnp.where(mask, sq_norms, 0.0)) / jnp.maximum(jnp.sum(mask), 1)
    factor = 1.0 / jnp.sqrt(jnp.maximum(mean, 1e-30))
    return features * factor, labelled * factor


def posterior_features(
    features: jax.Array, labelled: jax.Array, mask: jax.Array, sigma: float
) -> tuple[jax.Array, jax.Array]:
    """Features of the posterior kernel given the masked labelled rows (noise σ²):
    ψ = σ (ΦᵀΦ + σ² I)^(-1/2) φ, since k − k_X (K + σ² I)^(-1) k_X = σ² φᵀ(ΦᵀΦ +
    σ² I)^(-1) φ'. Returns (pool ψ f32[P, m], labelled ψ f32[N, m])."""
    valid = jnp.where(mask[:, None], labelled, 0.0)
    gram = jnp.matmul(valid.T, valid, precision=HIGHEST)
    eigenvalues, vectors = jnp.linalg.eigh(gram)
    scales = sigma / jnp.sqrt(jnp.maximum(eigenvalues, 0.0) + sigma**2)
    transform = jnp.matmul(vectors * scales[None, :], vectors.T, precision=HIGHEST)
    return (
        jnp.matmul(features, transform, precision=HIGHEST),
        jnp.matmul(labelled, transform, precision=HIGHEST),
    )
