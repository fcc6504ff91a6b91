"""The ``snnpipe`` command line (DESIGN.md section 7).

Exit codes: 0 success, 1 a check or verification failed, 2 bad input (any SnnpipeError).
Errors print one line to stderr; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback

from pipeline import __version__
from pipeline.errors import SnnpipeError, VerificationError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def cmd_doctor(args) -> int:
    from pipeline.doctor import as_json, format_checks, run_checks

    results = run_checks()
    if args.json:
        print(json.dumps(as_json(results), indent=1))
    else:
        print(format_checks(results))
    return EXIT_OK if all(c.ok for c in results) else EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="snnpipe",
        description="From PyTorch-trained spiking networks to Lava and neuromorphic hardware, "
                    "verified bit for bit.")
    p.add_argument("--version", action="version", version=f"snnpipe {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("doctor", help="check the environment (Python, torch, Lava, a 3-neuron Lava run)",
                       description="Check the environment: Python, torch (and CUDA), numpy, h5py, "
                                   "networkx, lava-nc, lava-dl, and a 3-neuron network run on "
                                   "Lava's CPU simulator in fixed and floating point.")
    d.add_argument("--json", action="store_true", help="print the report as JSON")
    d.set_defaults(func=cmd_doctor)
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
