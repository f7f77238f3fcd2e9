"""What the in-run clock stamps cost: one γ-grid program with and without them.

    python benchmarks/stamps_ab.py --problem robo --method qbc --seeds 1

Compiles the sweep's γ-grid program (quick, γ 2, 8, 32, map lanes) twice, with
and without `timed=True` (`jdal.stopwatch`), then runs them alternately (untimed,
timed, timed, untimed) in one process, and checks that both compute the same
numbers bit for bit. Prints one JSON line; benchmarks/results/ keeps a run.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
from train_step_bound import environment

from jdal import config, loop, parallel


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="robo")
    parser.add_argument("--method", default="qbc")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args(argv)
    cfg = config.quick(problem=args.problem, method=args.method, gamma=2)
    keys = loop.seed_keys(range(args.seeds))
    runners = {}
    for timed in (False, True):
        runner = parallel.GridRunner(cfg, [2, 8, 32], timed=timed, lanes="map")
        runner.compile(keys)
        runners[timed] = runner
    seconds, outputs = {False: [], True: []}, {}
    for timed in (False, True, True, False):
        start = time.perf_counter()
        outputs[timed] = jax.block_until_ready(runners[timed](keys))
        seconds[timed].append(time.perf_counter() - start)
    same = all(
        np.array_equal(getattr(outputs[False], f), getattr(outputs[True], f))
        for f in ("mse", "picked_x", "train_loss")
    )
    print(
        json.dumps(
            {
                "problem": args.problem,
                "method": args.method,
                "seeds": args.seeds,
                "untimed_s": seconds[False],
                "timed_s": seconds[True],
                "bit_identical": same,
                **environment(),
            }
        )
    )


if __name__ == "__main__":
    main()
