"""The problem registry: built-in problems by name, and user problems added to it.

A built-in problem's module is imported on first `get` (forests and data sets load
their arrays only then); `get` caches each problem.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

from jdal.problems.base import Problem


def _factory(module: str, function: str, *args) -> Callable[[], Problem]:
    """Imports a family module on first use (forests load their arrays only then,
    exponax is imported only for a PDE problem)."""

    def make() -> Problem:
        return getattr(importlib.import_module(f"jdal.problems.{module}"), function)(
            *args
        )

    return make


# (dynamics, input dimension) of the PDE problems `<dynamics>_d<d>` (the cases of
# `jdal.problems.pde`, kept equal to its NAMES by a test).
_PDE_CASES = tuple(
    (dynamics, dim_x) for dynamics in ("burgers", "kdv") for dim_x in (8, 32, 128)
)

# name -> factory; `get` runs each factory once.
PROBLEMS: dict[str, Callable[[], Problem]] = {
    # The study's eight oracles, in the spec's order.
    "sine": _factory("analytic", "make_sine"),
    "robo": _factory("analytic", "make_robo"),
    "stack": _factory("optics", "make_stack"),
    "adm": _factory("optics", "make_adm"),
    "foil": _factory("forests", "make_foil"),
    "hydr": _factory("forests", "make_hydr"),
    "bess": _factory("physics", "make_bess"),
    "damp": _factory("physics", "make_damp"),
    # Measured and tabulated data sets: finite problems, read on first use.
    "airfoil": _factory("measured", "make_airfoil"),
    "yacht": _factory("measured", "make_yacht"),
    "concrete": _factory("measured", "make_concrete"),
    "energy": _factory("measured", "make_energy"),
    "kin8nm": _factory("measured", "make_kin8nm"),
    "ccpp": _factory("measured", "make_ccpp"),
    # PDE oracles with 8 to 128 inputs (exponax solvers), beyond the study.
    **{
        f"{dynamics}_d{dim_x}": _factory("pde", "make", dynamics, dim_x)
        for dynamics, dim_x in _PDE_CASES
    },
}

# The study's eight (the default of sweeps) and the shipped measured data sets.
STUDY = ("sine", "robo", "stack", "adm", "foil", "hydr", "bess", "damp")
MEASURED = ("airfoil", "yacht", "concrete", "energy", "kin8nm", "ccpp")
# The PDE problems, in registry order.
PDE = tuple(f"{dynamics}_d{dim_x}" for dynamics, dim_x in _PDE_CASES)
# The built-in problems, all groups: a user problem may not take their names.
BUILT_IN = STUDY + MEASURED + PDE


def names() -> list[str]:
    """The study's eight problem ids in the spec's order, then any problems
    registered in this process: what sweeps and tables take as all problems.
    The measured data sets and PDE problems are listed apart (`measured_names`,
    `pde_names`)."""
    return [name for name in PROBLEMS if name not in MEASURED + PDE]


def measured_names() -> list[str]:
    """The shipped measured data sets (finite problems), in registry order."""
    return list(MEASURED)


def pde_names() -> list[str]:
    """The built-in PDE problems (`jdal.problems.pde`), in registry order."""
    return list(PDE)


def _valid_names() -> str:
    """The built-in and registered names in words, for error messages."""
    return (
        f"{', '.join(names())}; measured data sets: {', '.join(measured_names())}; "
        f"PDE problems: {', '.join(pde_names())}"
    )


def check_known(name: str) -> str:
    """`name` if a built-in or registered problem has it (nothing is built);
    else ValueError listing valid names."""
    if name not in PROBLEMS:
        raise ValueError(
            f"unknown problem {name!r}; valid problems are: {_valid_names()}"
        )
    return name


@functools.cache
def get(name: str) -> Problem:
    """Returns the problem called `name` (any built-in or registered one);
    raises ValueError listing valid names."""
    return PROBLEMS[check_known(name)]()


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
