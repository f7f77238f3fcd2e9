"""Benchmark problems: a registry of pure oracles on [-1, 1]^d.

>>> import jdal
>>> problem = jdal.problems.get("robo")
>>> problem.oracle(jnp.zeros(4))          # f32[4] -> f32[2]
>>> jax.vmap(problem.oracle)(x)           # f32[n, 4] -> f32[n, 2]
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

from jdal.problems.base import ModelSpec, Problem


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


__all__ = ["PROBLEMS", "ModelSpec", "Problem", "get", "names"]
