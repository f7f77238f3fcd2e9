"""Shared test settings: strict rank promotion, fast XLA compiles, JAX's persistent
compilation cache, and a typed PRNG key fixture.

Compiling dominates the suite on a CPU, and most of it is LLVM optimising code
that then runs for milliseconds: the tests compile with XLA's CPU backend
optimisation off (`--xla_backend_optimization_level=0`, set before JAX starts and
inherited by the subprocess tests), which halves their time. Every program of the
suite is compiled the same way, so comparisons between programs stay exact. The
persistent cache is on as for the CLI (JDAL_COMPILATION_CACHE=off or a folder
overrides the default)."""

import contextlib
import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

from jdal import compile_cache, problems  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
compile_cache.enable()


@contextlib.contextmanager
def _problem_registry_restored():
    saved = dict(problems.PROBLEMS)
    yield
    if problems.PROBLEMS != saved:
        problems.PROBLEMS.clear()
        problems.PROBLEMS.update(saved)
        problems.get.cache_clear()


# User problems registered by a test, or by a module-scoped fixture (set up before
# any function-scoped one, so only a module-scoped restore sees it), leave the
# registry as they found it: no later test in the same xdist worker sees them.
@pytest.fixture(autouse=True, scope="module")
def _restore_problem_registry_per_module():
    with _problem_registry_restored():
        yield


@pytest.fixture(autouse=True)
def _restore_problem_registry_per_test():
    with _problem_registry_restored():
        yield


@pytest.fixture
def key():
    return jax.random.key(0)
