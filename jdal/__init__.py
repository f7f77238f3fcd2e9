"""jdal: deep active learning for scientific regression, in JAX.

import jdal
problem = jdal.problems.get("robo")
cfg = jdal.config.quick(problem="robo", method="qbc", gamma=16)
result = jax.jit(jax.vmap(jdal.make_run(cfg)))(jdal.seed_keys(range(5)))
grid = jdal.parallel.GridRunner(cfg, [2, 4, 8, 16, 32, 64])
results = grid(jdal.seed_keys(range(5)))    # leaves [6 gammas, 5 seeds, ...]

The model-building parts (acquisitions, models, the run, parallel) are imported on
first use, so host code that only reads results (`jdal.results`, `jdal.metrics`,
`jdal.config`) does not import Flax.
"""

import importlib

from jdal import compile_cache, config, metrics, problems, results
from jdal.config import Config

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself), imported on first use.
_LAZY = {
    "acquisitions": ("jdal.acquisitions", None),
    "campaign": ("jdal.campaign", None),
    "Campaign": ("jdal.campaign", "Campaign"),
    "parallel": ("jdal.parallel", None),
    "loop": ("jdal.loop", None),
    "models": ("jdal.models", None),
    "RunResult": ("jdal.loop", "RunResult"),
    "make_run": ("jdal.loop", "make_run"),
    "make_grid_run": ("jdal.loop", "make_grid_run"),
    "seed_keys": ("jdal.loop", "seed_keys"),
    "make_ensemble": ("jdal.models.ensemble", "make_ensemble"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'jdal' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


__all__ = [
    "Campaign",
    "Config",
    "RunResult",
    "acquisitions",
    "campaign",
    "compile_cache",
    "config",
    "make_ensemble",
    "make_grid_run",
    "make_run",
    "metrics",
    "parallel",
    "problems",
    "results",
    "seed_keys",
]
