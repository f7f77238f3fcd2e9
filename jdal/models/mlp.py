"""The ensemble member: a Flax MLP with masked BatchNorm and an optional adm head."""

from __future__ import annotations

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


class AdmHead(nn.Module):
    """adm head, f32[n, 1000] -> f32[n, 2000], no activations (BENCHMARK.md 2).

    PyTorch's ConvTranspose1d(padding p) equals a Flax ConvTranspose with explicit
    padding k - 1 - p on each side; lengths: 1000 -> 2000 -> 2000 -> 2000.
    """

    dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        opts = dict(dtype=self.dtype, precision=self.precision)
        z = h[..., None]  # [n, L, channels=1]
        z = nn.ConvTranspose(4, (4,), strides=(2,), padding=((2, 2),), **opts)(z)
        z = nn.ConvTranspose(4, (3,), strides=(1,), padding=((1, 1),), **opts)(z)
        z = nn.ConvTranspose(4, (3,), strides=(1,), padding=((1, 1),), **opts)(z)
        z = nn.Conv(1, (1,), **opts)(z)
        return z[..., 0]


class MLP(nn.Module):
    """Dense -> BatchNorm -> ReLU blocks, then a linear output (or the adm head).

    `__call__(x f32[n, d], train, mask bool[n]) -> (y f32[n, dy], features f32[n, h])`
    where `features` are the last hidden activations (input of the last Dense). In
    training mode BatchNorm statistics use the rows where `mask` is true only and the
    running averages are updated (momentum 0.1 in PyTorch's convention).
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
        h = x
        for width in self.hidden:
            h = nn.Dense(width, **opts)(h)
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
            y = AdmHead(**opts)(nn.Dense(ADM_HEAD_LENGTH, **opts)(h))
        else:
            y = nn.Dense(self.dim_y, **opts)(h)
        return y.astype(jnp.float32), features.astype(jnp.float32)
