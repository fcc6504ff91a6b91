"""After import, a framework's network goes down the whole chain: Lava floating point emits what
our torch float model emits (and so what the framework emitted: test_nir_frameworks.py), and a
network a chip can hold compiles for it, where its integer simulator equals Lava fixed point
(Loihi-style) or xylosim (Xylo-style) with 0 differing values. What a target cannot hold is a
typed refusal naming the population and field: snnTorch's default reset by subtraction and
Sinabs' and Rockpool's multi-spike neurons are not the standard Loihi LIF's."""
import os
import warnings

import numpy as np
import pytest

import snnpipe
from snnpipe.pipeline.ir.errors import SnnpipeError

from nir_frameworks import CASES, imported, needs

FULL = os.environ.get("SNNPIPE_CROSSCHECK") == "full"
LATER = [pytest.mark.crosscheck,
         pytest.mark.skipif(not FULL, reason="the other framework cases: under `make crosscheck` "
                            "(SNNPIPE_CROSSCHECK=full)")]
# what each case deploys to: "loihi" (verify equal), "xylo" (verify equal) or the refused field
CHAIN = {"snntorch-leaky": "reset", "snntorch-synaptic": "reset", "snntorch-rleaky": "reset",
         "snntorch-zero": "loihi", "norse-lif": "loihi", "norse-lifbox": "loihi",
         "norse-iaf": "loihi", "sinabs-iaf": "reset", "sinabs-lif": "reset",
         "sinabs-lif-explk": "reset", "sinabs-conv": "reset", "rockpool-lif": "xylo",
         "rockpool-lif-bias": "reset", "rockpool-lif-explk": "xylo"}
SUITE = ("snntorch-leaky", "norse-lif", "snntorch-zero", "rockpool-lif")


def _cases(names=None):
    return [pytest.param(n, marks=[needs(n)] + ([] if n in (names or SUITE) else LATER))
            for n in CASES]


def _import(name, tmp_path):
    case = CASES[name](0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g, _ = imported(case, tmp_path, producer=case.producer)
    return g, case.x


@pytest.mark.parametrize("name", _cases(("snntorch-leaky", "norse-lif")))
def test_lava_float_emits_what_torch_float_emits(name, tmp_path):
    g, x = _import(name, tmp_path)
    want = snnpipe.simulate(g, x, "torch-float").output
    if any(d.get("spike") == "multi" for _, d in g.nodes(data=True)):
        with pytest.raises(SnnpipeError, match="binary spikes"):
            snnpipe.simulate(g, x, "lava-float")
        return
    assert np.array_equal(snnpipe.simulate(g, x, "lava-float").output, want)


@pytest.mark.parametrize("name", _cases())
def test_an_imported_network_deploys_or_is_refused_by_name(name, tmp_path):
    g, x = _import(name, tmp_path)
    where = CHAIN[name]
    if where in ("loihi", "xylo"):
        report = snnpipe.verify(g, where, x[:1])
        assert report.ok, report.text()
    else:
        with pytest.raises(SnnpipeError, match=where):
            snnpipe.compile(g, "loihi")
