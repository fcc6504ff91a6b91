"""Both integer simulators against their references, in one run.

1. Loihi-style: ``snnpipe.hwmap.intsim.loihi`` vs Lava fixed point on the Oxford network
   (200-256-200, 2000 steps, ~5 % input): one sample, and throughput at batch 64.
2. Xylo-style: ``snnpipe.hwmap.intsim.xylo`` vs SynSense's ``xylosim`` on a full-size config
   (16-1000-8, 10,000 steps): one sample, and throughput at batch 64.
3. PilotNet: the Loihi-style simulator vs lava-dl's netx on Lava fixed point, running
   lava-dl's own PilotNet SNN file (158,509 neurons, 16 steps): one sample, batch 64.

Each part prints its own table with the ratios, measured in this run. Usage:
``python bench/intsim.py [--only loihi|xylo|pilotnet]`` (``make bench``).
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("loihi", "xylo", "pilotnet"))
    args = ap.parse_args(argv)
    for part in ("loihi", "xylo", "pilotnet"):
        if args.only in (None, part):
            print(f"=== {part} ===", flush=True)
            _load(f"intsim_{part}").main([])


if __name__ == "__main__":
    main()
