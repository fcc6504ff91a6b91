"""The ``snnpipe`` command line (DESIGN.md section 7).

Exit codes: 0 success, 1 a check or verification failed, 2 bad input (any SnnpipeError).
Errors print one line to stderr; ``--debug`` shows the traceback. Each command is a pair of
small functions in :mod:`.network`, :mod:`.runs` or :mod:`.tools`: ``add_<command>`` (its
parser) and ``cmd_<command>`` (what it does).
"""
from __future__ import annotations

import argparse
import sys
import traceback

from snnpipe import __version__
from snnpipe.pipeline.cli import network, runs, tools
from snnpipe.pipeline.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, parent
from snnpipe.pipeline.ir.errors import SnnpipeError, VerificationError

COMMANDS = (tools.add_doctor, network.add_inspect, network.add_compile, network.add_simulate,
            network.add_verify, tools.add_convert, runs.add_demo, tools.add_raster,
            runs.add_report, runs.add_train, runs.add_evaluate)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command of :data:`COMMANDS`."""
    p = argparse.ArgumentParser(
        prog="snnpipe",
        description="From PyTorch-trained spiking networks to Lava and neuromorphic hardware, "
                    "verified bit for bit.")
    p.add_argument("--version", action="version", version=f"snnpipe {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    common = parent()
    for add in COMMANDS:
        add(sub, common)
    return p


def main(argv=None) -> int:
    """Entry point of the ``snnpipe`` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return args.func(args)
    except VerificationError as e:
        if args.debug:
            traceback.print_exc()
        print(f"snnpipe: verification failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    except SnnpipeError as e:
        if args.debug:
            traceback.print_exc()
        print(f"snnpipe: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
