"""Seconds of one AL step's training and of its acquisition, timed apart.

The compiled run fuses the two, so each is rebuilt here as its own jitted function
on the shapes of the run at that step (`make_step_parts`), compiled ahead, and
timed over one call. Compiles repeated across cells (methods sharing an ensemble
train with the same program) are read back from JAX's persistent compilation
cache, which the commands turn on (`flags.enable_compilation_cache`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jdal import config, loop
from jdal.acquisitions import AcqState, full_pool

TIMING_HOW = (
    "each part (training; acquisition) jitted and vmapped over all seeds like the "
    "run, compiled ahead (compile not counted), then one timed call per part at each "
    "step on that step's labelled-set size, buffer capacity and pool; wall seconds"
)


class StepParts(NamedTuple):
    """AL step t's training and acquisition as separate jittable functions.

    The inputs have step t's shapes: n_t = N0 + t k valid labelled rows (uniform
    points, labelled by the oracle) in a buffer of the capacity C of step t's size
    bucket, a pool of P = cfg.pool_size points, and an untrained ensemble (training
    time does not depend on the weights' values).

    inputs(key) -> (model_state, labelled_x f32[C, d], labelled_y f32[C, dy],
      pool_x f32[P, d], or None for query synthesis).
    train(key, model_state, labelled_x, labelled_y) -> EnsembleState (one AL step's
      gradient steps on the n_t valid rows).
    select(key, pool_x f32[P, d] | None, model_state, labelled_x, labelled_y) ->
      int32[k] pool indices (f32[k, d] points for query synthesis); every pool row
      is a candidate, as in a run of this one γ.
    """

    inputs: Callable[[jax.Array], tuple]
    train: Callable[..., Any]
    select: Callable[..., jax.Array]


def make_step_parts(cfg: config.Config, step: int) -> StepParts:
    """The parts of AL step `step` (0 <= step < T) of `jdal.make_run(cfg)`."""
    if not 0 <= step < cfg.steps:
        raise ValueError(f"step {step} is not an AL step of 0..{cfg.steps - 1}")
    problem, method, _, ensemble, select_fn = loop.setup(cfg)
    capacity = loop.bucket_of_step(cfg, step).capacity
    d, n = problem.dim_x, cfg.n_initial + step * cfg.k

    def inputs(key: jax.Array):
        key_x, key_pool, key_model = (jax.random.fold_in(key, i) for i in range(3))
        labelled = jax.random.uniform(key_x, (n, d), jnp.float32, -1.0, 1.0)
        labelled_x, labelled_y = loop.labelled_buffer(problem, labelled, capacity)
        pool_x = None
        if not method.returns_points:
            pool_x = loop.draw_pool(key_pool, cfg.pool_size, d)
        return ensemble.init(key_model), labelled_x, labelled_y, pool_x

    def train(key, model_state, labelled_x, labelled_y):
        n_valid = jnp.asarray(n, jnp.int32)
        return ensemble.train(key, model_state, labelled_x, labelled_y, n_valid)[0]

    def select(key, pool_x, model_state, labelled_x, labelled_y) -> jax.Array:
        state = AcqState(labelled_x, labelled_y, jnp.asarray(n, jnp.int32), model_state)
        pool = None if pool_x is None else full_pool(pool_x)
        return select_fn(key, pool, state, cfg.k)

    return StepParts(inputs, train, select)


def timed_steps(steps: int) -> list[int]:
    """The AL steps whose parts are timed: first, middle and last (deduplicated)."""
    return sorted({0, steps // 2, steps - 1})


def _time_one_call(fn: Callable, *args) -> tuple[float, Any]:
    """(wall seconds, output) of one call of `jit(fn)`, compiled before the clock
    starts (from the persistent cache when it holds the program)."""
    compiled = jax.jit(fn).lower(*args).compile()
    start = time.perf_counter()
    output = jax.block_until_ready(compiled(*args))
    return time.perf_counter() - start, output


def time_step_parts(
    cfgs: Sequence[config.Config], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """`timing.steps` of each cell of `cfgs` (one problem and method, any γ):
    seconds of an AL step's training and of its acquisition at the first, middle
    and last step (`timed_steps`), all seeds vmapped.

    One timed call per part and step keeps the cost near three extra AL-step
    trainings per cell, plus the parts' compiles. Training does not depend on γ, so
    it is timed once per step for all `cfgs`; each γ's acquisition is timed on its
    own pool (a prefix of the widest: pools nest across γ), as a cell of that γ
    alone runs it.
    """
    steps = timed_steps(cfgs[0].steps)
    keys = loop.seed_keys(seeds)
    widest = max(cfgs, key=lambda cfg: cfg.pool_size)
    records = [
        {
            "step": steps,
            "n_labelled": [cfg.n_initial + t * cfg.k for t in steps],
            "train_s": [],
            "acquire_s": [],
            "how": TIMING_HOW,
        }
        for cfg in cfgs
    ]
    # The untrained state is the same at every step: built apart from the step's
    # data, its slow compile is paid once.
    first = make_step_parts(widest, steps[0])
    model_state = jax.jit(jax.vmap(lambda key: first.inputs(key)[0]))(keys)
    for t in steps:
        parts = make_step_parts(widest, t)
        labelled_x, labelled_y, pool_x = jax.jit(
            jax.vmap(lambda key, parts=parts: parts.inputs(key)[1:])
        )(keys)
        train_s, trained = _time_one_call(
            jax.vmap(parts.train), keys, model_state, labelled_x, labelled_y
        )
        for cfg, record in zip(cfgs, records, strict=True):
            pool = None if pool_x is None else pool_x[:, : cfg.pool_size]
            acquire_s, _ = _time_one_call(
                jax.vmap(make_step_parts(cfg, t).select),
                keys,
                pool,
                trained,
                labelled_x,
                labelled_y,
            )
            record["train_s"].append(train_s)
            record["acquire_s"].append(acquire_s)
    return records
