"""What a command's `--problem` may name beyond a registered name: a data file or
an import path (`load`).

    load("path/to/data.csv:target=4,5")           # a finite data set
    load("package.module:attribute")              # a Problem, a maker, an oracle
    load("path/to/file.py:attribute")
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import pkgutil
import re
import sys
from pathlib import Path

from jdal.problems.base import Problem
from jdal.problems.files import DATA_SUFFIXES, file_problem, problem_name_of
from jdal.problems.user_oracle import (
    check_finite,
    check_name,
    fingerprint,
    one_line,
    oracle_problem,
    register_if,
)

from .text import comma_parts


def load(spec: str) -> Problem:
    """Builds and registers the problem a CLI `--problem` names, other than a
    registered name:

    - `path/to/data.csv` (or .tsv/.txt/.dat/.npz): a finite data set, named after
      the file; `path/to/data.csv:target=4,5` picks target columns (indices or
      header names; default the last column);
    - `package.module:attribute` or `path/to/file.py:attribute`: a `Problem`, a
      function of no arguments returning one, or an oracle function carrying its
      box as attributes `lower` and `upper` (named after the attribute).

    ValueError in one line saying what was wrong.
    """
    text = str(spec).strip()
    location, colon, attribute = text.rpartition(":")
    if colon and Path(location).suffix.lower() in DATA_SUFFIXES:
        key, equals, value = attribute.partition("=")
        if key.strip() != "target" or not equals or not value.strip():
            raise ValueError(
                f"{text!r}: after a data file, ':' takes target=<columns>, e.g. "
                f"{location}:target=4 or {location}:target=y1,y2"
            )
        target = [
            int(p) if re.fullmatch(r"-?\d+", p) else p for p in comma_parts(value)
        ]
        return file_problem(_existing(location), target)
    if Path(text).suffix.lower() in DATA_SUFFIXES:
        return file_problem(_existing(text))
    if Path(text).is_file():
        raise ValueError(
            f"{text!r}: unsupported extension {Path(text).suffix!r}; data files are "
            f"{', '.join(DATA_SUFFIXES)} (text tables: rename to .txt or .csv)"
        )
    if not colon or not location or not attribute:
        raise ValueError(
            f"{text!r} is not a problem name, a data file ({', '.join(DATA_SUFFIXES)}) "
            "or an import path package.module:attribute or path/to/file.py:attribute"
        )
    return _from_object(attribute, _resolve(location, attribute, text))


def _existing(path: str) -> Path:
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such data file")
    return Path(path)


def _resolve(location: str, attribute: str, spec: str):
    """The object `location:attribute` names: a module by dotted path
    (`pkgutil.resolve_name`) or a .py file, then the attribute (dots allowed)."""
    if location.endswith(".py") or os.sep in location or "/" in location:
        return _attribute(_import_file(location), attribute, spec)
    try:
        return pkgutil.resolve_name(f"{location}:{attribute}")
    except ModuleNotFoundError as error:
        # Scripts put their own folder on the path, not the working folder.
        if error.name == location.split(".")[0] and os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
            return _resolve(location, attribute, spec)
        raise ValueError(f"{location}: cannot import: {one_line(error)}") from None
    except AttributeError:
        module = pkgutil.resolve_name(location)  # imported above: only a name misses
        return _attribute(module, attribute, spec)
    except Exception as error:
        raise ValueError(f"{location}: importing failed: {one_line(error)}") from None


def _import_file(location: str):
    """The module of a .py file, imported under a name of its own."""
    path = Path(location)
    if not path.is_file():
        raise ValueError(f"{location}: no such Python file")
    module_name = f"jdal_user_{problem_name_of(path).replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look it up
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise ValueError(f"{location}: importing failed: {one_line(error)}") from None
    return module


def _attribute(module, attribute: str, spec: str):
    """`module.<attribute>`, dots allowed; ValueError naming what is missing."""
    value = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ValueError(f"{spec!r}: {module.__name__} has no attribute {part!r}")
        value = getattr(value, part)
    return value


def _from_object(attribute: str, value) -> Problem:
    """A registered problem from what an import path named (see `load`)."""
    if isinstance(value, Problem):
        check_name(value.name)
        if value.fingerprint is None:  # built by hand: checked and digested here
            if value.data is not None:
                data = value.data
                digest = fingerprint(data.x, data.y, data.test_fraction, value.model)
            else:
                probes = check_finite(value.name, value.oracle, value.dim_x)
                digest = fingerprint(probes, value.model)
            value = value._replace(fingerprint=digest)
        return register_if(value, True)
    if not callable(value):
        raise ValueError(
            f"{attribute!r} is a {type(value).__name__}; expected a Problem, a "
            "function returning one, or an oracle function with lower/upper"
        )
    name = attribute.rpartition(".")[2]
    if hasattr(value, "lower") and hasattr(value, "upper"):
        return oracle_problem(name, value, value.lower, value.upper)
    try:
        required = [
            p
            for p in inspect.signature(value).parameters.values()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        required = [None]
    if required:
        raise ValueError(
            f"problem {name!r}: a function of a point needs its input box: give it "
            "attributes lower and upper (one bound per input), or build the problem "
            "with jdal.problems.oracle_problem(...) and name that"
        )
    problem = value()
    if not isinstance(problem, Problem):
        raise ValueError(
            f"{attribute!r}() returned a {type(problem).__name__}, not a Problem"
        )
    check_name(problem.name)
    return register_if(problem, True)
