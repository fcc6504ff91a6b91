"""SynSense's bit-accurate Xylo simulator ``xylosim`` (the reference of the Xylo-style target)
on a mapped :class:`~snnpipe.hwmap.mappers.xylo_config.XyloConfig`, driven through
:class:`snnpipe.hwmap.intsim.xylo_ref.XyloReference`; one sample at a time. Populations and
outputs as :mod:`.intsim_xylo`."""
from __future__ import annotations

from snnpipe.hwmap.intsim.xylo_ref import XyloReference
from snnpipe.pipeline.backends.base import Backend, Compiled, Run, channels
from snnpipe.pipeline.backends.intsim_xylo import chip_outputs, chip_pops


def run(c: Compiled, x, record: bool = False) -> Run:
    """xylosim v2 (Xylo v1 for a chip without bias) on x (B, Nin, T)."""
    inputs = c.graph.graph["inputs"] if c.graph is not None else []
    limits = c.options.get("limits")
    version = 1 if limits is not None and not limits.has_bias else 2
    r = XyloReference(c.artifact, version).run(channels(inputs, x), record=True)
    pops = chip_pops(c, r["spikes"], r["spikes_out"], r)
    return Run("xylosim", pops if record else {}, chip_outputs(c, r["spikes_out"], r["Vmem_out"]),
               t_offset=-1)


BACKEND = Backend("xylosim", "xylo", -1, run, None, "SynSense's xylosim (the Xylo reference)",
                  batched=False, requires="xylosim")
