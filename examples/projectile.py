"""Active learning on a simulator JAX cannot trace: a projectile with air drag,
solved by `scipy.integrate.solve_ivp`, benchmarked like a built-in problem.

Inputs: launch speed v0 in [10, 60] m/s, launch angle in [10, 80] degrees, drag
coefficient c in [0, 0.05] 1/m (quadratic drag, a = -c |v| v - g). Output: the
range in metres where the projectile comes back to the ground (an event of the
ODE solve). Every label is one `solve_ivp` call in Python, so the run goes
through a campaign (`jdal.campaign.simulated.labeller_run`), one batch per host
round trip, and is stored as ordinary result cells:

    python examples/projectile.py --out results/projectile          # quick sizes
    python experiments/report.py results/projectile

The first command runs random, gsx, qbc and bait at γ 2 and 8 over 5 seeds
(about 30 CPU-minutes on a 2-core machine at the default sizes); the second
writes the nAUC / nDiv tables and figures (`figures/projectile/` holds them).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

from jdal import config, results
from jdal.campaign.simulated import labeller_run

GRAVITY = 9.81
LOWER = np.array([10.0, 10.0, 0.0])
UPPER = np.array([60.0, 80.0, 0.05])


def flight_range(v0: float, angle_deg: float, drag: float) -> float:
    """Range (m) of a projectile launched from the ground with quadratic drag."""

    def motion(t, state):
        _, _, vx, vy = state
        speed = np.hypot(vx, vy)
        return [vx, vy, -drag * speed * vx, -GRAVITY - drag * speed * vy]

    def landed(t, state):
        return state[1]

    landed.terminal, landed.direction = True, -1
    angle = np.radians(angle_deg)
    start = [0.0, 0.0, v0 * np.cos(angle), v0 * np.sin(angle)]
    flight = 2.5 * v0 * np.sin(angle) / GRAVITY + 1.0  # longer than any flight
    solution = solve_ivp(
        motion, (0.0, flight), start, events=landed, rtol=1e-8, atol=1e-8
    )
    return float(solution.y_events[0][0][0])


def simulate_batch(x: np.ndarray) -> np.ndarray:
    """f64[n, 3] inputs -> f64[n, 1] ranges, one ODE solve per row."""
    return np.array([[flight_range(*row)] for row in x])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/projectile")
    parser.add_argument("--preset", default="quick", choices=config.PRESETS)
    parser.add_argument("--methods", default="random,gsx,qbc,bait")
    parser.add_argument("--gammas", default="2,8")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--n-test", type=int, default=500)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(12345)  # one test set for every cell
    test_x = rng.uniform(LOWER, UPPER, size=(args.n_test, 3))
    test_y = simulate_batch(test_x)
    for method in args.methods.split(","):
        gammas = [None] if method == "random" else map(int, args.gammas.split(","))
        for gamma in gammas:
            # A simulator JAX cannot trace: no registered problem, so the preset's
            # sizes with its names unchecked (`labeller_run` binds the problem).
            cfg = config.sized(
                args.preset,
                problem="projectile",
                method=method,
                gamma=gamma,
                steps=args.steps,
                n_test=args.n_test,
            )
            if results.cell_status(args.out, cfg, range(args.seeds)) == "done":
                continue  # finished earlier: resume
            started = time.perf_counter()
            runs = [
                labeller_run(cfg, (LOWER, UPPER), simulate_batch, s, test_x, test_y)
                for s in range(args.seeds)
            ]
            arrays = {
                name: np.stack([np.asarray(getattr(r, name)) for r in runs])
                for name in runs[0]._fields
            }
            arrays["n_labelled"] = arrays["n_labelled"][0]
            arrays["seeds"] = np.arange(args.seeds)
            seconds = time.perf_counter() - started
            meta = {"labeller": "solve_ivp (examples/projectile.py)"}
            results.save_cell(args.out, cfg, arrays, meta=meta)
            print(f"{method} γ={gamma}: {args.seeds} seeds in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
