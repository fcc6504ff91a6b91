"""Commands around the pipeline: ``doctor`` (the environment), ``convert`` (network files
between formats) and ``raster`` (plots of spike files)."""
from __future__ import annotations

import json
from pathlib import Path

from snnpipe.pipeline.cli.common import EXIT_FAILED, EXIT_OK, file_options, read_options

FRAMEWORKS = ("snntorch", "norse", "sinabs", "rockpool")    # = tuple(nir_readers.READERS)


def add_doctor(sub, parent) -> None:
    d = sub.add_parser("doctor", parents=[parent],
                       help="check the environment (Python, torch, Lava, a 3-neuron Lava run)",
                       description="Check the environment: Python, torch (and CUDA), numpy, h5py, "
                                   "networkx, lava-nc, lava-dl, and a 3-neuron network run on "
                                   "Lava's CPU simulator in fixed and floating point.")
    d.add_argument("--json", action="store_true", help="print the report as JSON")
    d.set_defaults(func=cmd_doctor)


def cmd_doctor(args) -> int:
    from snnpipe.pipeline.cli.doctor import as_json, format_checks, run_checks

    results = run_checks()
    print(json.dumps(as_json(results), indent=1) if args.json else format_checks(results))
    return EXIT_OK if all(c.ok for c in results) else EXIT_FAILED


def add_convert(sub, parent) -> None:
    c = sub.add_parser("convert", parents=[parent, file_options()],
                       help="convert a network file: HDF5 (ours, lava-dl netx) <-> NIR",
                       description="Read a network file (ours, a lava-dl netx HDF5 or NIR) and "
                                   "write it as OUT: NIR for a .nir name, else our HDF5, which "
                                   "holds netx's layer/ layout whenever netx can express the "
                                   "network (--netx: refuse when it cannot). --for F writes "
                                   "NIR in the conventions of framework F's own importer, so "
                                   "that F runs it as we do. What the output format (or F) "
                                   "cannot express exits 2 naming the node and field; nothing "
                                   "is written then.")
    c.add_argument("file", metavar="IN.h5|IN.nir")
    c.add_argument("-o", "--output", required=True, metavar="OUT.h5|OUT.nir")
    c.add_argument("--netx", action="store_true",
                   help="the HDF5 must load in lava-dl's netx (a sequential CUBA chain)")
    c.add_argument("--for", dest="framework", choices=FRAMEWORKS, metavar="FRAMEWORK",
                   help="NIR for this framework's importer: " + " | ".join(FRAMEWORKS))
    c.set_defaults(func=cmd_convert)


def cmd_convert(args) -> int:
    from snnpipe.pipeline.formats import netx_layout
    from snnpipe.pipeline.formats.network_file import NIR_SUFFIX, load, save
    from snnpipe.pipeline.ir.errors import GraphError

    g = load(args.file, read_options(args))
    to_nir = Path(args.output).suffix == NIR_SUFFIX
    if args.netx and (to_nir or netx_layout.chain(g) is None):
        raise GraphError("lava-dl netx cannot express this network" if not to_nir else
                         "--netx writes HDF5, not NIR", file=args.output, field="netx",
                         expected="a sequential CUBA Dense/Conv chain, written to a .h5 name")
    save(g, args.output, producer=args.framework)
    kind = "NIR" if to_nir else ("HDF5 (netx layer/ layout)" if netx_layout.chain(g) is not None
                                 else "HDF5 (graph/ group)")
    kind += f" for {args.framework}" if args.framework else ""
    print(f"wrote {args.output}: {kind}, {g.number_of_nodes()} nodes, "
          f"{g.number_of_edges()} edges, dt {g.graph['dt']:g} s")
    return EXIT_OK


def add_raster(sub, parent) -> None:
    ra = sub.add_parser("raster", parents=[parent],
                        help="plot spikes as a raster (PNG) or animation (GIF)",
                        description="Draw SPIKES (a .npy raster or an event file) as a raster plot "
                                    "(.png) or an animated GIF (.gif): with --shape C,H,W each "
                                    "frame is an image of --window steps, else a sweep over time.")
    ra.add_argument("input", metavar="SPIKES")
    ra.add_argument("-o", "--output", required=True, metavar="OUT.png|OUT.gif")
    ra.add_argument("--shape", metavar="C,H,W", help="the input's shape (2-D events: C,H,W)")
    ra.add_argument("--dt-ms", type=float, default=1.0, help="time bin of event files (ms)")
    ra.add_argument("--sample", type=int, default=0, help="which sample of a batch raster")
    ra.add_argument("--window", type=int, default=5, help="steps per GIF frame")
    ra.set_defaults(func=cmd_raster)


def cmd_raster(args) -> int:
    from snnpipe.pipeline.formats.spikes import load_raster
    from snnpipe.pipeline.ir.errors import FormatError
    from snnpipe.pipeline.report import plots

    try:
        shape = tuple(int(v) for v in args.shape.split(",")) if args.shape else None
    except ValueError:
        raise FormatError("--shape must be integers separated by commas", field="shape",
                          expected="C,H,W", found=args.shape) from None
    batch = load_raster(args.input, shape=shape, dt_ms=args.dt_ms)
    if not 0 <= args.sample < len(batch):
        raise FormatError("no such sample", file=args.input, field="sample",
                          expected=f"0..{len(batch) - 1}", found=args.sample)
    raster = batch[args.sample]
    suffix = Path(args.output).suffix
    if suffix == ".gif":
        plots.raster_gif(args.output, raster, shape=shape, window=args.window)
    elif suffix == ".png":
        plots.rasters(args.output, {Path(args.input).name: raster}, args.dt_ms * 1e-3, states=())
    else:
        raise FormatError("unsupported plot file type", file=args.output, field="suffix",
                          expected=".png | .gif", found=suffix or "none")
    print(f"wrote {args.output}: {raster.shape[0]} channels x {raster.shape[1]} steps, "
          f"{int(raster.sum())} events")
    return EXIT_OK
