"""Shared test settings: strict rank promotion, JAX's persistent compilation cache
(on, as for the CLI: JDAL_COMPILATION_CACHE=off or a folder overrides the default),
and a typed PRNG key fixture."""

import jax
import pytest

from jdal import compile_cache

jax.config.update("jax_numpy_rank_promotion", "raise")
compile_cache.enable()


@pytest.fixture
def key():
    return jax.random.key(0)
