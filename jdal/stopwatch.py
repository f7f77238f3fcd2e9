"""Wall-clock stamps taken inside a compiled run (opt-in: `make_run(cfg, timed=True)`).

A stamp is a host callback that reads the clock once the values it is given have
been computed, so the time between two stamps is the time of the work between
them, measured in the run itself: nothing is compiled or run a second time to time
it. A stamp is uint32[2] (whole seconds, microseconds) of `time.perf_counter`, kept
exact without 64-bit types on the device; `seconds` turns stamps into float64
seconds on the host.

This is the one place where the core talks to the host during a run, which is why
it is opt-in: `make_run(cfg)` alone stays free of callbacks. A run with stamps
computes the same numbers as one without (a stamp only reads its inputs), but it
cannot be stored in JAX's persistent compilation cache.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

STAMP = jax.ShapeDtypeStruct((2,), jnp.uint32)


def _now(_) -> np.ndarray:
    seconds, fraction = divmod(time.perf_counter(), 1.0)
    return np.array([int(seconds), int(fraction * 1e6)], np.uint32)


def stamp(after: Any) -> jax.Array:
    """uint32[2]: the host clock read once every array in `after` is computed."""
    return io_callback(_now, STAMP, after)


def seconds(stamps: Any) -> np.ndarray:
    """uint32[..., 2] stamps -> float64[...] seconds (on the host)."""
    stamps = np.asarray(stamps, np.float64)
    return stamps[..., 0] + 1e-6 * stamps[..., 1]
