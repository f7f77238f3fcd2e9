"""The smallest run that still takes every method through `make_run`, shared by the
end-to-end tests on the built-in problems and on finite data sets.

Their cost is XLA compilation (~2 s per (problem, method) on a CPU whatever the
sizes), so the sizes are tiny and the CPU backend skips LLVM optimisation.
"""

import jax

from jdal import acquisitions, config

FAST_COMPILE = {"xla_backend_optimization_level": 0}


def tiny_config(problem: str, method: str, uses_pool: bool | None = None):
    """N0 8, k 4, T 2, 2 members of width 8, 2 gradient steps, 8 test points;
    γ = 3 (pools of 12) for a method that uses a pool (`uses_pool` None: as the
    registry says), none otherwise."""
    if uses_pool is None:
        uses_pool = acquisitions.get(method).uses_pool
    return config.smoke(
        problem=problem,
        method=method,
        steps=2,
        train_steps=2,
        n_members=2,
        max_width=8,
        n_test=8,
        n_initial=8,
        k=4,
        gamma=3 if uses_pool else None,
        train_buckets=1,
        options={"naqbc.steps": 3, "bald.passes": 2},
    )


def compile_fast(fn, key):
    """`fn` jitted and compiled for `key` without LLVM optimisation."""
    return jax.jit(fn).lower(key).compile(compiler_options=FAST_COMPILE)
