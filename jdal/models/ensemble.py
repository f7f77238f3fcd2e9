"""The deep ensemble: M MLPs with stacked parameters, trained as one joint model.

Members are initialised by `vmap` over keys and trained together, as the study's
reference implementation trains them (one PyTorch model holding all members):

- one joint loss, the mean over members of the member MSEs, so a member's data
  gradient is 1/M of its own MSE's gradient;
- one optimiser over all stacked parameters (`make_optimizer`): PyTorch's Adam with
  `weight_decay` (wd * θ added to that gradient before the moments), and one
  reduce-on-plateau schedule on the joint training MSE, hence one learning rate
  shared by every member.

Optimiser and schedule start afresh at every AL step; weights and BatchNorm
statistics are warm-started. A step's gradient steps are one `lax.scan`.

Acquisitions that need extra trained parts plug in here without touching this file:
a `MemberHead` is trained jointly with every member (its loss joins the member's
loss, e.g. learning loss), and a `SideModel` is a separate network trained
alongside with its own optimiser of the same settings (e.g. the BALD dropout net).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jdal.config import Config
from jdal.metrics import masked_mean
from jdal.models.mlp import MLP, PRECISION_SETTINGS
from jdal.problems import Problem
from jdal.rng import prefix_uniform

Params = Any


class MemberHead(NamedTuple):
    """A per-member head trained jointly with its member (added to the member loss).

    init: (key, feature_dim) -> params.
    loss: (params, key, step int32[], features f32[n, h], row_loss f32[n],
      mask bool[n]) -> f32[]; `key` is fresh at every gradient step (the same for
      every member); `step` is the gradient step within the AL step, so the head
      can follow its own schedule (e.g. stop its gradient into the backbone).
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
    """Per-gradient-step diagnostics of one AL step's training.

    loss: f32[S] joint training MSE (mean of the member MSEs) before the step.
    head_loss: f32[S] member-head loss, mean over members (0 without a head).
    side_loss: f32[S] side-model loss (0 without one).
    lr_scale: f32[S] the plateau scale that multiplied the learning rate.
    """

    loss: jax.Array
    head_loss: jax.Array
    side_loss: jax.Array
    lr_scale: jax.Array


class TrainCarry(NamedTuple):
    """The scan carry of one AL step's training; `*_last_loss` is the previous
    gradient step's loss, which the plateau schedule sees (`make_optimizer`)."""

    params: Params
    batch_stats: Params
    opt_state: Any
    last_loss: jax.Array
    side_params: Params
    side_opt_state: Any
    side_last_loss: jax.Array


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


# torch.optim.lr_scheduler.ReduceLROnPlateau ignores a cut smaller than this.
TORCH_PLATEAU_EPS = 1e-8
# The value the schedule sees before the first gradient step (see make_optimizer).
NO_LOSS_YET = float(jnp.finfo(jnp.float32).max)


def torch_plateau_floor(learning_rate: float, factor: float) -> float:
    """The lowest plateau scale PyTorch reaches: it stops cutting once a cut would
    change the rate by less than `TORCH_PLATEAU_EPS`, so the rate stays at the first
    lr * factor^n <= eps / (1 - factor)."""
    limit = TORCH_PLATEAU_EPS / (1.0 - factor) / learning_rate
    if limit >= 1.0:
        return 1.0
    return factor ** math.ceil(math.log(limit) / math.log(factor) - 1e-9)


def make_optimizer(
    learning_rate: float,
    weight_decay: float,
    plateau_factor: float,
    plateau_patience: int,
    plateau_threshold: float,
) -> optax.GradientTransformationExtraArgs:
    """PyTorch's Adam(lr, weight_decay, eps 1e-8) with ReduceLROnPlateau (mode min,
    relative threshold, no cooldown) as one optax chain.

    `update(grads, state, params, value=loss)`. Two PyTorch rules are mapped onto
    `optax.contrib.reduce_on_plateau`: PyTorch cuts after *more than* `patience`
    bad steps (optax after exactly `patience`, hence patience + 1), and PyTorch
    steps its scheduler after the optimiser, so the rate of gradient step t depends
    on the losses of steps 0..t-1: the caller passes step t-1's loss as `value`
    (`NO_LOSS_YET` at step 0, a value that counts as an improvement and changes
    nothing). PyTorch's smallest cut (`torch_plateau_floor`) is optax's min_scale.
    """
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
        optax.scale(-learning_rate),
        optax.contrib.reduce_on_plateau(
            factor=plateau_factor,
            patience=plateau_patience + 1,
            rtol=plateau_threshold,
            atol=0.0,
            min_scale=torch_plateau_floor(learning_rate, plateau_factor),
        ),
    )


def plateau_scale(opt_state) -> jax.Array:
    """f32[]: the learning-rate scale of a `make_optimizer` state: the plateau
    schedule's state found by its type, not by its place in the chain (a lookup
    by the name "scale" would also meet BatchNorm's `scale` parameters in Adam's
    moments)."""
    plateau = optax.contrib.ReduceLROnPlateauState
    return next(part for part in opt_state if isinstance(part, plateau)).scale


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
    optimizer = make_optimizer(
        learning_rate,
        settings["weight_decay"],
        cfg.plateau_factor,
        cfg.plateau_patience,
        cfg.plateau_threshold,
    )
    feature_dim = module.hidden[-1]

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

    def member_loss(params, batch_stats, key, step, x, y, mask):
        variables = {"params": params["mlp"], "batch_stats": batch_stats}
        (pred, features), updates = module.apply(
            variables, x, train=True, mask=mask, mutable=["batch_stats"]
        )
        row_loss = jnp.mean(jnp.square(pred - y), axis=-1)
        mse = masked_mean(row_loss, mask)
        head_loss = jnp.float32(0.0)
        if head is not None:
            head_loss = head.loss(params["head"], key, step, features, row_loss, mask)
        return mse + head_loss, (mse, head_loss, updates["batch_stats"])

    def joint_loss(params, batch_stats, key, step, x, y, mask):
        """Mean over members of the member losses (all members see the same rows)."""
        losses, aux = jax.vmap(member_loss, in_axes=(0, 0) + (None,) * 5)(
            params, batch_stats, key, step, x, y, mask
        )
        return jnp.mean(losses), aux

    def side_step(params, opt_state, previous_loss, key, x, y, mask):
        loss, grads = jax.value_and_grad(side.loss)(params, key, x, y, mask)
        updates, opt_state = optimizer.update(
            grads, opt_state, params, value=previous_loss
        )
        return (optax.apply_updates(params, updates), opt_state, loss), loss

    def train(key, state: EnsembleState, x, y, n_valid):
        capacity = x.shape[0]
        no_loss = jnp.float32(NO_LOSS_YET)
        carry0 = TrainCarry(
            params=state.params,
            batch_stats=state.batch_stats,
            opt_state=optimizer.init(state.params),
            last_loss=no_loss,
            side_params=state.side_params,
            side_opt_state=() if side is None else optimizer.init(state.side_params),
            side_last_loss=no_loss,
        )

        def body(carry: TrainCarry, step):
            key_batch, key_head, key_side = jax.random.split(
                jax.random.fold_in(key, step), 3
            )
            rows, mask = minibatch(key_batch, capacity, n_valid, batch_size)
            xb, yb = x[rows], y[rows]
            grad_fn = jax.value_and_grad(joint_loss, has_aux=True)
            (_, (mse, head_loss, batch_stats)), grads = grad_fn(
                carry.params, carry.batch_stats, key_head, step, xb, yb, mask
            )
            updates, opt_state = optimizer.update(
                grads, carry.opt_state, carry.params, value=carry.last_loss
            )
            # The schedule watches the joint training MSE, not MSE + a head's
            # loss: learning loss's noisy ranking term would otherwise cut the rate.
            loss = jnp.mean(mse)
            side_loss = jnp.float32(0.0)
            side_carry = carry.side_params, carry.side_opt_state, carry.side_last_loss
            if side is not None:
                side_carry, side_loss = side_step(*side_carry, key_side, xb, yb, mask)
            carry = TrainCarry(
                optax.apply_updates(carry.params, updates),
                batch_stats,
                opt_state,
                loss,
                *side_carry,
            )
            info = TrainInfo(
                loss, jnp.mean(head_loss), side_loss, plateau_scale(opt_state)
            )
            return carry, info

        carry, info = jax.lax.scan(body, carry0, jnp.arange(cfg.train_steps))
        return EnsembleState(carry.params, carry.batch_stats, carry.side_params), info

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
