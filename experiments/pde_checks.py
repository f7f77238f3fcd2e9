"""Checks of the PDE problems (jdal.problems.pde): resolution and input relevance.

    python experiments/pde_checks.py --out figures/data/pde/checks.json

For each of the six problems, on 64 uniform inputs (seed 0):
- resolution: max |u(default) - u(half dt, twice the grid)| over inputs and
  outputs, as a share of the outputs' range (the target is below 1 %);
- input relevance: the mean squared derivative of the outputs with respect to
  each input (forward-mode Jacobian through the solver, on 16 of the inputs),
  summed over the inputs of modes 1-4, 5-16 and 17-64, as shares of the total.
  It says how much of an input's effect the dynamics keep: Burgers' viscosity
  erases the fine modes, KdV's dispersion moves them without damping.
- seconds per 1,000 oracle calls (one jitted vmap over 1,000 inputs, after
  compiling), on the machine that runs the script.

Whether the outputs are hard enough to learn (the quick model must not reach its
floor with 200 labels) is read from the random-sampling cells of the PDE sweep
(`experiments/report.py`), not here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jdal import results
from jdal.problems import pde

MODE_BANDS = ((1, 4), (5, 16), (17, 64))


def resolution_share(spec: pde.Dynamics, x: jax.Array) -> float:
    default = np.asarray(jax.jit(jax.vmap(pde.oracle(spec)))(x))
    finer = jax.jit(jax.vmap(pde.oracle(spec, 2 * pde.GRID, spec.dt / 2)))(x)
    finer = np.asarray(finer)
    return float(np.max(np.abs(default - finer)) / np.ptp(finer))


def relevance_by_band(spec: pde.Dynamics, x: jax.Array) -> dict[str, float]:
    """Shares of sum_i E||dy/dx_i||^2 from the inputs of each mode band."""
    jacobian = jax.jit(jax.vmap(jax.jacfwd(pde.oracle(spec))))(x)  # [n, dy, d]
    per_input = np.asarray(jnp.mean(jnp.sum(jacobian**2, axis=1), axis=0))  # [d]
    mode = np.arange(per_input.shape[0]) // 2 + 1  # inputs 2j-1, 2j set mode j
    total = per_input.sum()
    return {
        f"modes {lo}-{hi}": float(per_input[(mode >= lo) & (mode <= hi)].sum() / total)
        for lo, hi in MODE_BANDS
        if lo <= mode.max()
    }


def seconds_per_thousand(spec: pde.Dynamics, dim_x: int) -> float:
    x = jax.random.uniform(jax.random.key(1), (1000, dim_x), minval=-1, maxval=1)
    label = jax.jit(jax.vmap(pde.oracle(spec)))
    label(x).block_until_ready()
    start = time.perf_counter()
    label(x).block_until_ready()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/pde_checks.json"))
    parser.add_argument("--inputs", type=int, default=64)
    args = parser.parse_args()
    checks = {}
    for dynamics, spec in pde.DYNAMICS.items():
        for dim_x in pde.DIMENSIONS:
            name = pde.problem_name(dynamics, dim_x)
            x = jax.random.uniform(
                jax.random.key(0), (args.inputs, dim_x), minval=-1, maxval=1
            )
            checks[name] = {
                "resolution_share_of_range": resolution_share(spec, x),
                "relevance_by_mode_band": relevance_by_band(spec, x[:16]),
                "seconds_per_1000_calls": seconds_per_thousand(spec, dim_x),
            }
            print(name, checks[name], flush=True)
    results.write_json(
        args.out,
        {
            "machine": results.describe_device(),
            "inputs": args.inputs,
            "checks": checks,
        },
    )


if __name__ == "__main__":
    main()
