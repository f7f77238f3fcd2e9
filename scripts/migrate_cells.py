"""Brings result cells written before method options existed to today's config format.

    python scripts/migrate_cells.py results/sweep_quick [--dry-run]

Until the code-shape change, a method's own settings were Config fields
(`bald_passes`, `ll_margin`, `density_neighbours`, `naqbc_steps`, ...) and methods
that ignore γ ran with the smallest valid γ (1). Today they are `Config.options`
("<method>.<option>", only where they differ from the method's default) and such
methods have `gamma` None. The computation is the same: the refactored code
reproduces such cells bit for bit (checked on quick-sweep and smoke cells). This
script rewrites each old cell's meta.json (atomically) with the config in the new
format and its hash, keeps the old config and hash under `migrated`, and leaves
results.npz untouched, so the sweep reuses the cells instead of recomputing them.
Only cells of protocol 2 (the fidelity pass) can be migrated; older ones stay stale.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from pathlib import Path

from jdal import acquisitions, config, results

# Old Config field -> (method, option).
OLD_FIELDS = {
    "bald_passes": ("bald", "passes"),
    "bald_dropout": ("bald", "dropout"),
    "ll_margin": ("ll", "margin"),
    "ll_weight": ("ll", "weight"),
    "ll_detach_fraction": ("ll", "detach_fraction"),
    "density_neighbours": ("qbc_div_den", "neighbours"),
    "naqbc_steps": ("naqbc", "steps"),
    "naqbc_lr": ("naqbc", "lr"),
    "naqbc_box_penalty": ("naqbc", "box_penalty"),
}


def migrated_config(old: dict) -> config.Config:
    """The Config today's code builds for an old-format config dict."""
    fields = {k: v for k, v in old.items() if k not in OLD_FIELDS}
    options = {}
    for field, (method, option) in OLD_FIELDS.items():
        default = acquisitions.get(method).options[option].default
        if field in old and old[field] != default:
            options[f"{method}.{option}"] = old[field]
    if not acquisitions.get(old["method"]).uses_pool:
        fields["gamma"] = None
    return config.Config(**fields, options=options).validate()


def old_hash(old: dict, protocol: int) -> str:
    """The hash the old code gave `old` under protocol version `protocol`."""
    record = {**old, "protocol_version": protocol}
    blob = json.dumps(record, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def migrate(folder: Path, dry_run: bool) -> str:
    """Migrates one cell folder; returns what happened, in a few words."""
    meta_path = folder / results.META_FILE
    meta = json.loads(meta_path.read_text())
    old = meta["config"]
    if "options" in old:
        return "already in the new format"
    if old_hash(old, config.PROTOCOL_VERSION) != meta["config_hash"]:
        return "left as it is: computed under another protocol version (stale)"
    cfg = migrated_config(old)
    if dry_run:
        return f"would migrate: {meta['config_hash']} -> {cfg.hash()}"
    meta["migrated"] = {
        "from_config": old,
        "from_config_hash": meta["config_hash"],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "by": "scripts/migrate_cells.py (config format only; arrays untouched)",
    }
    meta["config"], meta["config_hash"] = cfg.to_dict(), cfg.hash()
    meta["gamma"] = cfg.gamma
    results.write_json(meta_path, meta, sort_keys=True)
    return f"migrated: {meta['migrated']['from_config_hash']} -> {cfg.hash()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="results folder")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    for folder in results.cell_folders(args.out):
        if (folder / results.META_FILE).exists():
            print(f"{folder}: {migrate(folder, args.dry_run)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
