"""Measured and tabulated data sets: six public regression tables, shipped.

Each is a finite data set built exactly as a user's table is
(`jdal.problems.data_problem`): every column min-max scaled to [-1, 1] over all
rows, the same test split, the same default model (`default_model`), labels only
at the rows. The last column of each file is the target.

| name | rows | d | data set |
|---|---|---|---|
| `airfoil` | 1503 | 5 | UCI Airfoil Self-Noise (NASA wind-tunnel measurements) |
| `yacht` | 308 | 6 | UCI Yacht Hydrodynamics (Delft towing-tank series) |
| `concrete` | 1030 | 8 | UCI Concrete Compressive Strength (Yeh 1998) |
| `energy` | 768 | 8 | UCI Energy Efficiency, heating load (Tsanas & Xifara 2012) |
| `kin8nm` | 8192 | 8 | DELVE kin8nm, an 8-link robot arm (simulated) |
| `ccpp` | 9568 | 4 | UCI Combined Cycle Power Plant (Tüfekci 2014) |

The files are gzip copies in jdal/problems/data/ (sources, sha256 of the
uncompressed bytes and licences in its README). They are read only when a problem
is first asked for (`jdal.problems.get`).
"""

from __future__ import annotations

import gzip
import importlib.resources
import io
from typing import NamedTuple

import numpy as np

from jdal.problems.base import Problem
from jdal.problems.user_data import data_problem


class Table(NamedTuple):
    """One shipped data file: its columns, the target last."""

    file: str  # in jdal/problems/data/, gzip-compressed
    source: str
    description: str
    x_names: tuple[str, ...]
    y_name: str


TABLES: dict[str, Table] = {
    "airfoil": Table(
        "airfoil_self_noise.dat.gz",
        "UCI Airfoil Self-Noise (shipped)",
        "NASA airfoil self-noise, 1503 measurements (5 -> 1)",
        (
            "frequency (Hz)",
            "angle of attack (deg)",
            "chord length (m)",
            "free-stream velocity (m/s)",
            "suction-side displacement thickness (m)",
        ),
        "scaled sound pressure level (dB)",
    ),
    "yacht": Table(
        "yacht_hydrodynamics.data.gz",
        "UCI Yacht Hydrodynamics (shipped)",
        "Delft yacht hull series, 308 towing-tank runs (6 -> 1)",
        (
            "longitudinal position of the centre of buoyancy",
            "prismatic coefficient",
            "length-displacement ratio",
            "beam-draught ratio",
            "length-beam ratio",
            "Froude number",
        ),
        "residuary resistance per unit weight of displacement",
    ),
    "concrete": Table(
        "concrete_compressive_strength.txt.gz",
        "UCI Concrete Compressive Strength (shipped)",
        "concrete compressive strength, 1030 measured mixes (8 -> 1)",
        (
            "cement (kg/m^3)",
            "blast-furnace slag (kg/m^3)",
            "fly ash (kg/m^3)",
            "water (kg/m^3)",
            "superplasticizer (kg/m^3)",
            "coarse aggregate (kg/m^3)",
            "fine aggregate (kg/m^3)",
            "age (days)",
        ),
        "compressive strength (MPa)",
    ),
    "energy": Table(
        "energy_efficiency.txt.gz",
        "UCI Energy Efficiency (shipped)",
        "building heating load, 768 simulated buildings (8 -> 1)",
        (
            "relative compactness",
            "surface area (m^2)",
            "wall area (m^2)",
            "roof area (m^2)",
            "overall height (m)",
            "orientation (2-5)",
            "glazing area (fraction of floor area)",
            "glazing-area distribution (0-5)",
        ),
        "heating load (kWh/m^2)",
    ),
    "kin8nm": Table(
        "kin8nm.txt.gz",
        "DELVE kin8nm (shipped)",
        "8-link robot arm, distance of the end from a target, 8192 rows (8 -> 1)",
        tuple(f"joint angle {j} (rad)" for j in range(1, 9)),
        "distance of the end effector from the target",
    ),
    "ccpp": Table(
        "combined_cycle_power_plant.txt.gz",
        "UCI Combined Cycle Power Plant (shipped)",
        "combined cycle power plant, 9568 hourly averages (4 -> 1)",
        (
            "ambient temperature (C)",
            "exhaust vacuum (cm Hg)",
            "ambient pressure (mbar)",
            "relative humidity (%)",
        ),
        "net electrical energy output (MW)",
    ),
}


def data_path(file: str):
    """A shipped data file in jdal/problems/data/, as a resource path."""
    return importlib.resources.files("jdal.problems") / "data" / file


def raw_bytes(name: str) -> bytes:
    """The uncompressed bytes of data set `name`'s file (its recorded sha256)."""
    return gzip.decompress(data_path(TABLES[name].file).read_bytes())


def rows(name: str) -> np.ndarray:
    """f64[N, d + 1]: data set `name` as in its file, the target last."""
    return np.loadtxt(io.BytesIO(raw_bytes(name)), dtype=np.float64, ndmin=2)


def make(name: str) -> Problem:
    """The finite-data problem `name` (not registered: the registry holds it)."""
    table = TABLES[name]
    data = rows(name)
    return data_problem(
        name,
        data[:, :-1],
        data[:, -1],
        x_names=table.x_names,
        y_names=(table.y_name,),
        source=table.source,
        description=table.description,
        register=False,
    )


def make_airfoil() -> Problem:
    """`airfoil`: UCI Airfoil Self-Noise, 1503 rows (5 -> 1)."""
    return make("airfoil")


def make_yacht() -> Problem:
    """`yacht`: UCI Yacht Hydrodynamics, 308 rows (6 -> 1)."""
    return make("yacht")


def make_concrete() -> Problem:
    """`concrete`: UCI Concrete Compressive Strength, 1030 rows (8 -> 1)."""
    return make("concrete")


def make_energy() -> Problem:
    """`energy`: UCI Energy Efficiency, heating load, 768 rows (8 -> 1)."""
    return make("energy")


def make_kin8nm() -> Problem:
    """`kin8nm`: DELVE kin8nm, 8192 rows (8 -> 1)."""
    return make("kin8nm")


def make_ccpp() -> Problem:
    """`ccpp`: UCI Combined Cycle Power Plant, 9568 rows (4 -> 1)."""
    return make("ccpp")
