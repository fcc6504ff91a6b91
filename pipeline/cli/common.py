"""What the commands share: exit codes, the parent parsers (``--debug``; ``--dt`` and
``--producer`` for a network file that does not state them), the recipe of a network file, and
printing metrics."""
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


def file_options() -> argparse.ArgumentParser:
    """The options of commands that read a network file: what a NIR file does not say."""
    from snnpipe.pipeline.formats.nir_conventions import PRODUCERS

    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("NIR files", "a network file may be NIR (.nir), which states no "
                             "time step and not the framework that wrote it; HDF5 files state "
                             "their own and ignore these")
    g.add_argument("--dt", type=float, metavar="SECONDS",
                   help="seconds per step (default: the file's metadata, else the producer's "
                        "own step; an error names the file when neither has one)")
    g.add_argument("--producer", choices=tuple(PRODUCERS),
                   help="the framework whose discretisation the file follows (default: detected "
                        "from the file, else exact; README: 'NIR files')")
    g = p.add_argument_group("netx files", "netx's run-time arguments, which no file stores")
    g.add_argument("--reset-interval", type=int, metavar="STEPS",
                   help="netx files: netx's run-time reset_interval (every CUBA layer sets u "
                        "and v to zero every STEPS steps, Lava's LIFReset; default: none)")
    g.add_argument("--reset-offset", type=int, default=0, metavar="STEP",
                   help="netx files: netx's reset_offset (default 0)")
    return p


def read_options(args):
    """The :class:`~snnpipe.pipeline.formats.network_file.ReadOptions` of parsed arguments."""
    from snnpipe.pipeline.formats.network_file import ReadOptions

    return ReadOptions(getattr(args, "dt", None), getattr(args, "producer", None),
                       getattr(args, "reset_interval", None), getattr(args, "reset_offset", 0))


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
