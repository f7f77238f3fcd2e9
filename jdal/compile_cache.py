"""JAX's persistent compilation cache for jdal's commands: compile once per machine.

XLA compiling is most of a CPU run's start-up (seconds per program). With the
cache on, a program compiled once is read back from disk by every later process on
the same machine, JAX version and backend (JAX keys the entries on all of these).

    jdal.compile_cache.enable()        # default folder, or $JDAL_COMPILATION_CACHE
    jdal.compile_cache.enable("off")   # leave the cache off

The default folder is `$XDG_CACHE_HOME/jdal/jax` (`~/.cache/jdal/jax`), never inside
the repository. The environment variable JDAL_COMPILATION_CACHE, a folder or
"off", overrides the default for the CLI, the benchmarks and the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

ENV_VAR = "JDAL_COMPILATION_CACHE"
OFF = ("off", "0", "false", "no", "none")


def default_dir() -> Path:
    """`$XDG_CACHE_HOME/jdal/jax`, or `~/.cache/jdal/jax`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jdal" / "jax"


def enable(where: str | os.PathLike | None = None) -> Path | None:
    """Turns the persistent cache on in `where` (default: $JDAL_COMPILATION_CACHE,
    else `default_dir()`); "off" leaves it off. Returns the folder, or None."""
    setting = where if where is not None else os.environ.get(ENV_VAR)
    if setting is not None and str(setting).strip().lower() in OFF:
        return None
    folder = Path(setting).expanduser() if setting else default_dir()
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # Every program counts: the CPU compiles that dominate a run take 0.1 to 10 s.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def add_flag(parser) -> None:
    """Adds `--compilation-cache DIR|off` to an argparse parser (see `enable`)."""
    parser.add_argument(
        "--compilation-cache",
        metavar="DIR|off",
        default=None,
        help="JAX's persistent compilation cache: a folder, or 'off' (default: "
        f"${ENV_VAR}, else {default_dir()})",
    )
