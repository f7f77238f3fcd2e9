"""Your own oracle: the borehole function, in physical units on its published box.

The borehole function is a standard test function of the surrogate-modelling
literature (Harper & Gupta 1983; Morris, Mitchell & Ylvisaker 1993, Technometrics
35(3); listed in Surjanovic & Bingham's Virtual Library of Simulation Experiments):
the water flow rate (m^3/yr) through a borehole between two aquifers,

    f = 2 pi Tu (Hu - Hl) / (ln(r/rw) (1 + 2 L Tu / (ln(r/rw) rw^2 Kw) + Tu/Tl)).

Run it with every method from the shell (from the repository root):

    python experiments/run.py --problem examples/borehole.py:problem --gamma 4 \\
        --preset smoke --seeds 2
    python experiments/run.py --problem examples.borehole:problem --gamma 4 ...

or from Python: `import examples.borehole` registers it, then
`jdal.config.quick(problem="borehole", ...)`.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jdal import problems

# (name, lower, upper, unit) per input, the published ranges.
INPUTS = (
    ("rw", 0.05, 0.15, "m, radius of the borehole"),
    ("r", 100.0, 50000.0, "m, radius of influence"),
    ("Tu", 63070.0, 115600.0, "m^2/yr, transmissivity of the upper aquifer"),
    ("Hu", 990.0, 1110.0, "m, potentiometric head of the upper aquifer"),
    ("Tl", 63.1, 116.0, "m^2/yr, transmissivity of the lower aquifer"),
    ("Hl", 700.0, 820.0, "m, potentiometric head of the lower aquifer"),
    ("L", 1120.0, 1680.0, "m, length of the borehole"),
    ("Kw", 9855.0, 12045.0, "m/yr, hydraulic conductivity of the borehole"),
)
LOWER = tuple(lower for _, lower, _, _ in INPUTS)
UPPER = tuple(upper for _, _, upper, _ in INPUTS)


def borehole(u: jax.Array) -> jax.Array:
    """Water flow rate in m^3/yr: f32[8] (physical units, `INPUTS` order) -> f32[]."""
    rw, r, tu, hu, tl, hl, length, kw = (u[i] for i in range(8))
    log_ratio = jnp.log(r / rw)
    denominator = log_ratio * (
        1.0 + 2.0 * length * tu / (log_ratio * rw**2 * kw) + tu / tl
    )
    return 2.0 * jnp.pi * tu * (hu - hl) / denominator


def flow_range() -> tuple[float, float]:
    """(min, max) of the flow on the box, in float64: f is monotone in every input
    (up in rw, Tu, Hu, Tl, Kw; down in r, Hl, L), so they are at two corners."""
    up = np.array([1, 0, 1, 1, 1, 0, 0, 1], bool)
    lower, upper = np.array(LOWER), np.array(UPPER)

    def flow(u):
        rw, r, tu, hu, tl, hl, length, kw = u
        log_ratio = np.log(r / rw)
        return float(
            2
            * np.pi
            * tu
            * (hu - hl)
            / (log_ratio * (1 + 2 * length * tu / (log_ratio * rw**2 * kw) + tu / tl))
        )

    return flow(np.where(up, lower, upper)), flow(np.where(up, upper, lower))


# Targets mapped from the flow's range on the box to [-1, 1], as the data problems'
# are, so the default training settings (learning rate 1e-3) suit them; test MSE is
# in these units.
problem = problems.oracle_problem(
    "borehole",
    borehole,
    LOWER,
    UPPER,
    y_bounds=flow_range(),
    description="borehole water flow (8 -> 1), Morris et al. 1993",
)
