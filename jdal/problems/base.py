"""The `Problem` record shared by every oracle family."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np


class ModelSpec(NamedTuple):
    """Per-problem deep-ensemble settings (docs/protocol.md section 2).

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


class FiniteData(NamedTuple):
    """A finite data set whose labels stay hidden until queried (`user_data`).

    Every column is min-max scaled to [-1, 1] over the whole data set, inputs and
    targets, as the UCI problems foil and hydr are; the bounds are kept to map back.

    Attributes:
      x: f32[N, d] scaled inputs.
      y: f32[N, dy] scaled targets.
      source: where the rows came from (a file path, or "arrays").
      x_min, x_max: f64[d] column bounds of the inputs, in the data's units.
      y_min, y_max: f64[dy] column bounds of the targets, in the data's units.
      x_names, y_names: column names (from the header, else "column <j>").
      test_fraction: share of the rows held out for testing, unless
        `Config.n_test` is smaller (`n_test_rows`).
      input_groups: None when every input row is distinct; else int32[N], each
        row's group of identical inputs (the index of the group's first row), so
        the run keeps a group on one side of the test split (`jdal.loop`).
    """

    x: jax.Array
    y: jax.Array
    source: str
    x_min: np.ndarray
    x_max: np.ndarray
    y_min: np.ndarray
    y_max: np.ndarray
    x_names: tuple[str, ...]
    y_names: tuple[str, ...]
    test_fraction: float = 0.2
    input_groups: np.ndarray | None = None

    @property
    def largest_group(self) -> int:
        """Rows in the largest group of identical inputs (1: no duplicates)."""
        if self.input_groups is None:
            return 1
        return int(np.max(np.bincount(self.input_groups)))

    @property
    def n_rows(self) -> int:
        return int(self.x.shape[0])

    def n_test_rows(self, n_test: int) -> int:
        """Test rows per seed: `test_fraction` of the rows (at least one), or
        `n_test` (`Config.n_test`) if fewer."""
        return max(1, min(n_test, int(self.test_fraction * self.n_rows)))


class Problem(NamedTuple):
    """A benchmark problem: a pure oracle on [-1, 1]^dim_x plus its model settings.

    Attributes:
      name: registry id, e.g. "robo".
      dim_x: input dimension d.
      dim_y: output dimension dy.
      oracle: pure jittable `f32[dim_x] -> f32[dim_y]`; batch it with `jax.vmap`.
      model: the spec's deep-ensemble settings for this problem.
      description: one line for tables and plots.
      data: None for an oracle that can be queried anywhere; for a finite data
        set, its rows (`FiniteData`): the run then draws test, initial and pool
        points from the rows, and `oracle` is only the `mse` reference's lookup.
      fingerprint: None for a built-in problem (its definition is jdal's code);
        for a user problem, a digest of what defines it (the data rows, or the
        oracle's values at fixed probe points and its box; the model settings).
        The shell puts it in `Config.problem_fingerprint`, so results of an
        edited problem registered under the same name are never reused.
    """

    name: str
    dim_x: int
    dim_y: int
    oracle: Callable[[jax.Array], jax.Array]
    model: ModelSpec
    description: str = ""
    data: FiniteData | None = None
    fingerprint: str | None = None

    def label(self, x: jax.Array) -> jax.Array:
        """Evaluates the oracle on a batch: f32[n, dim_x] -> f32[n, dim_y]."""
        return jax.vmap(self.oracle)(x)
