"""Benchmark problems: a registry of pure oracles on [-1, 1]^d.

>>> import jdal
>>> problem = jdal.problems.get("robo")
>>> problem.oracle(jnp.zeros(4))          # f32[4] -> f32[2]
>>> jax.vmap(problem.oracle)(x)           # f32[n, 4] -> f32[n, 2]

Three groups are built in: the study's eight oracles (`STUDY`, `names()`) and six
measured data sets shipped as finite problems (`MEASURED`, `measured_names()`):
airfoil, yacht, concrete, energy, kin8nm, ccpp (`jdal.problems.measured`).
Six PDE oracles with 8 to 128 inputs, `burgers_d8` ... `kdv_d128` (`PDE`,
`pde_names()`; `jdal.problems.pde`), go beyond the study's dimensions.
`names()` is what sweeps and tables take as "all problems": the study's eight
(and problems registered in this process); a measured set or a PDE problem
runs when named.

Your own problem registers beside the built-in ones (`user_oracle`, `user_data`,
`files`):

>>> jdal.problems.oracle_problem("mine", f, lower, upper)    # f: f32[d] -> f32[dy]
>>> jdal.problems.data_problem("table", x, y)                # finite rows
>>> jdal.problems.file_problem("data.csv")                   # .csv / .npz rows
>>> jdal.problems.get("mine")
"""

from __future__ import annotations

from jdal.problems.base import FiniteData, ModelSpec, Problem
from jdal.problems.files import file_problem
from jdal.problems.registry import (
    BUILT_IN,
    MEASURED,
    PDE,
    PROBLEMS,
    STUDY,
    get,
    measured_names,
    names,
    pde_names,
    register,
)
from jdal.problems.user_data import data_problem
from jdal.problems.user_oracle import default_model, oracle_problem

__all__ = [
    "BUILT_IN",
    "MEASURED",
    "PDE",
    "PROBLEMS",
    "STUDY",
    "FiniteData",
    "ModelSpec",
    "Problem",
    "data_problem",
    "default_model",
    "file_problem",
    "get",
    "measured_names",
    "names",
    "oracle_problem",
    "pde_names",
    "register",
]
