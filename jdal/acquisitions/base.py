"""What every acquisition shares: its signature, its inputs, its settings.

An acquisition is a pure function with one signature,

    select(key, pool: Pool, state: AcqState, k: int) -> int32[k]   (pool indices)
    select(key, None, state, k)                      -> f32[k, d]  (query synthesis)

made by a factory `make(ctx: Context) -> select` that binds the model-specific
callables (the ensemble's `predict`, the oracle, the method's options) with
closures, so the selection itself stays a pure function of arrays. The pool always
travels with its mask (`Pool`): a method cannot forget which rows are candidates.

Most methods are one of two shapes, each a builder: rank a score
(`top_k_method(make_score)`, here) or pick greedily by max-min distance
(`jdal.acquisitions.greedy.greedy_method`). A method's own settings are declared
next to it (`Acquisition.options`) and overridden by `Config.options`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jdal.config import Config, OptionPairs, OptionValue
from jdal.models.ensemble import Ensemble, EnsembleState, MemberHead, SideModel
from jdal.problems import Problem


class Pool(NamedTuple):
    """Candidate points of one acquisition.

    x: f32[P, d] points; mask: bool[P] which rows are candidates. A γ grid pads
    every pool to the largest γ and masks the rows beyond γ k: pick among masked-in
    rows only and take pool statistics (normalisation, density, means) over them.
    """

    x: jax.Array
    mask: jax.Array


def full_pool(x: jax.Array) -> Pool:
    """A pool whose every row f32[P, d] is a candidate."""
    return Pool(x, jnp.ones(x.shape[0], bool))


class AcqState(NamedTuple):
    """What an acquisition may look at besides the pool (vmap- and jit-friendly).

    labelled_x: f32[N, d] fixed-capacity buffer; rows >= n_labelled are padding.
    labelled_y: f32[N, dy] true labels of the buffer rows.
    n_labelled: int32[] number of valid rows.
    ensemble: the trained `EnsembleState` (params, batch stats, side model).
    """

    labelled_x: jax.Array
    labelled_y: jax.Array
    n_labelled: jax.Array
    ensemble: EnsembleState

    @property
    def labelled_mask(self) -> jax.Array:
        """bool[N]: which buffer rows are labelled."""
        return jnp.arange(self.labelled_x.shape[0]) < self.n_labelled


SelectFn = Callable[[jax.Array, Pool | None, AcqState, int], jax.Array]
ScoreFn = Callable[[jax.Array, Pool, AcqState], jax.Array]


class Context(NamedTuple):
    """Static things a factory may bind: the problem, the config, the ensemble and
    the method's resolved options (name -> value, defaults overridden)."""

    problem: Problem
    cfg: Config
    ensemble: Ensemble
    options: Mapping[str, OptionValue]


# ---------------------------------------------------------------------------
# A method's own settings.


class Option(NamedTuple):
    """One setting of a method: its default and which values are allowed.

    allowed: the rule in words, for error messages ("an integer >= 1").
    is_valid: value -> bool.
    """

    default: OptionValue
    allowed: str
    is_valid: Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer_option(default: int, minimum: int) -> Option:
    """An integer setting >= `minimum`."""
    return Option(
        default, f"an integer >= {minimum}", lambda v: _is_int(v) and v >= minimum
    )


def number_option(
    default: float, low: float, high: float = math.inf, high_open: bool = False
) -> Option:
    """A real setting in [low, high] ([low, high) with `high_open`)."""
    bracket = ")" if high_open or high == math.inf else "]"

    def is_valid(value: Any) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return low <= value and (value < high if high_open else value <= high)

    return Option(default, f"a number in [{low}, {high}{bracket}", is_valid)


# ---------------------------------------------------------------------------
# The registry entry.


class Acquisition(NamedTuple):
    """A registry entry: a method's `make` plus what it needs beside the ensemble.

    name: id used by configs and the CLI.
    make: `Context -> SelectFn`.
    description: one line with the source and the rule.
    options: the method's own settings, name -> Option; `Config.options` overrides
      them as "<name>.<option>".
    returns_points: True for query synthesis (returns f32[k, d], gets no pool).
    reference: True for oracle references (shown apart, never as a competitor).
    uses_pool: False when the method ignores gamma (random, query synthesis): it
      runs once per problem, with `Config.gamma` None.
    make_head / make_side: `(Problem, Config, options) -> MemberHead / SideModel`
      for methods with extra trained parts; None costs nothing for the others.
    """

    name: str
    make: Callable[[Context], SelectFn]
    description: str
    options: Mapping[str, Option] = {}
    returns_points: bool = False
    reference: bool = False
    uses_pool: bool = True
    make_head: Callable[..., MemberHead] | None = None
    make_side: Callable[..., SideModel] | None = None

    def resolve_options(self, options: OptionPairs) -> dict[str, OptionValue]:
        """This method's options: defaults overridden by its entries in `options`
        (`Config.options`); ValueError naming the option and the allowed values on
        an unknown name or a bad value. Other methods' entries are ignored."""
        prefix = f"{self.name}."
        given = {n[len(prefix) :]: v for n, v in options if n.startswith(prefix)}
        for name, value in given.items():
            if name not in self.options:
                valid = ", ".join(f"{prefix}{o}" for o in self.options) or "none"
                raise ValueError(
                    f"Config.options: {prefix}{name} is not an option of "
                    f"{self.name!r}; its options: {valid}"
                )
            if not self.options[name].is_valid(value):
                raise ValueError(
                    f"Config.options: {prefix}{name}={value!r} is invalid: must be "
                    f"{self.options[name].allowed}"
                )
        return {n: given.get(n, option.default) for n, option in self.options.items()}


# Every registered method by name, in registration order (`register`).
ACQUISITIONS: dict[str, Acquisition] = {}


def register(acquisition: Acquisition) -> Acquisition:
    """Adds `acquisition` to the registry (its module does this where it defines
    it) and returns it; ValueError when another method has the name."""
    known = ACQUISITIONS.get(acquisition.name)
    if known is not None and known is not acquisition:
        raise ValueError(f"a method named {acquisition.name!r} is already registered")
    ACQUISITIONS[acquisition.name] = acquisition
    return acquisition


# ---------------------------------------------------------------------------
# Score helpers shared by the families.


def member_variance(preds: jax.Array) -> jax.Array:
    """Population variance over members, mean over outputs: f32[M, P, dy] -> f32[P]."""
    return jnp.mean(jnp.var(preds, axis=0), axis=-1)


def ensemble_mean(ctx: Context, state: AcqState, x: jax.Array) -> jax.Array:
    """f32[P, dy]: the ensemble's prediction (member mean) at x f32[P, d]."""
    return jnp.mean(ctx.ensemble.predict(state.ensemble, x), axis=0)


def minmax(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Min-max normalisation to [0, 1] over the masked-in entries (0 if constant)."""
    lo = jnp.min(jnp.where(mask, values, jnp.inf))
    hi = jnp.max(jnp.where(mask, values, -jnp.inf))
    span = hi - lo
    return jnp.where(span > 0, (values - lo) / jnp.where(span > 0, span, 1.0), 0.0)


def first_argmax(values: jax.Array) -> jax.Array:
    """int32[]: index of the first largest entry of `values` [n] (NaN-free), as
    jnp.argmax; written with max and min because the lowering of lax.argmax on
    float64 fails inside `jax.enable_x64` (JAX 0.10), where the kernel methods pick."""
    n = values.shape[0]
    is_best = values == jnp.max(values)
    index = jnp.min(jnp.where(is_best, jnp.arange(n, dtype=jnp.int32), n))
    return jnp.minimum(index, n - 1).astype(jnp.int32)


class Picking(NamedTuple):
    """The carry of `pick_one_at_a_time`: the method's own state, the candidates
    not yet picked (bool[P]) and the picks so far (int32[k], in pick order)."""

    state: Any
    remaining: jax.Array
    picks: jax.Array


def pick_one_at_a_time(
    k: int,
    candidates: jax.Array,
    state: Any,
    choose: Callable[[jax.Array, Any, jax.Array], jax.Array],
    update: Callable[[jax.Array, Any, jax.Array], Any],
) -> jax.Array:
    """int32[k] distinct rows of bool[P] `candidates`, picked one at a time.

    Pick i is `choose(i, state, remaining) -> int32[]`, a row still remaining; the
    method's state then becomes `update(i, state, index)`. One `fori_loop`; the
    greedy and kernel batch methods differ only in their state, choose and update.
    """

    def body(i, carry: Picking) -> Picking:
        index = choose(i, carry.state, carry.remaining)
        return Picking(
            update(i, carry.state, index),
            carry.remaining.at[index].set(False),
            carry.picks.at[i].set(index),
        )

    start = Picking(state, candidates, jnp.zeros(k, jnp.int32))
    return jax.lax.fori_loop(0, k, body, start).picks


def top_k(scores: jax.Array, k: int, mask: jax.Array) -> jax.Array:
    """int32[k] indices of the k largest scores f32[P] among the masked-in entries.

    Distinct by construction; `mask` (bool[P]) must hold >= k entries.
    """
    scores = jnp.where(mask, scores, -jnp.inf)
    return jax.lax.top_k(scores, k)[1].astype(jnp.int32)


def top_k_method(make_score: Callable[[Context], ScoreFn]):
    """`make` of a method that picks the k highest scores among the pool's rows.

    make_score: Context -> score(key, pool, state) -> f32[P].
    """

    def make(ctx: Context) -> SelectFn:
        score = make_score(ctx)

        def select(key: jax.Array, pool: Pool, state: AcqState, k: int):
            return top_k(score(key, pool, state), k, pool.mask)

        return select

    return make
