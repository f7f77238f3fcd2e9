"""Wall seconds of sweep cells as `experiments/sweep.py` computes them.

    python benchmarks/cell_speed.py --problems sine,robo,hydr,bess --methods qbc,bait \
        --out benchmarks/results/cell_speed.json

For each (problem, method), the γ grid and seeds in one call of
`jdal.shell.cells.compute_cells`, the function the sweep calls: compile, run and the
per-step timing, with JAX's persistent compilation cache on in a fresh folder (as
a sweep starts). Records the wall seconds of the call and of its parts; a cell's
share is the call's seconds divided by the number of γ. To compare two versions of
the code, run this script of the newer one with PYTHONPATH set to the older
checkout's root (`--label` names the version in the JSON), alternating the two
per problem on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from train_step_bound import environment

import jdal
from jdal import config as jconfig
from jdal import results
from jdal.shell import cells


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="sine,robo,hydr,bess")
    parser.add_argument("--methods", default="qbc,bait")
    parser.add_argument("--gammas", default="2,8,32")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--preset", default="quick", choices=list(jconfig.PRESETS))
    parser.add_argument("--label", default="current")
    parser.add_argument("--out", required=True, help="JSON file (rows are appended)")
    args = parser.parse_args(argv)
    gammas = [int(g) for g in args.gammas.split(",")]
    seeds = list(range(args.seeds))
    out = Path(args.out)
    rows = json.loads(out.read_text()) if out.exists() else []
    with tempfile.TemporaryDirectory() as cache:
        jdal.compile_cache.enable(cache)  # as the sweep's default, but fresh
        for problem in args.problems.split(","):
            for method in args.methods.split(","):
                cfgs = [
                    jconfig.preset(args.preset, problem=problem, method=method, gamma=g)
                    for g in gammas
                ]
                start = time.perf_counter()
                metas = [meta for _, meta in cells.compute_cells(cfgs, seeds)]
                wall = time.perf_counter() - start
                grid = metas[0].get("grid", {})
                row = {
                    "label": args.label,
                    "jdal": str(Path(jdal.__file__).resolve().parent),
                    "problem": problem,
                    "method": method,
                    "gammas": gammas,
                    "seeds": len(seeds),
                    "preset": args.preset,
                    "call_s": wall,
                    "per_cell_s": wall / len(cfgs),
                    "compile_s": grid.get("compile_s"),
                    "run_s": grid.get("run_s"),
                    "lanes": metas[0]["batch"]["lanes"],
                    **environment(),
                    "unix_time": time.time(),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
                results.write_json(out, rows)  # atomic: an interruption keeps rows


if __name__ == "__main__":
    main()
