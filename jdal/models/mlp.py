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
from flax.linen.dtypes import promote_dtype

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


class TapConv1d(nn.Module):
    """A 1-D convolution as a sum over its kernel taps, f32[..., L, C_in] ->
    f32[..., L', features]: the input is dilated by `stride` (stride - 1 zeros
    between entries), padded by `pad` zeros on each side and correlated with
    kernel[k, C_in, features], plus bias. It computes what Flax's `ConvTranspose`
    (explicit padding (pad, pad), no kernel flip) and, with stride 1 and pad 0,
    `Conv` compute, with the same parameters ("kernel", "bias") drawn in the same
    order, so it replaces them in place.

    Why not XLA's convolution: with 1 to 4 channels its CPU kernel is slow, and
    slower still vmapped over members (the adm head's layers over 500 rows, one
    5-member gradient step on the loaded 2-core CPU: 7.4 s with XLA's
    convolutions, 2.8 s with these taps). `AdmHead` runs them on 10 probe rows
    only.
    """

    features: int
    kernel_size: int
    stride: int
    pad: int
    fan_in: int  # PyTorch's, for the initialisation (torch_uniform)
    dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        init = torch_uniform(self.fan_in)
        shape = (self.kernel_size, z.shape[-1], self.features)
        kernel = self.param("kernel", init, shape)
        bias = self.param("bias", init, (self.features,))
        z, kernel, bias = promote_dtype(z, kernel, bias, dtype=self.dtype)
        *batch, length, channels = z.shape
        if self.stride > 1:
            spaced = jnp.stack(
                [z, *[jnp.zeros_like(z)] * (self.stride - 1)], axis=-2
            ).reshape(*batch, length * self.stride, channels)
            z = spaced[..., : (length - 1) * self.stride + 1, :]
        z = jnp.pad(z, [(0, 0)] * len(batch) + [(self.pad, self.pad), (0, 0)])
        out_length = z.shape[-2] - self.kernel_size + 1
        taps = [
            jnp.einsum(
                "...lc,co->...lo",
                z[..., j : j + out_length, :],
                kernel[j],
                precision=self.precision,
            )
            for j in range(self.kernel_size)
        ]
        out = sum(taps[1:], taps[0])
        return out + bias.reshape((1,) * (out.ndim - 1) + bias.shape)


# The adm head's impulse response spans outputs 2i - 3 .. 2i + 4 for input i (the
# first layer covers 2i - 1 .. 2i + 2, each kernel-3 layer one more on each side).
# HEAD_REACH bounds its half-width in input positions with a margin; the EDGE inputs
# at each end are those whose response the zero padding between layers cuts off.
HEAD_REACH = 3
HEAD_EDGE = 4


# Block length of `banded_two_phase`: the fastest of 8 to 200 for the adm head
# (1000 inputs) in a one-off timing on the 2-core CPU (2026-12-01, not kept).
HEAD_BLOCK = 40


def banded_two_phase(z: jax.Array, taps: jax.Array, precision: Any = None) -> jax.Array:
    """y[..., 2 i + r] = sum_d z[..., i - d] taps[d + R, r] for |d| <= R, with z zero
    outside [0, L): f32[..., L], f32[2 R + 1, 2] -> f32[..., 2 L].

    How: z is cut into blocks of HEAD_BLOCK inputs, each widened by R inputs on
    either side (its window), and every block's 2 HEAD_BLOCK outputs are one small
    matrix product of its window with a banded [HEAD_BLOCK + 2 R, 2 HEAD_BLOCK]
    matrix built from the taps. The same sum as 2 R + 1 shifted multiply-adds, but
    XLA's CPU backend materialised each of those shifted products (and as many
    again in the gradient); the blocks make adm's whole gradient step 2.0-2.2
    times faster on the 2-core CPU (docs/cpu_speed.md, "adm").
    """
    reach = (taps.shape[0] - 1) // 2
    *batch, length = z.shape
    block = HEAD_BLOCK if length % HEAD_BLOCK == 0 else length
    width = block + 2 * reach
    # Padded so that block b's window is padded[b B : b B + width].
    padded = jnp.pad(z, [(0, 0)] * len(batch) + [(reach, reach + block)])
    heads = padded[..., :length].reshape(*batch, length // block, block)
    tails = padded[..., block : block + length].reshape(*batch, length // block, block)
    windows = jnp.concatenate([heads, tails[..., : 2 * reach]], axis=-1)
    # Window entry j is input b B + j - R; output i of the block takes it with
    # d = i + R - j.
    d = jnp.arange(block)[None, :] + reach - jnp.arange(width)[:, None]  # [width, B]
    inside = (jnp.abs(d) <= reach)[..., None]
    banded = jnp.where(inside, taps[jnp.clip(d + reach, 0, 2 * reach)], 0)
    y = jnp.einsum(
        "...bj,jo->...bo", windows, banded.reshape(width, 2 * block).astype(z.dtype),
        precision=precision,
    )  # fmt: skip
    return y.reshape(*batch, 2 * length)


class AdmHead(nn.Module):
    """adm head, f32[n, 1000] -> f32[n, 2000], no activations.

    ConvTranspose1d(1->4, k 4, s 2, p 1), ConvTranspose1d(4->4, k 3, s 1, p 1)
    twice, Conv1d(4->1, k 1); lengths 1000 -> 2000 -> 2000 -> 2000 -> 2000.
    PyTorch's ConvTranspose1d(padding p) is a correlation of the stride-dilated
    input padded by k - 1 - p on each side with a kernel K[j, in, out] that is
    PyTorch's weight W[in, out, k - 1 - j] (flipped along the kernel axis); each
    layer is a `TapConv1d`, whose parameters are laid out and named as Flax's
    ConvTranspose / Conv would be.

    How it is computed: the four layers are linear, so the head is
    y = A h + b with A banded (input i reaches outputs 2i - 3 .. 2i + 4) and, away
    from the ends, A's columns are shifted copies of one impulse response. The
    layers are applied to a few probes only (zero, an impulse in the middle and one
    at each of the HEAD_EDGE positions at either end); then y is the interior
    response as a two-phase convolution of h, plus h's end entries times the
    difference between their true response (the zero padding between layers cuts
    it) and what that convolution gives them, plus b = head(0). The same map as
    running the layers on every row (tested against PyTorch's definition), at a
    fraction of the cost: small-channel convolutions are slow on a CPU, and 10
    probe rows replace the n rows.
    """

    dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        opts = dict(dtype=self.dtype, precision=self.precision)
        layers = [
            TapConv1d(
                4,
                kernel,
                stride,
                kernel - 1 - pad,
                fan_in=4 * kernel,  # PyTorch: out_channels x kernel
                name=f"ConvTranspose_{i}",
                **opts,
            )
            for i, (kernel, stride, pad) in enumerate(((4, 2, 1), (3, 1, 1), (3, 1, 1)))
        ]
        # Conv1d(4 -> 1, kernel 1): fan_in in_channels x kernel
        layers.append(TapConv1d(1, 1, 1, 0, fan_in=4, name="Conv_0", **opts))

        def run_layers(z: jax.Array) -> jax.Array:  # [p, L] -> [p, 2 L]
            z = z[..., None]
            for layer in layers:
                z = layer(z)
            return z[..., 0]

        length = h.shape[-1]
        centre = length // 2
        edges = [*range(HEAD_EDGE), *range(length - HEAD_EDGE, length)]
        probes = jnp.zeros((2 + len(edges), length), h.dtype)
        probes = probes.at[1, centre].set(1.0)
        probes = probes.at[jnp.arange(2, 2 + len(edges)), jnp.array(edges)].set(1.0)
        responses = run_layers(probes)
        bias, centre_response = responses[0], responses[1] - responses[0]

        # Interior: y[2 i + r] = sum_d h[i - d] k[2 d + r], k the centre response
        # relative to output 2 * centre, d in [-HEAD_REACH, HEAD_REACH].
        reach = HEAD_REACH
        taps = centre_response[2 * (centre - reach) : 2 * (centre + reach + 1)]
        taps = taps.reshape(2 * reach + 1, 2)  # [d + reach, r]

        def interior(z: jax.Array) -> jax.Array:  # [..., L] -> [..., 2 L]
            return banded_two_phase(z, taps, self.precision)

        # Ends: each end input's true response minus what the interior sum gives
        # it (its own impulse probe through `interior`).
        correction = responses[2:] - bias[None] - interior(probes[2:])  # [2 E, 2 L]
        y = interior(h) + jnp.einsum(
            "...e,et->...t", h[..., jnp.array(edges)], correction,
            precision=self.precision,
        )  # fmt: skip
        return y + bias.reshape((1,) * (y.ndim - 1) + bias.shape)


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
