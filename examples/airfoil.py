"""The real UCI airfoil measurements as a finite data set (the built-in `airfoil`),
next to the built-in `foil` (a random forest fitted to the same 1503 rows and
queried anywhere).

Here the run may only label measured rows: per seed 20 % (at most Config.n_test)
are held out for testing, and every pool is drawn from the rows not yet labelled.

    python examples/airfoil.py                  # smoke-sized: random and gsx, both
    python experiments/run.py --problem airfoil --gamma 4 --preset smoke --seeds 2

The built-in `airfoil` is a user table like any other (`jdal.problems.measured`):
`problem` below is the same rows passed to `data_problem` by hand, under a name of
its own, and it scales, splits and trains exactly as `airfoil` does:

    python experiments/run.py --problem examples/airfoil.py:problem --gamma 4 \\
        --preset smoke --seeds 2
"""

import numpy as np

from jdal import problems
from jdal.problems import measured

COLUMNS = (
    "frequency_Hz",
    "angle_of_attack_deg",
    "chord_length_m",
    "velocity_m_per_s",
    "displacement_thickness_m",
    "sound_pressure_dB",
)

rows = measured.rows("airfoil")  # f64[1503, 6], the shipped file, target last
problem = problems.data_problem(
    "my_airfoil",
    rows[:, :5],
    rows[:, 5],
    x_names=COLUMNS[:5],
    y_names=COLUMNS[5:],
    source="UCI airfoil self-noise",
    description="NASA airfoil self-noise, the 1503 measurements (5 -> 1)",
)


def main() -> None:
    import jax

    from jdal import config, loop

    keys = loop.seed_keys(range(2))
    for name in ("airfoil", "foil"):
        for method, gamma in (("random", None), ("gsx", 4)):
            cfg = config.smoke(problem=name, method=method, gamma=gamma)
            mse = jax.jit(jax.vmap(loop.make_run(cfg)))(keys).mse
            print(f"{name:8s} {method:7s} final test MSE {np.mean(mse[:, -1]):.4f}")


if __name__ == "__main__":
    main()
