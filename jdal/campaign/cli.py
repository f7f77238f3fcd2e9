"""The command line of campaigns: a whole campaign from the shell with CSV files.

    python -m jdal.campaign init runs/wing --box "0:1,10:20" --inputs a,b --outputs y
    python -m jdal.campaign ask runs/wing              # writes batch_0.csv
    (fill in the y column, in a spreadsheet or a script)
    python -m jdal.campaign tell runs/wing batch_0.csv # retrains
    python -m jdal.campaign ask runs/wing              # batch_1.csv, and so on
    python -m jdal.campaign status runs/wing --plot status.png
    python -m jdal.campaign predict runs/wing points.csv --out predictions.csv

CSV files name their columns in a header: the inputs (any order), the outputs,
and an `id` column (the candidate row) in a candidate-table campaign. Every bad
input is one line on stderr, `error: <message>`, and exit status 2; Ctrl-C is
exit status 130 (every file of the folder is written atomically, so the folder
stays consistent).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jdal import acquisitions, config
from jdal.campaign import campaign as campaign_module
from jdal.campaign import store
from jdal.campaign.campaign import DEFAULT_GAMMA, DEFAULT_METHOD, Campaign
from jdal.campaign.store import CampaignError
from jdal.results import atomic_write

PROG = "python -m jdal.campaign"
ID = "id"  # the candidate-row column of a table campaign's CSV files
DEFAULT_OUTPUT = "y"  # the output's name when --outputs is not given
# Config fields with a flag (or set by the campaign itself), not --set.
OWN_FLAGS = {
    "method": "--method",
    "k": "--k",
    "gamma": "--gamma",
    "n_initial": "--n-initial",
    "options": "--option",
}
NOT_SETTABLE = {"problem", "problem_fingerprint", "size_rule"}
# Campaign messages written for the Python API, as the command line says it.
CLI_WORDING = {
    "pass allow_extra=True": "pass --allow-extra",
    "pass ids=": "add an id column",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Active learning whose labels come from outside: ask for a "
        "batch as a CSV file, fill in the labels, tell it, repeat.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, run, help, description, takes_file=False):
        """A subcommand on a campaign FOLDER (and a FILE.csv), run by `run`."""
        sub = commands.add_parser(name, help=help, description=description)
        sub.add_argument("folder", metavar="FOLDER")
        if takes_file:
            sub.add_argument("file", metavar="FILE.csv")
        sub.set_defaults(run=run)
        return sub

    init = command(
        "init",
        run_init,
        help="create a campaign folder",
        description="Create a campaign in FOLDER: the inputs' box, a table of "
        "candidate inputs, or a built-in problem's box and model.",
    )
    space = init.add_mutually_exclusive_group(required=True)
    space.add_argument(
        "--box",
        metavar="LOW:HIGH,...",
        help='bounds of each input, e.g. "0:1,10:20" for two inputs; every batch '
        "comes from fresh points of the box",
    )
    space.add_argument(
        "--candidates",
        metavar="FILE.csv",
        help="a CSV table of candidate inputs (header optional); batches are "
        "rows of it, named by their row number (id, from 0)",
    )
    space.add_argument(
        "--problem",
        metavar="NAME",
        help="a built-in problem's box and model (e.g. robo), to try a method on "
        "a known function; labels still come from you",
    )
    init.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        help=f"acquisition method: {', '.join(_campaign_methods())} (default "
        f"{DEFAULT_METHOD})",
    )
    init.add_argument("--k", type=int, default=20, help="batch size (default 20)")
    init.add_argument(
        "--gamma",
        type=int,
        default=DEFAULT_GAMMA,
        help=f"pool ratio: pool size = k γ (default {DEFAULT_GAMMA})",
    )
    init.add_argument(
        "--n-initial",
        type=int,
        default=None,
        metavar="N",
        help="size of the first, space-filling batch (default 2 k)",
    )
    init.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    init.add_argument(
        "--preset",
        default="paper",
        help=f"model and training preset: {', '.join(config.PRESETS)} "
        "(default paper, the study's)",
    )
    init.add_argument(
        "--initial",
        default="maximin",
        help="the first batch's design: maximin (space-filling) or uniform "
        "(default maximin)",
    )
    init.add_argument(
        "--inputs",
        metavar="A,B,...",
        help="names of the inputs (default: the candidate file's header, else "
        "x0,x1,...)",
    )
    init.add_argument(
        "--outputs",
        metavar="Y,...",
        help=f"names of the outputs (default {DEFAULT_OUTPUT}; a built-in "
        "problem's: y0,y1,...)",
    )
    init.add_argument(
        "--cv-folds",
        type=int,
        default=None,
        metavar="K",
        help="folds of the cross-validation MSE logged after each training (K "
        "more trainings; 0 for none; default the campaign's)",
    )
    init.add_argument(
        "--set",
        dest="settings",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="change a config field, e.g. --set train_steps=200 (repeatable)",
    )
    init.add_argument(
        "--option",
        dest="options",
        metavar="METHOD.OPTION=VALUE",
        action="append",
        default=[],
        help="a method option, e.g. --option bald.passes=5 (repeatable)",
    )

    ask = command(
        "ask",
        run_ask,
        help="write the next batch to label as CSV",
        description="Write the batch to label as CSV, with empty output columns "
        "to fill in (the same batch until it is told).",
    )
    ask.add_argument(
        "--out",
        metavar="FILE.csv",
        help="where to write it (default batch_<n>.csv in the current directory)",
    )
    ask.add_argument(
        "--force",
        action="store_true",
        help="overwrite FILE.csv even when it differs from the batch (it may "
        "hold labels you filled in)",
    )

    tell = command(
        "tell",
        run_tell,
        help="add labelled rows from a CSV file and retrain",
        description="Add the labelled rows of FILE.csv (the input and output "
        "columns by their header names) and retrain.",
        takes_file=True,
    )
    tell.add_argument(
        "--allow-extra",
        action="store_true",
        help="accept rows that were not asked, as ordinary labelled rows",
    )

    status = command(
        "status",
        run_status,
        help="print the log of every training",
        description="Print the log of every training and the pending batch.",
    )
    status.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also plot train MSE and mean spread against the labels",
    )

    predict = command(
        "predict",
        run_predict,
        help="predict at the inputs of a CSV file",
        description="Write the ensemble's mean and spread (the members' standard "
        "deviation) at the inputs of FILE.csv.",
        takes_file=True,
    )
    predict.add_argument(
        "--out",
        default="predictions.csv",
        metavar="FILE.csv",
        help="where to write them (default predictions.csv)",
    )
    return parser


def _campaign_methods() -> list[str]:
    """The registered methods a campaign can use (no oracle references)."""
    return [m for m in acquisitions.names() if not acquisitions.get(m).reference]


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns the exit status (0, 2 on an error, 130 on Ctrl-C)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error (argparse printed it)
        return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(
            "interrupted; the campaign folder is consistent (every file is written "
            f"atomically): see {PROG} status {_quote(args.folder)} before running "
            "the command again",
            file=sys.stderr,
        )
        return 130
    except (ValueError, OSError) as error:  # CampaignError is a ValueError
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2


# -- init ----------------------------------------------------------------------------


def run_init(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    changes = dict(_setting(text) for text in args.settings)
    options = dict(_option(text) for text in args.options)
    x_names = _names("--inputs", args.inputs)
    y_names = _names("--outputs", args.outputs)
    if y_names is None and args.problem is None:
        y_names = [DEFAULT_OUTPUT]
    space: dict[str, Any] = {}
    if args.box is not None:
        space["box"] = parse_box(args.box)
        d = len(space["box"][0])
        if x_names is not None and len(x_names) != d:
            raise CampaignError(
                f"--inputs: {len(x_names)} names for the {d} inputs of --box"
            )
        x_names = x_names or [f"x{j}" for j in range(d)]
    elif args.candidates is not None:
        space["candidates"] = args.candidates
        header, table = store.read_csv(Path(args.candidates))
        x_names = x_names or header or [f"x{j}" for j in range(table.shape[1])]
    else:
        space["problem"] = args.problem
        _check_problem_outputs(args.problem, y_names)
    if x_names is not None:
        _check_columns(x_names, y_names or [])
    c = Campaign.create(
        folder,
        **space,
        method=args.method,
        k=args.k,
        gamma=args.gamma,
        n_initial=args.n_initial,
        seed=args.seed,
        preset_name=args.preset,
        initial=args.initial,
        x_names=x_names,
        y_names=y_names,
        options=options,
        **({} if args.cv_folds is None else {"cv_folds": args.cv_folds}),
        **changes,
    )
    if c.candidates is not None:
        where = f"{len(c.candidates)} candidate rows of {args.candidates}"
    else:
        bounds = ", ".join(
            f"{lo:g}:{hi:g}" for lo, hi in zip(c.lower, c.upper, strict=True)
        )
        where = f"the box {bounds}" if args.box else f"problem {args.problem}'s box"
    outputs = ", ".join(c.y_names or ["(named by the first labels)"])
    status = c.status()
    gamma = "" if status["gamma"] is None else f", γ {status['gamma']}"
    print(
        f"created {folder}: inputs {', '.join(c.x_names)} from {where}; outputs "
        f"{outputs}; method {status['method']}, k {status['k']}{gamma}, first "
        f"batch {c.cfg.n_initial} points; next: {PROG} ask {_quote(folder)}"
    )
    return 0


def parse_box(text: str) -> tuple[list[float], list[float]]:
    """(lower, upper) of "low:high,low:high,..."; CampaignError on other text."""
    lower, upper = [], []
    for part in text.split(","):
        low, sep, high = part.partition(":")
        try:
            if not sep:
                raise ValueError
            lower.append(float(low))
            upper.append(float(high))
        except ValueError:
            raise CampaignError(
                f"--box {text!r}: expected low:high for each input, separated by "
                'commas, e.g. "0:1,10:20"'
            ) from None
    return lower, upper


def parse_value(text: str) -> Any:
    """A --set or --option value: none, true/false, an int, a float, else text."""
    lowered = text.strip().lower()
    if lowered == "none":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def _key_value(flag: str, text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CampaignError(f"{flag} {text!r}: expected key=value")
    return key.strip(), value.strip()


def _setting(text: str) -> tuple[str, Any]:
    key, value = _key_value("--set", text)
    if "." in key:
        raise CampaignError(
            f"--set {text!r}: method options go with --option {key}={value}"
        )
    if key in OWN_FLAGS:
        raise CampaignError(f"--set {text!r}: use {OWN_FLAGS[key]}")
    fields = [field.name for field in dataclasses.fields(config.Config)]
    settable = [name for name in fields if name not in {*OWN_FLAGS, *NOT_SETTABLE}]
    if key not in settable:
        raise CampaignError(
            f"--set {text!r}: unknown config field {key!r}; settable: "
            f"{', '.join(settable)}"
        )
    return key, parse_value(value)


def _option(text: str) -> tuple[str, Any]:
    key, value = _key_value("--option", text)
    method, dot, option = key.partition(".")
    if not (dot and method and option):
        raise CampaignError(f"--option {text!r}: expected method.option=value")
    return key, parse_value(value)


def _names(flag: str, text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise CampaignError(f"{flag} {text!r}: an empty name")
    return names


def _check_columns(x_names: Sequence[str], y_names: Sequence[str]) -> None:
    """The CSV files' columns must be distinct, and `id` is the candidate row's."""
    columns = [*x_names, *y_names]
    if ID in columns:
        raise CampaignError(
            f"a column may not be named {ID!r} (the candidate row's column); rename "
            "it with --inputs or --outputs"
        )
    twice = sorted({name for name in columns if columns.count(name) > 1})
    if twice:
        raise CampaignError(
            f"the name {twice[0]!r} appears twice among the inputs "
            f"({', '.join(x_names)}) and outputs ({', '.join(y_names)})"
        )


def _check_problem_outputs(problem: str, y_names: list[str] | None) -> None:
    from jdal import problems

    dim_y = problems.get(problem).dim_y
    if y_names is not None and len(y_names) != dim_y:
        raise CampaignError(
            f"--outputs: {len(y_names)} names; problem {problem!r} has {dim_y} outputs"
        )


# -- ask -----------------------------------------------------------------------------


def run_ask(args: argparse.Namespace) -> int:
    c = Campaign.open(args.folder)
    x = c.ask()
    number = _batch_number(c)
    outputs = _output_names(c)
    header = [*c.x_names, *outputs]
    ids = None
    if c.candidates is not None:
        ids = candidate_ids(c, x)
        x = c.candidates[ids]  # the table's own values, which tell matches exactly
        header = [ID, *header]
    rows = (
        ([] if ids is None else [str(ids[i])])
        + [store.number(v) for v in row]
        + [""] * len(outputs)
        for i, row in enumerate(x)
    )
    out = Path(args.out or f"batch_{number}.csv")
    content = store.csv_bytes(header, rows)
    if out.exists() and not args.force and out.read_bytes() != content:
        raise CampaignError(
            f"{out} exists and differs from this batch (labels filled in?); tell it "
            "first, or pass --out another file, or --force"
        )
    atomic_write(out, lambda file: file.write(content))
    columns = "column" if len(outputs) == 1 else "columns"
    print(
        f"wrote batch {number} ({len(x)} points) to {out}; fill in the {columns} "
        f"{', '.join(outputs)} and run: {PROG} tell {_quote(args.folder)} "
        f"{_quote(out)}"
    )
    return 0


def _batch_number(c: Campaign) -> int:
    """The asked batch's number: pending.json's (the rest of a batch told in part
    keeps its number), else the count of batches told."""
    pending = c.folder / store.PENDING
    if pending.exists():
        number = store.read_json(pending).get("batch")
        if isinstance(number, int):
            return number
    return c.status()["batches"]


def _output_names(c: Campaign) -> list[str]:
    """The outputs' columns: the campaign's names, or y0 when none is known yet
    (add y1, y2, ... for more outputs; the first tell fixes them)."""
    return list(c.y_names) if c.y_names is not None else ["y0"]


def candidate_ids(c: Campaign, x: np.ndarray) -> np.ndarray:
    """int[n]: the candidate row of each row of x (asked rows, in the user's
    units), matched within the campaign's tolerance; rows with equal values get
    distinct ids."""
    width = c.upper - c.lower
    ids = np.empty(len(x), np.int64)
    taken: set[int] = set()
    for i, row in enumerate(x):
        gap = np.max(np.abs(c.candidates - row) / width, axis=1)
        matches = np.flatnonzero(gap <= campaign_module.MATCH_TOLERANCE)
        free = [j for j in matches.tolist() if j not in taken]
        if not free:
            raise CampaignError(
                f"{c.folder}: asked row {i} matches no candidate row (the candidate "
                "table changed?)"
            )
        ids[i] = free[0]
        taken.add(free[0])
    return ids


# -- tell ----------------------------------------------------------------------------


def run_tell(args: argparse.Namespace) -> int:
    c = Campaign.open(args.folder)
    path = Path(args.file)
    header, rows = read_rows(path)
    _require(path, header, c.x_names, "input")
    has_id = ID in header and c.candidates is not None
    if c.y_names is not None:
        outputs = list(c.y_names)
        _require(path, header, outputs, "output")
    else:
        outputs = [n for n in header if n and n not in (*c.x_names, ID)]
        if not outputs:
            raise CampaignError(
                f"{path}: no output columns (only the inputs {', '.join(c.x_names)})"
            )
    ignored = [n for n in header if n and n not in (*c.x_names, *outputs, ID)]
    if not rows:
        raise CampaignError(f"{path}: no rows to tell")
    x = _column_values(path, header, rows, c.x_names, "the inputs must stay as asked")
    y = _column_values(
        path, header, rows, outputs, "fill in every label or remove the row"
    )
    ids = _ids(path, header, rows, c, x) if has_id else None
    try:
        c.tell(x, y, ids=ids, allow_extra=args.allow_extra)
    except CampaignError as error:
        raise CampaignError(_cli_message(error, path, rows)) from None
    if ignored:
        print(f"note: ignored the column(s) {', '.join(ignored)} of {path}")
    if list(c.y_names) != outputs:  # a campaign created without output names
        print(
            f"note: the campaign names the outputs {', '.join(c.y_names)} (the "
            f"columns {', '.join(outputs)} of {path}, in this order)"
        )
    status = c.status()
    log = status["log"]
    trained = ""
    if log:
        last = log[-1]
        scaled = c.settings["y_scaling"] == "minmax"
        scale = " (targets scaled to [-1, 1])" if scaled else ""
        cv = last.get("cv_mse", math.nan)
        cv = f", cross-validation MSE {cv:.4g}" if math.isfinite(cv) else ""
        trained = (
            f"; training {int(last['step'])}: train MSE {last['train_mse']:.4g}"
            f"{cv}{scale}"
        )
    names = ", ".join(c.y_names)
    pending = f", {status['pending']} still asked" if status["pending"] else ""
    print(
        f"told {len(rows)} rows of {path} ({names}): {status['n_labelled']} labels "
        f"now{pending}{trained}; next: {PROG} ask {_quote(args.folder)}"
    )
    return 0


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, fields)]) of a CSV file with a header; blank rows
    (every field empty, as spreadsheets add) are left out."""
    header: list[str] | None = None
    rows = []
    for line, fields in store.text_rows(path):
        if header is None:
            header = fields
            continue
        if len(fields) > len(header):
            raise CampaignError(
                f"{path} line {line}: {len(fields)} fields, the header "
                f"has {len(header)}"
            )
        rows.append((line, fields + [""] * (len(header) - len(fields))))
    if header is None:
        raise CampaignError(f"{path}: the file is empty")
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise CampaignError(f"{path}: the column {twice[0]!r} appears twice")
    return header, rows


def _require(path: Path, header: list[str], names: Sequence[str], kind: str) -> None:
    missing = [name for name in names if name not in header]
    if missing:
        raise CampaignError(
            f"{path}: no {kind} column {missing[0]!r} (the header is "
            f"{','.join(header)}; the campaign's {kind}s are {', '.join(names)})"
        )


def _column_values(
    path: Path,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    names: Sequence[str],
    if_empty: str,
) -> np.ndarray:
    """f64[n, len(names)] of the named columns; CampaignError naming the line on
    an empty cell (`if_empty` says what to do), text or a value not finite."""
    columns = [header.index(name) for name in names]
    values = np.empty((len(rows), len(names)))
    for i, (line, fields) in enumerate(rows):
        for j, column in enumerate(columns):
            field = fields[column]
            if not field:
                raise CampaignError(
                    f"{path} line {line}: column {names[j]!r} is empty: {if_empty}"
                )
            try:
                values[i, j] = float(field)
            except ValueError:
                raise CampaignError(
                    f"{path} line {line}: column {names[j]!r} is not a number: "
                    f"{field!r}"
                ) from None
            if not math.isfinite(values[i, j]):
                raise CampaignError(
                    f"{path} line {line}: column {names[j]!r} is {field} (not finite)"
                )
    return values


def _ids(
    path: Path,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    c: Campaign,
    x: np.ndarray,
) -> np.ndarray:
    """int[n] of the id column; CampaignError when an id is no candidate row or
    its row's inputs are not that candidate's."""
    column = header.index(ID)
    ids = np.empty(len(rows), np.int64)
    width = c.upper - c.lower
    for i, (line, fields) in enumerate(rows):
        field = fields[column]
        try:
            ids[i] = int(field)
        except ValueError:
            raise CampaignError(
                f"{path} line {line}: id {field!r} is not a candidate row number "
                f"(0 to {len(c.candidates) - 1})"
            ) from None
        if not 0 <= ids[i] < len(c.candidates):
            raise CampaignError(
                f"{path} line {line}: id {ids[i]} is not a candidate row (ids run "
                f"from 0 to {len(c.candidates) - 1})"
            )
        gap = np.max(np.abs(x[i] - c.candidates[ids[i]]) / width)
        if gap > campaign_module.MATCH_TOLERANCE:
            raise CampaignError(
                f"{path} line {line}: the inputs are not those of candidate "
                f"{ids[i]} (the id or an input was changed)"
            )
    return ids


def _cli_message(error: CampaignError, path: Path, rows) -> str:
    """A campaign's message with the CSV line of the row it names, and the API's
    words as the command line's."""
    message = str(error)
    for api, cli in CLI_WORDING.items():
        message = message.replace(api, cli)
    for word in ("x row ", "y row "):
        if word in message:
            number = message.split(word, 1)[1].split()[0].strip(",:;")
            if number.isdigit() and int(number) < len(rows):
                message += f" ({word}{number} is {path} line {rows[int(number)][0]})"
            break
    return message


# -- status --------------------------------------------------------------------------


def run_status(args: argparse.Namespace) -> int:
    c = Campaign.open(args.folder)
    status = c.status()
    log = status["log"]
    gamma = "" if status["gamma"] is None else f", γ {status['gamma']}"
    print(
        f"{status['folder']}: {status['kind']} campaign, method {status['method']}, "
        f"k {status['k']}{gamma}; {status['n_labelled']} labels in "
        f"{status['batches']} batches; {status['pending']} points asked, not told"
    )
    if not log:
        print("no training yet: tell the first batch")
    else:
        columns = [
            ("step", "step"),
            ("labels", "n_labelled"),
            ("train MSE", "train_mse"),
        ]
        if _has_cv(log):
            columns.append(("cv MSE", "cv_mse"))
        columns += [("mean spread", "mean_spread"), ("batch div", "batch_div")]
        table = [
            [_cell(row.get(key), key in ("step", "n_labelled")) for _, key in columns]
            for row in log
        ]
        print(format_table([title for title, _ in columns], table))
    if args.plot:
        if not log:
            print(f"no plot: nothing trained yet ({args.plot} not written)")
        else:
            plot_log(log, Path(args.plot), f"{c.folder.name}: {status['method']}")
            print(f"plot: {args.plot}")
    return 0


def _has_cv(log: list[dict[str, float]]) -> bool:
    """Whether the log has a cross-validation MSE (a cv_mse column, not all nan)."""
    return any(math.isfinite(row.get("cv_mse", math.nan)) for row in log)


def _cell(value: Any, integer: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return str(int(value)) if integer else f"{value:.4g}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Right-aligned columns, two spaces apart."""
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(text.rjust(width) for text, width in zip(line, widths, strict=True))
        for line in lines
    )


def plot_log(log: list[dict[str, float]], path: Path, title: str) -> None:
    """Train MSE (and cv_mse) and mean spread against the labels, log y; written
    atomically. Matplotlib is imported here only."""
    from matplotlib.figure import Figure  # no pyplot: Agg, no global state

    labels = [row["n_labelled"] for row in log]
    figure = Figure(figsize=(9.0, 3.6), layout="constrained")
    errors, spread = figure.subplots(1, 2)
    errors.plot(labels, [row["train_mse"] for row in log], "o-", label="train MSE")
    if _has_cv(log):
        cv = [row.get("cv_mse", math.nan) for row in log]
        errors.plot(labels, cv, "s-", label="cross-validation MSE")
    errors.set_ylabel("MSE (scaled targets)")
    errors.legend()
    spread.plot(labels, [row["mean_spread"] for row in log], "o-", color="C2")
    spread.set_ylabel("mean member spread")
    for axis in (errors, spread):
        axis.set_yscale("log")
        axis.set_xlabel("labels")
        axis.grid(True, which="both", alpha=0.3)
    figure.suptitle(title)
    kind = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda file: figure.savefig(file, format=kind, dpi=120))


# -- predict -------------------------------------------------------------------------


def run_predict(args: argparse.Namespace) -> int:
    c = Campaign.open(args.folder)
    path = Path(args.file)
    header, rows = read_rows(path)
    _require(path, header, c.x_names, "input")
    if not rows:
        raise CampaignError(f"{path}: no rows")
    x = _column_values(path, header, rows, c.x_names, "every input is needed")
    mean, spread = c.predict(x)
    names = c.y_names
    columns = [*c.x_names]
    for name in names:
        columns += [f"{name}_mean", f"{name}_spread"]
    keep_id = ID in header
    lines = []
    for i, (_, fields) in enumerate(rows):
        row = [fields[header.index(ID)]] if keep_id else []
        row += [store.number(v) for v in x[i]]
        for j in range(len(names)):
            row += [store.number(mean[i, j]), store.number(spread[i, j])]
        lines.append(row)
    out = Path(args.out)
    content = store.csv_bytes([ID, *columns] if keep_id else columns, lines)
    atomic_write(out, lambda file: file.write(content))
    print(
        f"wrote the predictions at {len(rows)} points of {path} to {out} "
        f"(columns {', '.join(columns[len(c.x_names) :])})"
    )
    return 0


# -- helpers -------------------------------------------------------------------------


def _quote(path: str | Path) -> str:
    return shlex.quote(str(path))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
