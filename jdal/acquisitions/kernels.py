"""Kernels of the trained ensemble as feature maps, for kernel batch methods.

Holzmüller, Zaverkin, Kästner & Steinwart (JMLR 2023, "A Framework and Benchmark for
Deep Batch Active Learning for Regression", package bmdal-reg) select batches with
a kernel k(x, x') = φ(x)·φ(x') built from the trained network. Two base kernels:

- `gradient_features`: φ = the gradient of the network output with respect to the
  weights and biases of every Dense layer (the "grad" kernel, the paper's
  recommendation). For Dense layer l with input a and output z, ∂f/∂W_l = δ_l ⊗ a,
  so k_l(x, x') = (δ_l·δ_l')((a·a') + 1) factorises per layer; jdal never forms
  the gradient. BatchNorm and the adm convolution head count as fixed maps (the
  paper's default also takes linear layers only). Sketched to `dim` features (the
  paper's "rp" transform, 512): a product kernel through the elementwise product of
  two independent Gaussian projections, ((a R_a) ⊙ (δ R_δ)) / √dim, whose inner
  products are unbiased for (a·a')(δ·δ'). Every member, layer and output direction
  has its own projections (as bmdal-reg's sketch of a sum of kernels), so their
  cross terms vanish in expectation and the members' errors are independent; their
  sketches are summed into one `dim`-vector.
- `last_layer_features`: the gradient of the last Dense layer only (bmdal-reg's
  "ll"), exact and not sketched: ∂f_j/∂W = [a, 1] ⊗ δ_j with a the last hidden
  activations, so k = c (a·a' + 1), c = Σ_j |δ_j|² being the same for every x
  (dy for a linear output layer; the squared Frobenius norm of the linear adm
  head's Jacobian for adm). Features: √c [a, 1] per member, M (h + 1) in all.

Several outputs (dy > 1): k = Σ_j ∇f_j·∇f_j' (the trace of the output kernel).
With dy <= OUTPUT_DIRECTIONS every output is its own backward pass; otherwise
OUTPUT_DIRECTIONS Gaussian directions u estimate it, E[∇(u·f)·∇(u·f')] = Σ_j (...).

The M ensemble members enter as the mean of their kernels, (1/M) Σ_m k_m: every
member is a trained model of the same data, their average is the ensemble's kernel
(the paper's "ens" transform).

Transformations, each run in float64 by the methods that use them (as bmdal-reg
does with allow_float64): `scale_to_labelled` (the paper's scale(X_train)),
`posterior_features` (post(X_train, σ²): the kernel of a Gaussian process
conditioned on the labelled points, computed in feature space) and
`acs_rf_features` (the paper's acs-rf: random features of the expected
log-likelihood under posterior weight samples, Pinsler et al. 2019).
"""

from __future__ import annotations

import math

import einops
import jax
import jax.numpy as jnp

from jdal.models.ensemble import Ensemble, EnsembleState
from jdal.models.mlp import ADM_HEAD_LENGTH, DENSE_INPUTS, AdmHead

OUTPUT_DIRECTIONS = 4
HIGHEST = jax.lax.Precision.HIGHEST


def _project(x: jax.Array, key: jax.Array, dim: int) -> jax.Array:
    """f32[n, dim]: x f32[n, c] times a N(0, 1) matrix [c, dim] drawn from `key`."""
    matrix = jax.random.normal(key, (x.shape[-1], dim), jnp.float32)
    return jnp.matmul(x, matrix, precision=HIGHEST)


def last_layer_features(
    ensemble: Ensemble, state: EnsembleState, x: jax.Array, key: jax.Array, dim: int
) -> jax.Array:
    """f32[n, M (h + 1)]: exact features of the members' mean last-layer gradient
    kernel at x f32[n, d] (`key` and `dim` unused: nothing is sketched)."""
    del key, dim
    _, features = ensemble.predict_with_features(state, x)  # [M, n, h]
    ones = jnp.ones((*features.shape[:2], 1), features.dtype)
    scale = jnp.sqrt(output_gradient_norms(ensemble, state) / ensemble.n_members)
    features = jnp.concatenate([features, ones], axis=-1) * scale[:, None, None]
    return einops.rearrange(features, "m n h -> n (m h)")


def output_gradient_norms(ensemble: Ensemble, state: EnsembleState) -> jax.Array:
    """f32[M]: Σ_j |∂f_j/∂z|² per member, z the last Dense layer's output: dy for a
    linear output layer; for the linear adm head, its Jacobian's squared Frobenius
    norm (the head's outputs at the unit vectors minus its output at 0)."""
    module = ensemble.module
    if module.head != "adm_conv":
        return jnp.full(ensemble.n_members, float(module.dim_y), jnp.float32)
    head = AdmHead(precision=HIGHEST)
    basis = jnp.concatenate(
        [jnp.zeros((1, ADM_HEAD_LENGTH)), jnp.eye(ADM_HEAD_LENGTH)]
    ).astype(jnp.float32)

    def norm(params):
        outputs = head.apply({"params": params["mlp"]["AdmHead_0"]}, basis)
        return jnp.sum(jnp.square(outputs[1:] - outputs[:1]))

    return jax.vmap(norm)(state.params)


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
    key_members, key_directions = jax.random.split(key)
    directions = output_directions(module.dim_y, key_directions)

    def member_sketch(total, member):
        params, batch_stats, member_key = member
        # Every member draws its own input projections (and, below, its own
        # output projections), so the members' sketch errors are independent.
        key_inputs, key_outputs = jax.random.split(member_key)
        input_keys = jax.random.split(key_inputs, len(layers))

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

        direction_keys = jax.random.split(key_outputs, directions.shape[0])
        total, _ = jax.lax.scan(direction_sketch, total, (directions, direction_keys))
        return total, None

    n_members = ensemble.n_members
    members = (
        state.params,
        state.batch_stats,
        # fold_in: member m's projections depend on (key, m) only, whatever M.
        jax.vmap(jax.random.fold_in, (None, 0))(key_members, jnp.arange(n_members)),
    )
    total, _ = jax.lax.scan(member_sketch, jnp.zeros((n, dim), jnp.float32), members)
    return total / math.sqrt(dim * n_members)


def _last_dense_width(module) -> int:
    """Width of the last Dense layer: the output, or the adm head's Dense 1000."""
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


def _labelled_gram_eigh(labelled: jax.Array, mask: jax.Array):
    """Eigen-decomposition (λ [m], V [m, m]) of Φᵀ Φ over the masked labelled rows."""
    valid = jnp.where(mask[:, None], labelled, 0.0)
    gram = jnp.matmul(valid.T, valid, precision=HIGHEST)
    eigenvalues, vectors = jnp.linalg.eigh(gram)
    return jnp.maximum(eigenvalues, 0.0), vectors


def posterior_features(
    features: jax.Array, labelled: jax.Array, mask: jax.Array, sigma: float
) -> tuple[jax.Array, jax.Array]:
    """Features of the posterior kernel given the masked labelled rows (noise σ²):
    ψ = σ (ΦᵀΦ + σ² I)^(-1/2) φ, since k − k_X (K + σ² I)^(-1) k_X = σ² φᵀ(ΦᵀΦ +
    σ² I)^(-1) φ'. Returns (pool ψ [P, m], labelled ψ [N, m]), in the input dtype.

    bmdal-reg uses σ Φ L^(-T) with L the Cholesky factor; both give the same kernel
    (they differ by a rotation of feature space, which no method can see). With
    σ = 1e-3 the small eigenvalues matter down to 1e-6 of the mean diagonal: run
    this in float64 (`jax.enable_x64`), as the kernel methods do."""
    eigenvalues, vectors = _labelled_gram_eigh(labelled, mask)
    scales = sigma / jnp.sqrt(eigenvalues + sigma**2)
    transform = jnp.matmul(vectors * scales[None, :], vectors.T, precision=HIGHEST)
    return (
        jnp.matmul(features, transform, precision=HIGHEST),
        jnp.matmul(labelled, transform, precision=HIGHEST),
    )


def acs_rf_features(
    features: jax.Array,
    labelled: jax.Array,
    mask: jax.Array,
    sigma: float,
    noise: jax.Array,
) -> jax.Array:
    """[P, r]: bmdal-reg's acs-rf transform (Pinsler et al. 2019) of `features`
    [P, m] given the masked labelled rows; `noise` [m, r] standard normal.

    With θ_cov = (ΦᵀΦ + σ² I)^(-1) (the posterior of linear weights θ), r weight
    samples θ_j = θ_cov^(1/2) ε_j and s(x) = φᵀ θ_cov φ, feature j of x is
    (½ log(1 + s/σ²) − (( φ·θ_j)² + s) / (2σ²)) / √m: the expected log-likelihood
    of a pseudo-label φ·θ_j. bmdal-reg draws θ_j = L^(-T) ε_j (L the Cholesky
    factor); the symmetric root gives samples of the same distribution."""
    eigenvalues, vectors = _labelled_gram_eigh(labelled, mask)
    inverse_root = vectors * (1.0 / jnp.sqrt(eigenvalues + sigma**2))[None, :]
    whitened = jnp.matmul(features, inverse_root, precision=HIGHEST)  # φᵀ V Λ^-½
    variance = jnp.sum(jnp.square(whitened), axis=1, keepdims=True)  # s(x)
    samples = jnp.matmul(
        inverse_root, jnp.matmul(vectors.T, noise, precision=HIGHEST), precision=HIGHEST
    )  # θ_cov^(1/2) ε = V Λ^(-1/2) Vᵀ ε
    z = jnp.matmul(features, samples, precision=HIGHEST)
    const = 0.5 * jnp.log1p(variance / sigma**2)
    log_likelihood = const - 0.5 / sigma**2 * (jnp.square(z) + variance)
    return log_likelihood / math.sqrt(features.shape[1])
