"""Learning loss (Yoo & Kweon 2019, "Learning Loss for Active Learning").

Every ensemble member carries a small loss-prediction head on its last hidden
activations (a `MemberHead`): Dense(128) → ReLU → Dense(1). The paper taps several
backbone blocks (global pooling + FC 128 each, concatenated); jdal's MLP exposes
its last hidden activations only, so the head has one branch.

Training, jointly with the member (the head loss is added to the member MSE): at
every gradient step the valid rows are put in a fresh random order and paired
first with last (the paper's `x - x.flip(0)` on a shuffled batch), n // 2 pairs;
the order is the same for every member. The target loss l (the per-row MSE) is
detached; the ranking loss per pair is max(0, margin − sign(l_i − l_j) ·
(l̂_i − l̂_j)) (sign(0) counts as −1, as in the paper's code), averaged over pairs
and multiplied by `ll.weight` (margin `ll.margin`, both 1). For the last
`ll.detach_fraction` (40 %) of the gradient steps of each AL step, the head's
input is detached: the head keeps learning but sends no gradient into the backbone
(the paper stops it after epoch 120 of 200).

Acquisition: the mean over members of the predicted loss; top k.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Pool,
    number_option,
    register,
    top_k_method,
)
from jdal.config import Config, OptionValue
from jdal.metrics import masked_mean
from jdal.models.ensemble import MemberHead
from jdal.models.mlp import torch_dense
from jdal.problems import Problem
from jdal.rng import prefix_uniform

HEAD_WIDTH = 128  # the paper's FC width per tapped block


class LossHead(nn.Module):
    """f32[n, h] features -> f32[n] predicted loss (PyTorch-initialised Dense)."""

    width: int = HEAD_WIDTH

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        opts = dict(precision=jax.lax.Precision.HIGHEST)
        h = nn.relu(torch_dense(self.width, features.shape[-1], **opts)(features))
        return torch_dense(1, self.width, **opts)(h)[..., 0]


class Pairs(NamedTuple):
    """Row pairs of the ranking loss: first, second int32[n]; valid bool[n]."""

    first: jax.Array
    second: jax.Array
    valid: jax.Array


def random_pairs(key: jax.Array, mask: jax.Array) -> Pairs:
    """n_valid // 2 disjoint pairs of the masked-in rows (`mask` bool[n]), from a
    random order of them: the p-th row of the order with the (n_valid − 1 − p)-th.

    Row i's place in the order comes from its own draw (`prefix_uniform`), so the
    pairs do not depend on how much padding follows the valid rows.
    """
    n = mask.shape[0]
    priority = jnp.where(mask, prefix_uniform(key, n), 2.0)  # padding sorts last
    order = jnp.argsort(priority)
    n_valid = jnp.sum(mask.astype(jnp.int32))
    position = jnp.arange(n)
    second = order[jnp.clip(n_valid - 1 - position, 0, n - 1)]
    return Pairs(order, second, position < n_valid // 2)


def margin_ranking_loss(
    predicted: jax.Array, target: jax.Array, pairs: Pairs, margin: float
) -> jax.Array:
    """f32[]: Yoo & Kweon's pairwise ranking loss, mean over the valid pairs."""
    first, second = pairs.first, pairs.second
    sign = jnp.where(target[first] - target[second] > 0, 1.0, -1.0)
    hinge = jnp.maximum(0.0, margin - sign * (predicted[first] - predicted[second]))
    return masked_mean(hinge, pairs.valid)


def make_ll_head(
    problem: Problem, cfg: Config, options: dict[str, OptionValue]
) -> MemberHead:
    """The loss-prediction head as a `MemberHead` (init, loss), with its own detach
    schedule: from gradient step round(S (1 − detach_fraction)) of the S steps of an
    AL step on, the head sends no gradient into the backbone."""
    del problem
    module = LossHead()
    detach_from = round(cfg.train_steps * (1.0 - options["detach_fraction"]))

    def init(key: jax.Array, feature_dim: int):
        return module.init(key, jnp.zeros((1, feature_dim), jnp.float32))

    def loss(params, key, step, features, row_loss, mask):
        # A traced 0/1 blend, so the backbone gradient is (1 − detach).
        detach = (step >= detach_from).astype(jnp.float32)
        features = detach * jax.lax.stop_gradient(features) + (1.0 - detach) * features
        predicted = module.apply(params, features)
        target = jax.lax.stop_gradient(row_loss)
        pairs = random_pairs(key, mask)
        return options["weight"] * margin_ranking_loss(
            predicted, target, pairs, options["margin"]
        )

    return MemberHead(init=init, loss=loss)


def make_predicted_loss(ctx: Context):
    """score(key, pool, state) -> f32[P]: predicted loss, mean over the members'
    loss heads."""
    module = LossHead()

    def predicted_loss(key: jax.Array, pool: Pool, state: AcqState) -> jax.Array:
        del key
        _, features = ctx.ensemble.predict_with_features(state.ensemble, pool.x)
        predicted = jax.vmap(module.apply)(state.ensemble.params["head"], features)
        return jnp.mean(predicted, axis=0)

    return predicted_loss


LL = register(
    Acquisition(
        name="ll",
        make=top_k_method(make_predicted_loss),
        description=(
            "Learning loss (Yoo & Kweon 2019): top-k loss predicted by a head trained "
            "with a margin ranking loss"
        ),
        options={
            "margin": number_option(1.0, 0.0),
            "weight": number_option(1.0, 0.0),
            "detach_fraction": number_option(0.4, 0.0, 1.0),
        },
        make_head=make_ll_head,
    )
)
