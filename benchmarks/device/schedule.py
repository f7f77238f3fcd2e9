"""The time budget shared out part by part (device_suite.py's notes, Budget)."""

from __future__ import annotations

import signal
import time
import traceback
from collections.abc import Sequence

from device.common import MIN_PART_S, Box, OutOfTime, Part, Suite, log


def run_parts(suite: Suite, selected: Sequence[Part], budget: float) -> int:
    """Runs `selected` in order, each in its box: the time left times its weight
    over the weights of the parts still to run (the last gets all that is left).
    A part out of time is "partial", one that fails is "error" and the rest still
    run; the report is saved after every part. Returns 0, 1 (a part failed) or
    130 (interrupted: SIGTERM or Ctrl-C)."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    deadline = suite.start + budget
    for name in (part.name for part in selected):
        suite.report["parts"][name] = {"status": "pending"}
    failed = False
    try:
        for index, part in enumerate(selected):
            name = part.name
            left = deadline - time.perf_counter()
            weights = sum(p.weight for p in selected[index:])
            last = index == len(selected) - 1
            box = Box(left if last else left * part.weight / weights)
            entry = suite.part(name)
            entry.update(status="running", box_s=box.seconds)
            if box.seconds < MIN_PART_S:
                entry.update(status="skipped", note="budget spent", seconds=0.0)
                suite.save()
                continue
            start = time.perf_counter()
            try:
                part.measure(suite, box, entry)
                entry["status"] = "done"
            except OutOfTime as stop_reason:
                entry.update(status="partial", note=str(stop_reason))
            except Exception as error:  # one part failing must not lose the rest
                failed = True
                entry.update(status="error", note=f"{type(error).__name__}: {error}")
                entry["traceback"] = traceback.format_exc()
                log(entry["traceback"])
            entry["seconds"] = time.perf_counter() - start
            log(f"{name}: {entry['status']} in {entry['seconds']:.1f} s")
            suite.save()
    except KeyboardInterrupt:
        for entry in suite.report["parts"].values():
            if entry.get("status") in ("running", "pending"):
                entry["status"] = "interrupted"
        suite.save()
        log("interrupted; the report keeps every finished step")
        return 130
    return 1 if failed else 0
