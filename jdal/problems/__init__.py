"""Benchmark problems: a registry of pure oracles on [-1, 1]^d.

>>> import jdal
>>> problem = jdal.problems.get("robo")
>>> problem.oracle(jnp.zeros(4))          # f32[4] -> f32[2]
>>> jax.vmap(problem.oracle)(x)           # f32[n, 4] -> f32[n, 2]

Your own problem (`jdal.problems.user`) registers beside the built-in ones:

>>> jdal.problems.oracle_problem("mine", f, lower, upper)    # f: f32[d] -> f32[dy]
>>> jdal.problems.data_problem("table", x, y)                # finite rows
>>> jdal.problems.file_problem("data.csv")                   # .csv / .npz rows
>>> jdal.problems.get("mine")
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

from jdal.problems.base import FiniteData, ModelSpec, Problem


def _factory(module: str, function: str) -> Callable[[], Problem]:
    """Imports a family module on first use (forests load their arrays only then)."""

    def make() -> Problem:
        return getattr(importlib.import_module(f"jdal.problems.{module}"), function)()

    return make


# name -> factory; `get` runs each factory once.
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "sine": _factory("analytic", "make_sine"),
    "robo": _factory("analytic", "make_robo"),
    "stack": _factory("optics", "make_stack"),
    "adm": _factory("optics", "make_adm"),
    "foil": _factory("forests", "make_foil"),
    "hydr": _factory("forests", "make_hydr"),
    "bess": _factory("physics", "make_bess"),
    "damp": _factory("physics", "make_damp"),
}


# The built-in problems: a user problem may not take their names.
BUILT_IN = tuple(PROBLEMS)


def names() -> list[str]:
    """The registered problem ids, in the spec's order."""
    return list(PROBLEMS)


@functools.cache
def get(name: str) -> Problem:
    """Returns the problem called `name`; raises ValueError listing valid names."""
    if name not in PROBLEMS:
        raise ValueError(
            f"unknown problem {name!r}; valid problems are: {', '.join(PROBLEMS)}"
        )
    return PROBLEMS[name]()


def register(problem: Problem) -> Problem:
    """Adds a user problem to the registry under `problem.name`, so `get` returns
    it like a built-in one; registering the name again replaces the earlier one.
    ValueError when the name is a built-in one."""
    if problem.name in BUILT_IN:
        raise ValueError(
            f"problem name {problem.name!r} is a built-in problem; choose another name"
        )
    PROBLEMS[problem.name] = lambda: problem
    get.cache_clear()  # the name may have been looked up (or replaced) before
    return problem


# After `register` and `get`: jdal.problems.user uses them.
from jdal.problems.user import (  # noqa: E402
    data_problem,
    default_model,
    file_problem,
    load,
    oracle_problem,
)

__all__ = [
    "BUILT_IN",
    "PROBLEMS",
    "FiniteData",
    "ModelSpec",
    "Problem",
    "data_problem",
    "default_model",
    "file_problem",
    "get",
    "load",
    "names",
    "oracle_problem",
    "register",
]
