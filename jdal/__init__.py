"""jdal: deep active learning for scientific regression, in JAX.

import jdal
problem = jdal.problems.get("robo")
cfg = jdal.config.quick(problem="robo", method="qbc", gamma=16)
result = jax.jit(jax.vmap(jdal.make_run(cfg)))(jdal.seed_keys(range(5)))
grid = jdal.parallel.make_gamma_grid_batch(cfg, [2, 4, 8, 16, 32, 64])
results = grid(jdal.seed_keys(range(5)))    # leaves [6 gammas, 5 seeds, ...]
"""

from jdal import acquisitions, config, metrics, parallel, problems, results
from jdal.config import Config
from jdal.loop import RunResult, make_gamma_grid_run, make_run, seed_keys
from jdal.models.ensemble import make_ensemble

__version__ = "0.1.0"

__all__ = [
    "Config",
    "RunResult",
    "acquisitions",
    "config",
    "make_ensemble",
    "make_gamma_grid_run",
    "make_run",
    "metrics",
    "parallel",
    "problems",
    "results",
    "seed_keys",
]
