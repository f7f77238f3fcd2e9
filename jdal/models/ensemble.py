"""The deep ensemble: M MLPs with stacked parameters, trained by one compiled step.

Members are initialised by `vmap` over keys and updated together by a `vmap`-ed
gradient step inside a `lax.scan` over the gradient steps of one AL step. Optimiser
(Adam + L2 added to the gradient) and reduce-on-plateau state are created afresh at
every AL step; weights and BatchNorm statistics are warm-started (BENCHMARK.md 2).

Acquisitions that need extra trained parts plug in here without touching this file:
a `MemberHead` is trained jointly with every member (its loss is added to the member
loss, e.g. learning loss), and a `SideModel` is a separate network trained alongside
with the same optimiser settings and loop (e.g. the BALD dropout net).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jdal.config import Config
from jdal.models.mlp import MLP, PRECISION_SETTINGS
from jdal.problems import Problem
from jdal.rng import prefix_uniform

Params = Any


class PlateauState(NamedTuple):
    """PyTorch ReduceLROnPlateau (mode min, relative threshold, no cooldown)."""

    best: jax.Array  # f32[]
    bad_steps: jax.Array  # int32[]
    scale: jax.Array  # f32[], multiplies the base learning rate


def init_plateau() -> PlateauState:
    return PlateauState(jnp.float32(jnp.inf), jnp.int32(0), jnp.float32(1.0))


def update_plateau(
    state: PlateauState, loss: jax.Array, factor: float, patience: int, threshold: float
) -> PlateauState:
    """One scheduler step on `loss`; cuts the scale by `factor` after a plateau."""
    improved = loss < state.best * (1.0 - threshold)
    best = jnp.where(improved, loss, state.best)
    bad = jnp.where(improved, 0, state.bad_steps + 1)
    reduce = bad > patience
    scale = jnp.where(reduce, state.scale * factor, state.scale)
    bad = jnp.where(reduce, 0, bad)
    return PlateauState(best, bad.astype(jnp.int32), scale)


class MemberHead(NamedTuple):
    """A per-member head trained jointly with its member (added to the member loss).

    init: (key, feature_dim) -> params.
    loss: (params, features f32[n, h], row_loss f32[n], mask bool[n], detach f32[])
      -> f32[]; `detach` is 1.0 when the gradient into the backbone must be stopped.
    """

    init: Callable[[jax.Array, int], Params]
    loss: Callable[..., jax.Array]


class SideModel(NamedTuple):
    """A separate network trained alongside the ensemble with the same loop.

    init: (key, dim_x, dim_y) -> params.
    loss: (params, key, x f32[n, d], y f32[n, dy], mask bool[n]) -> f32[].
    """

    init: Callable[[jax.Array, int, int], Params]
    loss: Callable[..., jax.Array]


class EnsembleState(NamedTuple):
    """Trained state carried across AL steps.

    params: {"mlp": member params, "head": member-head params or ()}, every leaf
      stacked on a leading member axis [M, ...].
    batch_stats: BatchNorm running averages, stacked [M, ...].
    side_params: the side model's params, or () when there is none.
    """

    params: Params
    batch_stats: Params
    side_params: Params


class TrainInfo(NamedTuple):
    """Per-gradient-step diagnostics of one AL step's training (means over members)."""

    loss: jax.Array  # f32[S] member MSE
    head_loss: jax.Array  # f32[S] member-head loss (0 without a head)
    side_loss: jax.Array  # f32[S] side-model loss (0 without one)
    lr_scale: jax.Array  # f32[S] plateau scale of member 0


class Ensemble(NamedTuple):
    """Pure functions of one ensemble configuration (bound in `make_ensemble`).

    init(key) -> EnsembleState
    predict(state, x f32[n, d]) -> f32[M, n, dy]
    predict_with_features(state, x) -> (f32[M, n, dy], f32[M, n, h])
    train(key, state, x f32[C, d], y f32[C, dy], n_valid int32[]) -> (state, TrainInfo)
    """

    module: MLP
    n_members: int
    feature_dim: int
    learning_rate: float
    init: Callable[[jax.Array], EnsembleState]
    predict: Callable[[EnsembleState, jax.Array], jax.Array]
    predict_with_features: Callable[..., tuple[jax.Array, jax.Array]]
    train: Callable[..., tuple[EnsembleState, TrainInfo]]


def make_module(problem: Problem, cfg: Config) -> MLP:
    """The member MLP of `problem` with the config's width cap and precision."""
    hidden = problem.model.hidden
    if cfg.max_width is not None:
        hidden = tuple(min(w, cfg.max_width) for w in hidden)
    dtype, precision = PRECISION_SETTINGS[cfg.precision]
    return MLP(
        hidden=hidden,
        dim_y=problem.dim_y,
        head=problem.model.head,
        bn_momentum=cfg.bn_momentum,
        dtype=dtype,
        precision=precision,
    )


def resolved_model_settings(problem: Problem, cfg: Config) -> dict[str, Any]:
    """Problem defaults overridden by the config's non-None model fields."""
    spec = problem.model
    pick = lambda value, default: default if value is None else value  # noqa: E731
    return dict(
        n_members=pick(cfg.n_members, spec.n_members),
        learning_rate=pick(cfg.learning_rate, spec.learning_rate),
        weight_decay=pick(cfg.weight_decay, spec.weight_decay),
        batch_size=pick(cfg.batch_size, spec.batch_size),
    )


def make_optimizer(weight_decay: float) -> optax.GradientTransformation:
    """Adam direction with L2 added to the gradient; the caller scales by -lr."""
    parts = [optax.add_decayed_weights(weight_decay)] if weight_decay > 0 else []
    return optax.chain(*parts, optax.scale_by_adam(eps=1e-8))


def minibatch(
    key: jax.Array, capacity: int, n_valid: jax.Array, batch_size: int | None
) -> tuple[jax.Array, jax.Array]:
    """Rows of one gradient step: (int32[B] indices, bool[B] mask).

    Full batch (`batch_size` None or >= capacity): every buffer row, valid ones
    masked in. Otherwise B = batch_size distinct valid rows drawn uniformly (all of
    them, padded and masked, while fewer than B are labelled).
    """
    if batch_size is None or batch_size >= capacity:
        rows = jnp.arange(capacity)
        return rows, rows < n_valid
    # Per-row draws: the minibatches do not depend on the buffer's capacity, so
    # size buckets do not change them.
    priority = prefix_uniform(key, capacity)
    priority = jnp.where(jnp.arange(capacity) < n_valid, priority, 2.0)
    rows = jnp.argsort(priority)[:batch_size]
    return rows, jnp.arange(batch_size) < n_valid


def make_ensemble(
    problem: Problem,
    cfg: Config,
    head: MemberHead | None = None,
    side: SideModel | None = None,
) -> Ensemble:
    """Binds init / predict / train for `problem` under `cfg`."""
    module = make_module(problem, cfg)
    settings = resolved_model_settings(problem, cfg)
    n_members = settings["n_members"]
    learning_rate = settings["learning_rate"]
    batch_size = settings["batch_size"]
    optimizer = make_optimizer(settings["weight_decay"])
    feature_dim = module.hidden[-1]
    detach_from = round(cfg.train_steps * (1.0 - cfg.ll_detach_fraction))

    def init_member(key: jax.Array) -> tuple[Params, Params]:
        key_mlp, key_head = jax.random.split(key)
        dummy = jnp.zeros((2, problem.dim_x), jnp.float32)
        variables = module.init(key_mlp, dummy, train=False)
        head_params = () if head is None else head.init(key_head, feature_dim)
        return {"mlp": variables["params"], "head": head_params}, variables[
            "batch_stats"
        ]

    def init(key: jax.Array) -> EnsembleState:
        key_members, key_side = jax.random.split(key)
        params, batch_stats = jax.vmap(init_member)(
            jax.random.split(key_members, n_members)
        )
        side_params = (
            () if side is None else side.init(key_side, problem.dim_x, problem.dim_y)
        )
        return EnsembleState(params, batch_stats, side_params)

    def apply_member(params, batch_stats, x):
        variables = {"params": params["mlp"], "batch_stats": batch_stats}
        return module.apply(variables, x, train=False)

    def predict_with_features(state: EnsembleState, x: jax.Array):
        return jax.vmap(apply_member, in_axes=(0, 0, None))(
            state.params, state.batch_stats, x
        )

    def predict(state: EnsembleState, x: jax.Array) -> jax.Array:
        return predict_with_features(state, x)[0]

    def member_loss(params, batch_stats, x, y, mask, detach):
        variables = {"params": params["mlp"], "batch_stats": batch_stats}
        (pred, features), updates = module.apply(
            variables, x, train=True, mask=mask, mutable=["batch_stats"]
        )
        row_loss = jnp.mean(jnp.square(pred - y), axis=-1)
        weight = mask.astype(jnp.float32)
        mse = jnp.sum(row_loss * weight) / jnp.maximum(jnp.sum(weight), 1.0)
        head_loss = jnp.float32(0.0)
        if head is not None:
            head_loss = head.loss(params["head"], features, row_loss, mask, detach)
        return mse + head_loss, (mse, head_loss, updates["batch_stats"])

    def sgd_step(params, opt_state, grads, lr_scale):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(
            params, jax.tree.map(lambda u: -learning_rate * lr_scale * u, updates)
        )
        return params, opt_state

    def member_step(params, batch_stats, opt_state, plateau, x, y, mask, detach):
        grad_fn = jax.value_and_grad(member_loss, has_aux=True)
        (total, (mse, head_loss, batch_stats)), grads = grad_fn(
            params, batch_stats, x, y, mask, detach
        )
        params, opt_state = sgd_step(params, opt_state, grads, plateau.scale)
        # The schedule watches the training MSE (BENCHMARK.md 2), not MSE + a head's
        # loss: learning loss's noisy ranking term would otherwise cut the rate.
        plateau = update_plateau(
            plateau,
            mse,
            cfg.plateau_factor,
            cfg.plateau_patience,
            cfg.plateau_threshold,
        )
        return (params, batch_stats, opt_state, plateau), (mse, head_loss)

    def side_step(params, opt_state, plateau, key, x, y, mask):
        loss, grads = jax.value_and_grad(side.loss)(params, key, x, y, mask)
        params, opt_state = sgd_step(params, opt_state, grads, plateau.scale)
        plateau = update_plateau(
            plateau,
            loss,
            cfg.plateau_factor,
            cfg.plateau_patience,
            cfg.plateau_threshold,
        )
        return (params, opt_state, plateau), loss

    def train(key, state: EnsembleState, x, y, n_valid):
        capacity = x.shape[0]
        member_opt = jax.vmap(optimizer.init)(state.params)
        member_plateau = jax.vmap(lambda _: init_plateau())(jnp.arange(n_members))
        side_opt = () if side is None else optimizer.init(state.side_params)
        carry0 = (
            state.params,
            state.batch_stats,
            member_opt,
            member_plateau,
            state.side_params,
            side_opt,
            init_plateau(),
        )

        def body(carry, step):
            params, batch_stats, opt_state, plateau, side_params, side_opt, side_pl = (
                carry
            )
            key_step = jax.random.fold_in(key, step)
            key_batch, key_side = jax.random.split(key_step)
            rows, mask = minibatch(key_batch, capacity, n_valid, batch_size)
            xb, yb = x[rows], y[rows]
            detach = (step >= detach_from).astype(jnp.float32)
            (params, batch_stats, opt_state, plateau), (mse, head_loss) = jax.vmap(
                member_step, in_axes=(0, 0, 0, 0, None, None, None, None)
            )(params, batch_stats, opt_state, plateau, xb, yb, mask, detach)
            side_loss = jnp.float32(0.0)
            if side is not None:
                (side_params, side_opt, side_pl), side_loss = side_step(
                    side_params, side_opt, side_pl, key_side, xb, yb, mask
                )
            info = TrainInfo(
                jnp.mean(mse), jnp.mean(head_loss), side_loss, plateau.scale[0]
            )
            carry = (
                params,
                batch_stats,
                opt_state,
                plateau,
                side_params,
                side_opt,
                side_pl,
            )
            return carry, info

        carry, info = jax.lax.scan(body, carry0, jnp.arange(cfg.train_steps))
        params, batch_stats, _, _, side_params, _, _ = carry
        return EnsembleState(params, batch_stats, side_params), info

    return Ensemble(
        module=module,
        n_members=n_members,
        feature_dim=feature_dim,
        learning_rate=learning_rate,
        init=init,
        predict=predict,
        predict_with_features=predict_with_features,
        train=train,
    )


def count_params(params: Params) -> int:
    """Number of scalars in a parameter tree (all members)."""
    return sum(int(leaf.size) for leaf in jax.tree.leaves(params))
