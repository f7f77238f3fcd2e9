"""The ensemble member: a Flax MLP with masked BatchNorm and an optional adm head.

Every weight and bias starts as PyTorch's default initialisation does (the study's
reference implementation is PyTorch): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with
fan_in as PyTorch computes it for the layer kind (`torch_uniform`). BatchNorm
starts at scale 1, offset 0.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

# Config.precision -> (compute dtype, matmul precision). Parameters stay float32.
PRECISION_SETTINGS = {
    "fp32": (jnp.float32, jax.lax.Precision.HIGHEST),
    "tf32": (jnp.float32, jax.lax.Precision.DEFAULT),
    "bf16": (jnp.bfloat16, jax.lax.Precision.DEFAULT),
}

ADM_HEAD_LENGTH = 1000  # the Dense 1000 feeding the adm transposed-conv head
# Collection where the member records each Dense layer's input when it is mutable
# (`apply(..., mutable=[DENSE_INPUTS])`); the Dense outputs carry a `perturb` of
# the same name, so gradient features need no second forward pass.
DENSE_INPUTS = "dense_inputs"


def torch_uniform(fan_in: int):
    """Initialiser U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for any shape: PyTorch's
    default for Linear and Conv weights (kaiming-uniform, a = sqrt(5)) and biases.

    PyTorch's fan_in per layer kind: Linear, in_features; Conv1d, in_channels x
    kernel; ConvTranspose1d, out_channels x kernel (its weight is stored
    [in, out, kernel] and fan_in is read from dimension 1).
    """
    bound = 1.0 / math.sqrt(fan_in)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def torch_dense(features: int, fan_in: int, **opts) -> nn.Dense:
    """nn.Dense with PyTorch's default Linear initialisation (weights and bias)."""
    init = torch_uniform(fan_in)
    return nn.Dense(features, kernel_init=init, bias_init=init, **opts)


class AdmHead(nn.Module):
    """adm head, f32[n, 1000] -> f32[n, 2000], no activations.

    ConvTranspose1d(1->4, k 4, s 2, p 1), ConvTranspose1d(4->4, k 3, s 1, p 1)
    twice, Conv1d(4->1, k 1); lengths 1000 -> 2000 -> 2000 -> 2000 -> 2000.
    PyTorch's ConvTranspose1d(padding p) is a Flax ConvTranspose with explicit
    padding k - 1 - p on each side, whose kernel K[j, in, out] is PyTorch's weight
    W[in, out, k - 1 - j] (flipped along the kernel axis).
    """

    dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        opts = dict(dtype=self.dtype, precision=self.precision)
        z = h[..., None]  # [n, L, channels=1]
        for kernel, stride, pad in ((4, 2, 1), (3, 1, 1), (3, 1, 1)):
            init = torch_uniform(4 * kernel)  # PyTorch: out_channels x kernel
            z = nn.ConvTranspose(
                4,
                (kernel,),
                strides=(stride,),
                padding=((kernel - 1 - pad, kernel - 1 - pad),),
                kernel_init=init,
                bias_init=init,
                **opts,
            )(z)
        init = torch_uniform(4 * 1)  # Conv1d: in_channels x kernel
        z = nn.Conv(1, (1,), kernel_init=init, bias_init=init, **opts)(z)
        return z[..., 0]


class MLP(nn.Module):
    """Dense -> BatchNorm -> ReLU blocks, then a linear output (or the adm head).

    `__call__(x f32[n, d], train, mask bool[n]) -> (y f32[n, dy], features f32[n, h])`
    where `features` are the last hidden activations (input of the last Dense). In
    training mode BatchNorm statistics use the rows where `mask` is true only and the
    running averages are updated (momentum 0.1 in PyTorch's convention).

    Dense layer i (in order, the output layer included) sows its input as
    `DENSE_INPUTS["dense<i>"]` and perturbs its output as `perturbations["dense<i>"]`;
    both are no-ops unless asked for, and give gradient features per layer
    (`jdal.acquisitions.kernels`).
    """

    hidden: tuple[int, ...]
    dim_y: int
    head: str = "dense"
    bn_momentum: float = 0.1
    dtype: Any = jnp.float32
    precision: Any = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(
        self, x: jax.Array, train: bool = False, mask: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        opts = dict(dtype=self.dtype, precision=self.precision)
        bn_mask = None if mask is None else mask[:, None]
        layer = iter(range(len(self.hidden) + 1))

        def dense(width: int, h: jax.Array) -> jax.Array:
            name = f"dense{next(layer)}"
            self.sow(DENSE_INPUTS, name, h)
            return self.perturb(name, torch_dense(width, h.shape[-1], **opts)(h))

        h = x
        for width in self.hidden:
            h = dense(width, h)
            h = nn.BatchNorm(
                use_running_average=not train,
                momentum=1.0 - self.bn_momentum,
                epsilon=1e-5,
                use_fast_variance=False,
                dtype=self.dtype,
            )(h, mask=bn_mask)
            h = nn.relu(h)
        features = h
        if self.head == "adm_conv":
            y = AdmHead(**opts)(dense(ADM_HEAD_LENGTH, h))
        else:
            y = dense(self.dim_y, h)
        return y.astype(jnp.float32), features.astype(jnp.float32)
