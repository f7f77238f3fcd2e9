"""The active-learning run: the whole protocol (docs/protocol.md 3) in one `jit`.

    run = make_run(cfg)                         # static shapes from the config
    result = jax.jit(run)(jax.random.key(0))    # one seed
    results = jax.jit(jax.vmap(run))(keys)      # seeds as a vmap axis

Shapes never depend on the growing labelled set: labels live in a fixed-capacity
buffer with a count. Because the labelled-set size at step t is the same for every
seed (N0 + t k), the steps are split statically into a few size buckets: each bucket
is one `lax.scan` whose training sees only the first `capacity` buffer rows, so early
steps do not pay for the full buffer (`Config.train_buckets`; 1 = one scan).

On a finite data set (`Problem.data`, `jdal.problems.user_data`) the same run draws
rows instead of points: per seed a permutation gives the test rows then the initial
rows, and every pool is made of not-yet-used rows (`finite_split`, `finite_pool`);
a bool[N] mask in the scan carry marks rows used, so no row is labelled twice or
comes from the test split. The uniform path is unchanged.

The run has T + 1 trainings and T acquisitions. The last training (t = T, on all
N0 + T k labels) is the last bucket's final scan step, whose acquisition a
`lax.cond` skips, so the training body is compiled once per bucket and no more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import einops
import jax
import jax.numpy as jnp
import numpy as np

from jdal import acquisitions, problems, stopwatch
from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Pool,
    SelectFn,
    full_pool,
)
from jdal.config import Config
from jdal.metrics import nearest_distance
from jdal.models.ensemble import Ensemble, EnsembleState, make_ensemble
from jdal.problems import Problem
from jdal.problems.base import FiniteData
from jdal.rng import prefix_uniform


class RunResult(NamedTuple):
    """One run's record (add a leading seed axis under `vmap`).

    mse: f32[T+1] test MSE of the ensemble mean at n = N0 + t k.
    n_labelled: int32[T+1] labelled-set sizes N0 + t k.
    train_loss: f32[T+1] member-mean training MSE at the last gradient step.
    div_per_step: f32[T] mean nearest-labelled-neighbour distance of each batch.
    div: f32[] Div of docs/protocol.md section 5 (mean of div_per_step).
    picked_x: f32[T, k, d] the points labelled at each step.
    n_nonfinite_labels: int32[] oracle outputs that were not finite (must be 0).
    pool_sizes: int32[T] candidates the method chose from at each step: k γ, fewer
      on a finite data set with fewer unused rows left (0 for query synthesis).
    clock: uint32[2T + 3, 2] wall-clock stamps (`jdal.stopwatch`) of a timed run
      (`make_run(cfg, timed=True)`): at the start, then after each step's training
      and after its acquisition and test evaluation, so `np.diff` of
      `stopwatch.seconds(clock)` alternates train and acquire seconds; () untimed.
    """

    mse: jax.Array
    n_labelled: jax.Array
    train_loss: jax.Array
    div_per_step: jax.Array
    div: jax.Array
    picked_x: jax.Array
    n_nonfinite_labels: jax.Array
    pool_sizes: jax.Array
    clock: Any = ()


MIN_BUCKET_GROWTH = 1.5


class SizeBucket(NamedTuple):
    """Consecutive AL steps whose training sees the first `capacity` buffer rows."""

    first_step: int
    n_steps: int
    capacity: int


def size_buckets(cfg: Config) -> list[SizeBucket]:
    """Splits steps 0..T into <= cfg.train_buckets buckets of geometric capacity.

    Step t trains on n_t = N0 + t k rows (step T trains only: the final model); a
    bucket's capacity is the largest n_t it holds, so the last one's is N0 + T k.
    Capacities grow geometrically, so padding waste stays bounded.
    """
    sizes = [cfg.n_initial + t * cfg.k for t in range(cfg.steps + 1)]
    growth = sizes[-1] / cfg.n_initial
    # A bucket must at least grow the size by MIN_BUCKET_GROWTH: finer splits cost
    # a compiled training body each and save little.
    n_buckets = min(
        cfg.train_buckets, max(1, int(math.log(growth) / math.log(MIN_BUCKET_GROWTH)))
    )
    ratio = growth ** (1.0 / n_buckets)
    limits = [cfg.n_initial * ratio ** (b + 1) for b in range(n_buckets)]
    limits[-1] = float("inf")
    runs: list[tuple[int, int, int]] = []  # (first step, steps, bucket index)
    for t, n in enumerate(sizes):
        bucket = next(b for b, limit in enumerate(limits) if n <= limit + 1e-9)
        if runs and runs[-1][2] == bucket:
            first, count, _ = runs[-1]
            runs[-1] = (first, count + 1, bucket)
        else:
            runs.append((t, 1, bucket))
    return [
        SizeBucket(first, count, sizes[first + count - 1]) for first, count, _ in runs
    ]


def bucket_of_step(cfg: Config, step: int) -> SizeBucket:
    """The size bucket that holds AL step `step` (0 <= step <= T)."""
    return next(
        b for b in size_buckets(cfg) if b.first_step <= step < b.first_step + b.n_steps
    )


def nearest_other_distance(
    new_x: jax.Array, buffer_x: jax.Array, n_before: jax.Array
) -> jax.Array:
    """f32[k]: distance of each new point to its nearest other labelled point (the
    per-point term of Div), exact (`jdal.metrics.nearest_distance`).

    The labelled set is buffer rows < n_before + k, the new batch included; a point
    is never its own neighbour.
    """
    k = new_x.shape[0]
    rows = jnp.arange(buffer_x.shape[0])
    own_row = n_before + jnp.arange(k)
    others = (rows[None, :] < n_before + k) & (rows[None, :] != own_row[:, None])
    return nearest_distance(new_x, buffer_x, others)


def labelled_buffer(
    problem: Problem,
    initial_x: jax.Array,
    capacity: int,
    initial_y: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Fixed-capacity (f32[C, d], f32[C, dy]) buffers holding the labelled initial set
    in their first rows and zeros (padding) after. Labels: `initial_y` when given
    (rows of a finite data set), else the problem's oracle on `initial_x`."""
    if initial_y is None:
        initial_y = problem.label(initial_x)
    n = initial_x.shape[0]
    buffer_x = jnp.zeros((capacity, problem.dim_x), jnp.float32).at[:n].set(initial_x)
    buffer_y = jnp.zeros((capacity, problem.dim_y), jnp.float32)
    return buffer_x, buffer_y.at[:n].set(initial_y)


def draw_pool(key: jax.Array, size: int, dim_x: int) -> jax.Array:
    """f32[size, dim_x] uniform pool whose point i depends on (key, i) only.

    Pools therefore nest across gamma: the pool of k gamma points is a prefix of
    every larger pool of the same step and seed, which pairs cells of different
    gamma and lets a gamma grid share one padded pool with a mask.
    """
    return prefix_uniform(key, size, (dim_x,), -1.0, 1.0)


def finite_split(
    key: jax.Array, data: FiniteData, n_test: int, n_initial: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(test rows int32[n_test], initial rows int32[n_initial], used bool[N]) of a
    finite data set, disjoint, from one random order of its rows; `used` marks the
    rows no pool may offer (test and initial rows, and any left out below).

    Rows with identical inputs (`FiniteData.input_groups`) stay on one side of the
    test split: the order is by group, and the rows of the group cut by the end of
    the test rows are left out of the run (never labelled, never tested), so no
    test input can be labelled. Without duplicates the order is a plain
    permutation.
    """
    n_rows = data.n_rows
    if data.input_groups is None:
        order = jax.random.permutation(key, n_rows)
        dropped = 0
    else:
        groups = jnp.asarray(data.input_groups)
        # A group's priority is its first row's; rows of a group sit together.
        priority = jax.random.uniform(key, (n_rows,))[groups]
        order = jnp.lexsort((jnp.arange(n_rows), priority))
        cut = groups[order[n_test - 1]]
        after = groups[order[n_test : n_test + data.largest_group - 1]]
        dropped = jnp.sum(jnp.cumprod(after == cut))  # the cut group's rest
    test_rows = order[:n_test]
    initial_rows = jax.lax.dynamic_slice(order, (n_test + dropped,), (n_initial,))
    first_unused = n_test + dropped + n_initial
    used = jnp.zeros(n_rows, bool).at[order].set(jnp.arange(n_rows) < first_unused)
    return test_rows, initial_rows, used


def finite_pool(
    key: jax.Array, used: jax.Array, size: int
) -> tuple[jax.Array, jax.Array]:
    """(rows int32[size], available bool[size]): a pool of up to `size` distinct
    unused rows of a finite data set (used: bool[N]), drawn without replacement.

    Row i gets priority u_i from (key, i) alone (`prefix_uniform`) and the pool is
    the unused rows of smallest priority, in priority order, so pools nest across γ
    like `draw_pool`'s. When fewer than `size` rows are unused (or the table has
    fewer than `size` rows at all), the rows past them are used ones or padding
    (row 0) and `available` masks them out.
    """
    n_rows = used.shape[0]
    priority = prefix_uniform(key, n_rows)
    drawn = min(size, n_rows)  # static: a pool larger than the table is padded
    _, rows = jax.lax.top_k(-jnp.where(used, jnp.inf, priority), drawn)
    available = ~used[rows]
    padding = size - drawn
    if padding:
        rows = jnp.concatenate([rows, jnp.zeros(padding, rows.dtype)])
        available = jnp.concatenate([available, jnp.zeros(padding, bool)])
    return rows, available


def unused_rows_at_start(problem: Problem, cfg: Config) -> int | None:
    """Rows a finite data set has left for the first pool (all but the test and
    initial rows); None for an oracle, whose pools are unlimited."""
    if problem.data is None:
        return None
    data = problem.data
    return data.n_rows - data.n_test_rows(cfg.n_test) - cfg.n_initial


def fit_to_rows(problem: Problem, cfg: Config) -> Config:
    """`cfg` with sizes a finite data set can hold: the small-data rule.

    The rule, the same for every method: the label budget N0 + T k may use at most
    half of the rows not held out for testing, so that the last pools still have
    rows to choose from. Where the preset's budget fits, `cfg` is returned as it
    is (the study's protocol); otherwise N0 and k are scaled down by one factor,
    rounded down (at least 1 each), T kept, and `Config.size_rule` says so.
    ValueError when even N0 = k = 1 does not fit T steps.
    """
    data = problem.data
    if data is None:
        return cfg
    n_test = data.n_test_rows(cfg.n_test)
    allowed = (data.n_rows - n_test) // 2
    if cfg.n_final <= allowed:
        return cfg
    if allowed < 1 + cfg.steps:
        raise ValueError(
            f"problem {problem.name!r} ({data.source}): {data.n_rows} rows are too "
            f"few for {cfg.steps} steps: half of the {data.n_rows - n_test} rows not "
            f"held out for testing is {allowed}, below N0 + T k = 1 + {cfg.steps} "
            "with N0 = k = 1; lower steps"
        )
    factor = allowed / cfg.n_final
    n_initial = max(1, math.floor(cfg.n_initial * factor))
    k = max(1, math.floor(cfg.k * factor))
    while n_initial + cfg.steps * k > allowed:  # the floors of 1 can overshoot
        if k > 1:
            k -= 1
        else:
            n_initial -= 1
    rule = (
        f"small-data rule: label budget <= half of the {data.n_rows - n_test} rows "
        f"not held out ({allowed}); N0 {cfg.n_initial} -> {n_initial}, k {cfg.k} -> "
        f"{k}, T {cfg.steps} kept"
    )
    return cfg.replace(n_initial=n_initial, k=k, size_rule=rule)


def check_problem(problem: Problem, cfg: Config, method: Acquisition) -> None:
    """ValueError when a finite data set cannot run `cfg`: a method that
    synthesises points (it has no row to label), or too few rows."""
    data = problem.data
    if data is None:
        return
    where = f"problem {problem.name!r} is a finite data set ({data.source})"
    if method.returns_points:
        raise ValueError(
            f"{where}: method {method.name!r} synthesises points, which have no "
            "label in the data; use a method that picks from the pool"
        )
    n_test = data.n_test_rows(cfg.n_test)
    # N0 + T k to label, the test rows, and up to (largest group - 1) rows of a
    # duplicate group cut by the test split (`finite_split`).
    needed = cfg.n_final + n_test + data.largest_group - 1
    if data.n_rows < needed:
        max_steps = (data.n_rows - n_test - cfg.n_initial) // cfg.k
        hint = (
            f"lower steps to {max_steps} or less, or k or n_initial"
            if max_steps >= 1
            else "lower n_initial or k"
        )
        raise ValueError(
            f"{where}: {data.n_rows} rows are too few: n_initial + steps * k = "
            f"{cfg.n_initial} + {cfg.steps} * {cfg.k} = {cfg.n_final} rows to label "
            f"plus {n_test} test rows = {needed} needed; {hint}"
        )


def mean_prediction_mse(
    ensemble: Ensemble, state: EnsembleState, x: jax.Array, y: jax.Array
) -> jax.Array:
    """MSE of the member mean over test points and output dimensions."""
    mean = jnp.mean(ensemble.predict(state, x), axis=0)
    return jnp.mean(jnp.square(mean - y))


class Setup(NamedTuple):
    """What one config binds: the `Context` its method was made in (problem,
    config, ensemble with the method's head or side model, resolved options), the
    method, and its selection function."""

    context: Context
    method: Acquisition
    select: SelectFn

    @property
    def problem(self) -> Problem:
        return self.context.problem

    @property
    def ensemble(self) -> Ensemble:
        return self.context.ensemble

    @property
    def options(self) -> Mapping[str, Any]:
        return self.context.options


def setup(cfg: Config, problem: Problem | None = None) -> Setup:
    """Validates `cfg` (ranges, names, the method's options) and binds its parts.

    `problem`: the problem to bind instead of the registry's `cfg.problem` (a
    campaign's, which is not registered)."""
    cfg.validate()
    problem = problem or problems.get(cfg.problem)
    method = acquisitions.get(cfg.method)
    acquisitions.check_options(cfg.options)
    check_problem(problem, cfg, method)
    if cfg.problem_fingerprint not in (None, problem.fingerprint):
        raise ValueError(
            f"Config.problem_fingerprint={cfg.problem_fingerprint!r} is not that of "
            f"the problem registered as {cfg.problem!r} ({problem.fingerprint!r}): "
            "the problem changed since this config was made"
        )
    if method.uses_pool and cfg.gamma is None:
        raise ValueError(
            f"Config.gamma=None is invalid for method {cfg.method!r}: it draws from "
            "a pool, so it needs a pool ratio (an integer >= 1)"
        )
    options = method.resolve_options(cfg.options)
    extras = (problem, cfg, options)
    ensemble = make_ensemble(
        problem,
        cfg,
        head=None if method.make_head is None else method.make_head(*extras),
        side=None if method.make_side is None else method.make_side(*extras),
    )
    context = Context(problem, cfg, ensemble, options)
    return Setup(context, method, method.make(context))


def make_run(cfg: Config, timed: bool = False) -> Callable[[jax.Array], RunResult]:
    """Builds `run(key) -> RunResult` for one (problem, method, gamma) cell.

    Keys are derived so that, for one seed, the initial set, the test set, the
    ensemble initialisation and the pools are the same for every method and gamma
    (paired comparisons). `timed` adds wall-clock stamps (`RunResult.clock`,
    `jdal.stopwatch`); the numbers are the same either way.
    """
    run = _make_run(cfg, timed)
    return lambda key: run(key, cfg.pool_size)


def check_gammas(cfg: Config, gammas: Sequence[int]) -> tuple[int, ...]:
    """The γ grid as a tuple; ValueError naming the bad value or method."""
    gammas = tuple(gammas)
    if not gammas:
        raise ValueError("gammas: need at least one pool ratio")
    if len(set(gammas)) != len(gammas):
        raise ValueError(f"gammas: values must be distinct, got {list(gammas)}")
    for gamma in gammas:
        if isinstance(gamma, bool) or not isinstance(gamma, int | np.integer):
            raise ValueError(f"gammas: {gamma!r} is not an integer pool ratio")
        if gamma < 1:
            raise ValueError(f"gammas: {gamma} is not a pool ratio >= 1")
    if not acquisitions.get(cfg.method).uses_pool:
        raise ValueError(
            f"method {cfg.method!r} ignores gamma: run it once with make_run, "
            "not over a gamma grid"
        )
    return tuple(int(g) for g in gammas)


def make_grid_run(
    cfg: Config, gammas: Sequence[int], timed: bool = False
) -> Callable[[jax.Array, jax.Array], RunResult]:
    """Builds `run(key, gamma int32[]) -> RunResult` for any γ of the grid `gammas`.

    One trace serves the whole grid, so `vmap` over (key, gamma) pairs runs every
    γ × seed of a (problem, method) in one compiled call. Each pool is drawn at the
    largest γ with its rows beyond γ k masked out: pools nest across γ
    (`draw_pool`), so a run equals `make_run(cfg.replace(gamma=γ))(key)` up to
    float rounding, at the price of acquisition work on the largest pool for every
    γ. `cfg.gamma` is ignored; `timed` as in `make_run`.
    """
    gammas = check_gammas(cfg, gammas)
    run = _make_run(cfg.replace(gamma=max(gammas)), timed)
    return lambda key, gamma: run(key, cfg.k * gamma)


class Start(NamedTuple):
    """What a run starts from: its test set, its labelled initial set and the
    source's bookkeeping of taken candidates.

    test_x: f32[n_test, d], test_y: f32[n_test, dy].
    initial_x: f32[N0, d], initial_y: f32[N0, dy].
    used: the source's state (`Source.mark`): bool[N] rows of a table, () for a box.
    """

    test_x: jax.Array
    test_y: jax.Array
    initial_x: jax.Array
    initial_y: jax.Array
    used: Any


PoolFn = Callable[[jax.Array, Any, int], tuple[Pool, jax.Array]]


class Source(NamedTuple):
    """Where a run's points and labels come from: one record for every kind, so
    the run (and a campaign, `jdal.campaign`) has one code path.

    start(key_test, key_initial) -> Start.
    pool(key, used, size) -> (Pool, ids int32[size]): `size` candidates and which
      they are (rows of a table; positions in a fresh box pool).
    label(ids int32[k], x f32[k, d]) -> f32[k, dy]; a campaign's labels come from
      outside instead.
    mark(used, ids int32[k]) -> used: the picked candidates are taken.
    """

    start: Callable[[jax.Array, jax.Array], Start]
    pool: PoolFn
    label: Callable[[jax.Array, jax.Array], jax.Array]
    mark: Callable[[Any, jax.Array], Any]


def box_pool(dim_x: int) -> PoolFn:
    """Fresh uniform pools on [-1, 1]^dim_x (`draw_pool`); nothing is ever taken."""

    def pool(key: jax.Array, used: Any, size: int) -> tuple[Pool, jax.Array]:
        del used
        return full_pool(draw_pool(key, size, dim_x)), jnp.arange(size)

    return pool


def rows_pool(x_rows: jax.Array) -> PoolFn:
    """Pools of not-yet-taken rows of a table x_rows f32[N, d] (`finite_pool`);
    `used` is bool[N]."""

    def pool(key: jax.Array, used: jax.Array, size: int) -> tuple[Pool, jax.Array]:
        rows, available = finite_pool(key, used, size)
        return Pool(x_rows[rows], available), rows

    return pool


def take_rows(used: jax.Array, rows: jax.Array) -> jax.Array:
    """`used` bool[N] with `rows` int32[k] marked taken."""
    return used.at[rows].set(True)


def box_source(problem: Problem, cfg: Config) -> Source:
    """An oracle on [-1, 1]^d: uniform test and initial points, fresh uniform
    pools, labels from the oracle."""
    d = problem.dim_x

    def uniform(key, n):
        return jax.random.uniform(key, (n, d), jnp.float32, -1.0, 1.0)

    rows = None if cfg.test_inputs is None else test_rows_of(problem, cfg)

    def start(key_test: jax.Array, key_initial: jax.Array) -> Start:
        if rows is None:
            test_x = uniform(key_test, cfg.n_test)
        else:  # a random subset of the table's input rows
            order = jax.random.permutation(key_test, rows.shape[0])
            test_x = rows[order[: min(cfg.n_test, rows.shape[0])]]
        initial_x = uniform(key_initial, cfg.n_initial)
        return Start(
            test_x, problem.label(test_x), initial_x, problem.label(initial_x), ()
        )

    return Source(
        start=start,
        pool=box_pool(d),
        label=lambda ids, x: problem.label(x),
        mark=lambda used, ids: used,
    )


def test_rows_of(problem: Problem, cfg: Config) -> jax.Array:
    """f32[N, d] input rows of the finite problem `cfg.test_inputs`, the test
    points of the oracle `problem`; ValueError unless the inputs match."""
    table = problems.get(cfg.test_inputs)
    if table.data is None or problem.data is not None:
        raise ValueError(
            f"Config.test_inputs={cfg.test_inputs!r}: needs an oracle problem (got "
            f"{problem.name!r}) and a finite data set to take test inputs from"
        )
    if table.dim_x != problem.dim_x:
        raise ValueError(
            f"Config.test_inputs={cfg.test_inputs!r} has {table.dim_x} inputs, "
            f"problem {problem.name!r} has {problem.dim_x}"
        )
    return table.data.x


def rows_source(data: FiniteData, cfg: Config) -> Source:
    """A finite data set: test and initial rows from one random order
    (`finite_split`), pools of unused rows, labels looked up."""

    def start(key_test: jax.Array, key_initial: jax.Array) -> Start:
        del key_initial  # one order gives the test rows and the initial rows
        n_test = data.n_test_rows(cfg.n_test)
        test_rows, initial_rows, used = finite_split(
            key_test, data, n_test, cfg.n_initial
        )
        return Start(
            data.x[test_rows],
            data.y[test_rows],
            data.x[initial_rows],
            data.y[initial_rows],
            used,
        )

    return Source(
        start=start,
        pool=rows_pool(data.x),
        label=lambda rows, x: data.y[rows],
        mark=take_rows,
    )


def make_source(problem: Problem, cfg: Config) -> Source:
    """The source of a benchmark run: the problem's rows, or its oracle's box."""
    if problem.data is None:
        return box_source(problem, cfg)
    return rows_source(problem.data, cfg)


class StepKeys(NamedTuple):
    """The random keys of AL step t, the same for every method and γ of a seed."""

    train: jax.Array
    pool: jax.Array
    select: jax.Array


def step_keys(key_steps: jax.Array, t: jax.Array | int) -> StepKeys:
    """Keys of step t from the run's step key (`run_keys(key).steps`)."""
    return StepKeys(*jax.random.split(jax.random.fold_in(key_steps, t), 3))


class RunKeys(NamedTuple):
    """A seed's keys: the initial set, the test set, the ensemble's initialisation
    and the steps (`step_keys`)."""

    initial: jax.Array
    test: jax.Array
    model: jax.Array
    steps: jax.Array


def run_keys(key: jax.Array) -> RunKeys:
    return RunKeys(*(jax.random.fold_in(key, i) for i in range(4)))


class Proposal(NamedTuple):
    """One acquisition's batch.

    ids: int32[k] the picked candidates' ids (`Source.pool`; 0 for synthesised
      points); x: f32[k, d] their points; pool_size: int32[] candidates offered
      (0 for query synthesis).
    """

    ids: jax.Array
    x: jax.Array
    pool_size: jax.Array


ProposeFn = Callable[[StepKeys, AcqState, Any, Any], Proposal]


def make_propose(cfg: Config, method: Acquisition, select: SelectFn, pool: PoolFn):
    """`propose(keys, acq_state, used, n_candidates) -> Proposal`: draws the step's
    pool of `cfg.pool_size` candidates, of which the first `n_candidates` (int32[]
    or int) count, and lets the method pick k of them (or synthesise k points)."""
    k = cfg.k

    def propose(
        keys: StepKeys, acq_state: AcqState, used: Any, n_candidates: Any
    ) -> Proposal:
        if method.returns_points:
            x = jnp.clip(select(keys.select, None, acq_state, k), -1.0, 1.0)
            return Proposal(jnp.zeros(k, jnp.int32), x, jnp.int32(0))
        candidates, ids = pool(keys.pool, used, cfg.pool_size)
        in_grid = jnp.arange(cfg.pool_size) < n_candidates
        candidates = candidates._replace(mask=candidates.mask & in_grid)
        picked = select(keys.select, candidates, acq_state, k)
        pool_size = jnp.sum(candidates.mask).astype(jnp.int32)
        return Proposal(ids[picked], candidates.x[picked], pool_size)

    return propose


def record_batch(
    buffer_x: jax.Array,
    buffer_y: jax.Array,
    n: jax.Array | int,
    new_x: jax.Array,
    new_y: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Writes a labelled batch (f32[k, d], f32[k, dy]) into buffer rows n .. n + k;
    returns the buffers and the batch's diversity (mean nearest-other distance)."""
    buffer_x = jax.lax.dynamic_update_slice(buffer_x, new_x, (n, 0))
    buffer_y = jax.lax.dynamic_update_slice(buffer_y, new_y, (n, 0))
    return buffer_x, buffer_y, jnp.mean(nearest_other_distance(new_x, buffer_x, n))


def padded(rows: jax.Array, capacity: int) -> jax.Array:
    """rows f32[n, c] in a zero-padded f32[capacity, c] buffer."""
    return (
        jnp.zeros((capacity, rows.shape[1]), jnp.float32).at[: rows.shape[0]].set(rows)
    )


class RunCarry(NamedTuple):
    """The scan carry: the labelled buffers f32[N0 + T k, ·], the trained
    ensemble and the source's taken candidates."""

    buffer_x: jax.Array
    buffer_y: jax.Array
    model: EnsembleState
    used: Any


class StepRecord(NamedTuple):
    """One step's outputs of the scan (stacked over steps)."""

    mse: jax.Array
    train_loss: jax.Array
    div: jax.Array
    new_x: jax.Array
    nonfinite: jax.Array
    pool_size: jax.Array
    clock: Any  # (after training, after acquisition) stamps, or () untimed


def _make_run(
    cfg: Config, timed: bool = False
) -> Callable[[jax.Array, jax.Array | int], RunResult]:
    """`run(key, n_candidates)`: pools of `cfg.pool_size` rows of which the first
    `n_candidates` (int32[], or an int) are candidates."""
    parts = setup(cfg)
    problem, method, ensemble = parts.problem, parts.method, parts.ensemble
    buckets = size_buckets(cfg)
    d, k = problem.dim_x, cfg.k
    source = make_source(problem, cfg)
    propose = make_propose(cfg, method, parts.select, source.pool)

    def run(key: jax.Array, n_candidates: jax.Array | int) -> RunResult:
        keys = run_keys(key)
        start = source.start(keys.test, keys.initial)
        carry = RunCarry(
            padded(start.initial_x, cfg.n_final),
            padded(start.initial_y, cfg.n_final),
            ensemble.init(keys.model),
            start.used,
        )
        # Stamps take small values that are ready only once the part is done.
        started = stopwatch.stamp(start.initial_y[0, 0]) if timed else ()

        def make_step(capacity: int, holds_final: bool):
            def acquire(carry: RunCarry, keys: StepKeys, n) -> tuple[RunCarry, tuple]:
                acq_state = AcqState(
                    carry.buffer_x[:capacity], carry.buffer_y[:capacity], n, carry.model
                )
                proposal = propose(keys, acq_state, carry.used, n_candidates)
                new_y = source.label(proposal.ids, proposal.x)
                buffer_x, buffer_y, div = record_batch(
                    carry.buffer_x, carry.buffer_y, n, proposal.x, new_y
                )
                nonfinite = jnp.sum(~jnp.isfinite(new_y)).astype(jnp.int32)
                used = source.mark(carry.used, proposal.ids)
                carry = RunCarry(buffer_x, buffer_y, carry.model, used)
                return carry, (div, proposal.x, nonfinite, proposal.pool_size)

            def final(carry: RunCarry, keys: StepKeys, n) -> tuple[RunCarry, tuple]:
                # Step T: the buffer is full and nothing more is labelled.
                del keys, n
                nothing = jnp.int32(0)
                zeros_x = jnp.zeros((k, d), jnp.float32)
                return carry, (jnp.float32(0), zeros_x, nothing, nothing)

            def step(carry: RunCarry, t):
                n = cfg.n_initial + t * k
                keys_t = step_keys(keys.steps, t)
                model, info = ensemble.train(
                    keys_t.train,
                    carry.model,
                    carry.buffer_x[:capacity],
                    carry.buffer_y[:capacity],
                    n,
                )
                mse = mean_prediction_mse(ensemble, model, start.test_x, start.test_y)
                carry = carry._replace(model=model)
                if holds_final:  # t is not batched, so this stays one branch.
                    carry, acquired = jax.lax.cond(
                        t < cfg.steps, acquire, final, carry, keys_t, n
                    )
                else:
                    carry, acquired = acquire(carry, keys_t, n)
                clock = ()
                if timed:
                    trained = stopwatch.stamp(info.loss[-1])
                    clock = trained, stopwatch.stamp((trained, mse, acquired))
                return carry, StepRecord(mse, info.loss[-1], *acquired, clock)

            return step

        records = []
        for bucket in buckets:
            steps = jnp.arange(bucket.first_step, bucket.first_step + bucket.n_steps)
            holds_final = bucket.first_step + bucket.n_steps > cfg.steps
            step = make_step(bucket.capacity, holds_final)
            carry, record = jax.lax.scan(step, carry, steps)
            records.append(record)
        out = jax.tree.map(lambda *parts: jnp.concatenate(parts), *records)
        initial_nonfinite = jnp.sum(~jnp.isfinite(start.initial_y)).astype(jnp.int32)
        return RunResult(
            mse=out.mse,
            n_labelled=cfg.n_initial + k * jnp.arange(cfg.steps + 1, dtype=jnp.int32),
            train_loss=out.train_loss,
            div_per_step=out.div[: cfg.steps],
            div=jnp.mean(out.div[: cfg.steps]),
            picked_x=out.new_x[: cfg.steps],
            n_nonfinite_labels=jnp.sum(out.nonfinite) + initial_nonfinite,
            pool_sizes=out.pool_size[: cfg.steps],
            clock=clock_stamps(started, out.clock) if timed else (),
        )

    return run


def clock_stamps(started: jax.Array, steps: tuple[jax.Array, jax.Array]) -> jax.Array:
    """uint32[2T + 3, 2]: the start stamp, then each step's (trained, done) pair."""
    pairs = einops.rearrange(jnp.stack(steps), "part t c -> (t part) c")
    return jnp.concatenate([started[None], pairs])


def seed_keys(seeds) -> jax.Array:
    """Typed keys for integer seeds: int[S] -> key[S]; seed s gives key(s)."""
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, dtype=jnp.uint32))


def buffer_capacity(cfg: Config, n: int) -> int:
    """Buffer rows a step's training and acquisition see with n labels: the size
    bucket's capacity (`size_buckets`), so a campaign's step compiles exactly the
    run's shapes; beyond N0 + T k, the next power of two."""
    for bucket in size_buckets(cfg):
        if n <= bucket.capacity:
            return bucket.capacity
    return 1 << (n - 1).bit_length()
