"""Your own oracle as a problem, and what every user problem shares.

    oracle_problem("borehole", f, lower, upper)   # f: f32[d] -> f32[dy], a box

An oracle gets points in the user's units: jdal works in [-1, 1]^d and maps x to
`lower + (x + 1) (upper - lower) / 2`. It is checked once, before any training
(traced with `jax.eval_shape`, then run on 64 points of the box), and a function
that cannot be traced, has the wrong output shape or returns a non-finite value is
refused with a one-line ValueError naming the problem (`output_size`,
`check_finite`).

Shared by every user problem (oracle, rows, files): the name rule (`check_name`),
the default model from d and dy (`default_model`) and the digest that makes results
of an edited problem stale (`fingerprint`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jdal.problems import registry
from jdal.problems.base import ModelSpec, Problem

# Problem names become result folders and comma-separated CLI lists.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Points of the box an oracle is tried on before it is accepted.
N_PROBES = 64
# The default model (`default_model`).
WIDTH_PER_DIMENSION = 50
MIN_WIDTH, MAX_WIDTH = 100, 500
FULL_BATCH_ROWS = 2000


def default_model(dim_x: int, dim_y: int) -> ModelSpec:
    """The model of a user problem unless one is given, in the spirit of the
    built-in ones of similar size (robo, bess, damp, foil, hydr):

    - 4 hidden layers of width 50 (d + dy), clipped to [100, 500];
    - 10 members, Adam learning rate 1e-3, weight decay 1e-4;
    - full batch up to 2000 labelled rows, minibatches of 2000 beyond.

    E.g. d 5, dy 1 (airfoil): 4 x 300; d 8, dy 1 (borehole): 4 x 450.
    """
    width = min(MAX_WIDTH, max(MIN_WIDTH, WIDTH_PER_DIMENSION * (dim_x + dim_y)))
    return ModelSpec(
        hidden=(width,) * 4,
        n_members=10,
        learning_rate=1e-3,
        weight_decay=1e-4,
        batch_size=FULL_BATCH_ROWS,
    )


def check_name(name: str) -> str:
    """`name` if it can be a problem id (a result folder, an item of a comma list):
    letters, digits, '_', '.', '-', not starting with '.', '_' or '-'."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"problem name {name!r} is invalid: use letters, digits, '_', '.' and "
            "'-', starting with a letter or digit"
        )
    return name


def register_if(problem: Problem, register: bool) -> Problem:
    """`problem`, added to the registry (`jdal.problems.register`) if asked."""
    if register:
        registry.register(problem)
    return problem


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


# ---------------------------------------------------------------------------
# A user oracle.


def _bounds(name: str, lower, upper) -> tuple[np.ndarray, np.ndarray]:
    """The input box as f64[d] arrays; ValueError naming the problem and the bound."""
    try:
        lower = np.asarray(lower, np.float64).reshape(-1)
        upper = np.asarray(upper, np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"problem {name!r}: lower and upper must be numbers, one per input "
            f"({one_line(error)})"
        ) from None
    if lower.shape != upper.shape or lower.size == 0:
        raise ValueError(
            f"problem {name!r}: lower has {lower.size} bounds and upper "
            f"{upper.size}; give one lower and one upper bound per input dimension"
        )
    for j in range(lower.size):
        if not (
            np.isfinite(lower[j]) and np.isfinite(upper[j]) and lower[j] < upper[j]
        ):
            raise ValueError(
                f"problem {name!r}: input {j} has bounds [{lower[j]}, {upper[j]}]; "
                "need finite lower < upper"
            )
    return lower, upper


def output_size(name: str, oracle: Callable, dim_x: int) -> int:
    """dy of `oracle` from its traced output shape (a scalar is dy = 1)."""
    spec = jax.ShapeDtypeStruct((dim_x,), jnp.float32)
    try:
        out = jax.eval_shape(oracle, spec)
    except Exception as error:  # anything the user's function raises under tracing
        raise ValueError(
            f"problem {name!r}: the oracle cannot be traced by jax.jit "
            f"(use jax.numpy, no Python control flow on values): {one_line(error)}"
        ) from None
    if not isinstance(out, jax.ShapeDtypeStruct) or out.ndim > 1 or out.size < 1:
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            f"problem {name!r}: the oracle must return one vector f32[dy] (or a "
            f"scalar) for an input f32[{dim_x}], got shape {shape}"
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(
            f"problem {name!r}: the oracle must return floats, got {out.dtype}"
        )
    return max(1, out.size)


def fingerprint(*parts) -> str:
    """A short sha256 digest of arrays (their dtype, shape and bytes) and of the
    repr of anything else: what defines a user problem, for `Problem.fingerprint`."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray | jax.Array):
            array = np.ascontiguousarray(np.asarray(part))
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:16]


def check_finite(name: str, oracle: Callable, dim_x: int, box=None) -> np.ndarray:
    """Runs `oracle` under `jit(vmap)` on the box's centre, two opposite corners
    and 61 uniform points (fixed seed); ValueError naming the first point (mapped
    by `box` to the user's units) where an output is not finite. Returns the
    values f32[64, dy] (they fingerprint the oracle)."""
    uniform = jax.random.uniform(
        jax.random.key(0), (N_PROBES - 3, dim_x), jnp.float32, -1.0, 1.0
    )
    ones = jnp.ones((1, dim_x), jnp.float32)
    probes = jnp.concatenate([0 * ones, -ones, ones, uniform])
    try:
        values = np.asarray(jax.jit(jax.vmap(oracle))(probes)).reshape(N_PROBES, -1)
    except Exception as error:
        raise ValueError(
            f"problem {name!r}: the oracle failed under jax.jit(jax.vmap(...)): "
            f"{one_line(error)}"
        ) from None
    bad = np.flatnonzero(~np.all(np.isfinite(values), axis=1))
    if bad.size:
        point = np.asarray(probes[bad[0]])
        where = np.asarray(box(point)) if box is not None else point
        raise ValueError(
            f"problem {name!r}: the oracle returned {values[bad[0]].tolist()} "
            f"(not finite) at x = {np.round(where, 6).tolist()}"
        )
    return values


def oracle_problem(
    name: str,
    oracle: Callable[[jax.Array], jax.Array],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    model: ModelSpec | None = None,
    y_bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    description: str = "",
    register: bool = True,
) -> Problem:
    """A problem from a jittable function of one point in the user's units.

    Args:
      name: registry id (letters, digits, '_', '.', '-'); not a built-in name.
      oracle: `f(u f32[d]) -> f32[dy]` (or a scalar: dy = 1), u in the box.
      lower, upper: the box, one bound per input dimension, lower < upper.
      model: the ensemble settings; default `default_model(d, dy)`.
      y_bounds: optional (low, high) per output (or scalars): outputs are mapped
        affinely so that [low, high] becomes [-1, 1], as the data problems'
        targets are; test MSE is then in those units. Default: raw outputs.
      description: one line for tables; default names the function and box.
      register: add it to the registry (`jdal.problems.get(name)`).

    Returns:
      The `Problem` (oracle on [-1, 1]^d). ValueError in one line naming the
      problem when the function or its box is not usable (`output_size`,
      `check_finite`).
    """
    check_name(name)
    lower, upper = _bounds(name, lower, upper)
    dim_x = lower.size
    low = np.asarray(lower, np.float32)
    half_span = np.asarray((upper - lower) / 2, np.float32)

    def to_box(x: jax.Array) -> jax.Array:
        """[-1, 1]^d -> the box, f32[d]."""
        return low + (x + 1.0) * half_span

    dim_y = output_size(name, lambda x: oracle(to_box(x)), dim_x)
    if y_bounds is not None:
        try:
            y_low, y_high = (
                np.broadcast_to(np.asarray(b, np.float32).reshape(-1), (dim_y,))
                for b in y_bounds
            )
        except (TypeError, ValueError):
            y_low = y_high = None
        if y_low is None or not np.all(y_low < y_high):
            raise ValueError(
                f"problem {name!r}: y_bounds must be (low, high), one number or one "
                f"per output ({dim_y}), with low < high"
            )
        y_scale = 2.0 / (y_high - y_low)

    def wrapped(x: jax.Array) -> jax.Array:
        y = jnp.reshape(oracle(to_box(x)), (dim_y,)).astype(jnp.float32)
        if y_bounds is None:  # the raw outputs
            return y
        return (y - y_low) * y_scale - 1.0

    probe_values = check_finite(name, wrapped, dim_x, box=to_box)
    model = model or default_model(dim_x, dim_y)
    function = getattr(oracle, "__name__", "oracle")
    box = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(lower, upper, strict=True))
    wrapped.__doc__ = f"{function} on the box {box}: f32[{dim_x}] in [-1, 1]^d."
    return register_if(
        Problem(
            name=name,
            dim_x=dim_x,
            dim_y=dim_y,
            oracle=wrapped,
            model=model,
            description=description
            or f"user oracle {function} ({dim_x} -> {dim_y}) on {box}",
            fingerprint=fingerprint(probe_values, lower, upper, y_bounds, model),
        ),
        register,
    )
