"""What the commands share: exit codes, the parent parser of the ``--debug`` flag, the recipe
of a network file, and printing metrics."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
RECIPES = ("oxford", "wavesense", "synnet", "chirp", "ipd")


def parent() -> argparse.ArgumentParser:
    """The options every subcommand takes (``--debug``)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks on errors")
    return p


def recipe_of(path) -> str | None:
    """The recipe that trained the network at ``path``: its file is ``<recipe>.h5`` beside the
    checkpoint ``<recipe>.pt`` that a recipe's training writes."""
    p = Path(path)
    return p.stem if p.stem in RECIPES and p.with_suffix(".pt").exists() else None


def print_metrics(result: dict, as_json: bool) -> None:
    """A recipe's metrics as JSON or one ``key: value`` line each."""
    if as_json:
        print(json.dumps(result, indent=1, default=str))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:.4g}"
        print(f"{key}: {value}")
