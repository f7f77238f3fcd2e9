"""The `Problem` record shared by every oracle family."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax


class ModelSpec(NamedTuple):
    """Per-problem deep-ensemble settings (BENCHMARK.md section 2 table).

    Attributes:
      hidden: widths of the Dense -> BatchNorm -> ReLU blocks.
      n_members: ensemble size M.
      learning_rate: Adam learning rate.
      weight_decay: L2 coefficient added to the gradient (PyTorch Adam style).
      batch_size: minibatch size, or None for full batch.
      head: "dense" (last Dense to dim_y) or "adm_conv" (Dense 1000 then the
        transposed-convolution head of the adm problem).
    """

    hidden: tuple[int, ...]
    n_members: int
    learning_rate: float
    weight_decay: float
    batch_size: int | None = None
    head: str = "dense"


class Problem(NamedTuple):
    """A benchmark problem: a pure oracle on [-1, 1]^dim_x plus its model settings.

    Attributes:
      name: registry id, e.g. "robo".
      dim_x: input dimension d.
      dim_y: output dimension dy.
      oracle: pure jittable `f32[dim_x] -> f32[dim_y]`; batch it with `jax.vmap`.
      model: the spec's deep-ensemble settings for this problem.
      description: one line for tables and plots.
    """

    name: str
    dim_x: int
    dim_y: int
    oracle: Callable[[jax.Array], jax.Array]
    model: ModelSpec
    description: str = ""

    def label(self, x: jax.Array) -> jax.Array:
        """Evaluates the oracle on a batch: f32[n, dim_x] -> f32[n, dim_y]."""
        return jax.vmap(self.oracle)(x)
