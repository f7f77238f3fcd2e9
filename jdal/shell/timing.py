"""Seconds of each AL step's training and of its acquisition.

Cells are timed in the run itself: the sweep runs `make_run(cfg, timed=True)`,
whose clock stamps (`jdal.stopwatch`) `step_seconds` turns into seconds per step,
at no extra compile or run. `make_step_parts` rebuilds one step's training and
acquisition as separate jitted functions, for benchmarks that time a part alone
on the shapes of the run at that step.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jdal import config, loop, results, stopwatch
from jdal.acquisitions import AcqState, full_pool

from .text import fmt


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
    parts = loop.setup(cfg)
    problem, method, ensemble = parts.problem, parts.method, parts.ensemble
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
        return parts.select(key, pool, state, cfg.k)

    return StepParts(inputs, train, select)


TIMING_HOW = (
    "wall seconds per run, from clock stamps inside the compiled run "
    "(jdal.stopwatch): train_s from the step's start to the end of its training, "
    "acquire_s from there to the end of its acquisition and test evaluation (the "
    "last step: evaluation only); mean over the cell's seeds, and a vmapped step's "
    "seconds divided by the runs that shared it; in a γ grid every γ acquires on "
    "the grid's largest pool, masked"
)
# Timing records of cells made before the stamps: parts rebuilt, compiled and timed
# apart at three steps, all seeds in one vmapped call.
OLD_TIMING_HOW = (
    "each part (training; acquisition) jitted and vmapped over all seeds like the "
    "run, compiled ahead (compile not counted), then one timed call per part at each "
    "step on that step's labelled-set size, buffer capacity and pool; wall seconds"
)


def step_seconds(clock: np.ndarray, runs_per_lane_step: int = 1) -> dict[str, Any]:
    """`timing.steps` of a cell from its runs' stamps (`RunResult.clock`).

    clock: uint32[S, 2T + 3, 2], one row of stamps per seed. Returns {"step":
    [0..T], "train_s": [T + 1 floats], "acquire_s": [T + 1 floats], "how"}: seconds
    per run, the mean over seeds; `runs_per_lane_step` runs advanced together
    (`parallel.Runner.runs_per_lane_step`), so each shares a stamp interval.
    """
    gaps = np.diff(stopwatch.seconds(clock), axis=-1) / runs_per_lane_step
    gaps = np.mean(gaps, axis=0)  # [2T + 2]: train, acquire, train, ...
    return {
        "step": list(range(gaps.size // 2)),
        "train_s": [float(s) for s in gaps[0::2]],
        "acquire_s": [float(s) for s in gaps[1::2]],
        "how": TIMING_HOW,
    }


# ---------------------------------------------------------------------------
# Reading cells' timing back.


def seconds_per_step(cell: results.Cell) -> float:
    """Wall seconds per AL step of a cell's compiled run (all seeds at once): run_s / T.

    NaN when the cell has no timing. Covers training, acquisition and labelling;
    compile time is recorded apart.
    """
    run_s = cell.meta.get("timing", {}).get("run_s")
    steps = cell.config.get("steps")
    if run_s is None or not steps:
        return float("nan")
    return float(run_s) / int(steps)


def cell_step_seconds(
    cell: results.Cell, step: int
) -> tuple[float | None, float | None]:
    """(train s, acquire s) per run of AL step `step` in a cell's meta.json, None
    where untimed.

    Cells timed before the in-run stamps timed the first, middle and last steps
    (older ones step 0 only, `step_train_s`), all seeds in one vmapped call: their
    seconds are divided by the seeds to read per run.
    """
    timing = cell.meta.get("timing", {})
    steps = timing.get("steps")
    per_run = 1.0 if steps and steps.get("how") == TIMING_HOW else len(cell.seeds)

    def scaled(value):
        return None if value is None else value / per_run

    if steps is not None:
        if step not in steps["step"]:
            return None, None
        index = steps["step"].index(step)
        return scaled(steps["train_s"][index]), scaled(steps["acquire_s"][index])
    if step == 0:
        return scaled(timing.get("step_train_s")), scaled(timing.get("step_acquire_s"))
    return None, None


def merged_timing(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One cell's `timing` from the timings of the calls that ran its seeds
    (`parts`: [{"seeds": [...], "timing": {...}}], see `cells.merge_seeds`).

    Seconds of compile, run and total add up over the calls. Per-step seconds
    (per run) are the seed-weighted mean when every call timed its steps in the run
    (`TIMING_HOW`); otherwise the last call's, which always did.
    """

    def total(field: str) -> float | None:
        values = [part["timing"].get(field) for part in parts]
        return None if any(v is None for v in values) else float(sum(values))

    steps = [part["timing"].get("steps") or {} for part in parts]
    if all(s.get("how") == TIMING_HOW for s in steps) and all(
        s["step"] == steps[-1]["step"] for s in steps
    ):
        weights = np.asarray([len(part["seeds"]) for part in parts], float)

        def mean(field: str) -> list[float]:
            values = np.asarray([s[field] for s in steps], float)
            return [float(v) for v in weights @ values / weights.sum()]

        merged_steps = {**steps[-1], "train_s": mean("train_s"),
                        "acquire_s": mean("acquire_s")}  # fmt: skip
    else:
        merged_steps = steps[-1]
    return {
        "compile_s": total("compile_s"),
        "run_s": total("run_s"),
        "steps": merged_steps,
        "total_s": total("total_s"),
    }


def timing_text(cells: Sequence[results.Cell], steps: list[int]) -> str:
    """`train / acquire` at each of `steps` (median over the cells), joined by →."""

    def median(values):
        values = [v for v in values if v is not None]
        return fmt(statistics.median(values)) if values else "n/a"

    texts = []
    for step in steps:
        train, acquire = zip(*(cell_step_seconds(c, step) for c in cells), strict=True)
        texts.append(f"{median(train)} / {median(acquire)}")
    return " → ".join(texts)
