"""A periodic state reset (Lava's LIFReset, issue #17) through the pipeline: the IR's fields
checked one by one, our HDF5 both ways (graph/ beside netx's layer/, which cannot store it),
netx's run-time option when reading a netx file (the phase of each layer, as netx's Network
builds it) and what our netx backend hands netx back, the CLI's options, and the refusals of
the formats and targets that cannot express it (NIR, Xylo, torch-xylo, our Lava compile of an
li readout)."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import snnpipe
from snnpipe.pipeline.formats import netx_reset
from snnpipe.pipeline.ir import graph as G
from snnpipe.models.from_graph import build
from snnpipe.pipeline.ir.errors import BackendError, GraphError, ValidationErrors
from snnpipe.pipeline.ir.validate import validate


def chain(resets=((4, 1), (4, 2), (4, 3)), readout=False):
    """in (3) -> a (5) -> b (4) -> c (2, or an li readout), each with its (interval, offset)."""
    rng = np.random.default_rng(0)
    g = G.new_graph("chain")
    G.add_input(g, "in", (3,))
    sizes, prev = (("a", 5), ("b", 4), ("c", 2)), "in"
    for (node, n), (interval, offset) in zip(sizes, resets):
        li = readout and node == "c"
        G.add_neuron(g, node, (n,), model="li" if li else "cuba", current_decay=0.25,
                     voltage_decay=0.125, threshold=0.5, reset_interval=interval,
                     reset_offset=offset)
        G.add_dense(g, prev, node, rng.integers(-64, 64, (n, G.size(g.nodes[prev]["shape"]))) / 32)
        prev = node
    G.set_outputs(g, ["c"])
    return g


def fields(g):
    return [(g.nodes[n].get("reset_interval"), g.nodes[n].get("reset_offset"))
            for n in ("a", "b", "c")]


def test_the_reset_fields_are_checked_one_by_one():
    assert validate(chain()) == []
    assert "reset_interval" not in chain(((0, 0),) * 3).nodes["a"]     # 0: never, left out
    for attrs, fld in (({"reset_interval": 0}, "reset_interval"),
                       ({"reset_interval": 2.0}, "reset_interval"),
                       ({"reset_offset": 4}, "reset_offset"),
                       ({"reset_offset": -1}, "reset_offset")):
        g = chain()
        g.nodes["b"].update(attrs)
        problems = validate(g)
        assert [(p.where, p.field) for p in problems] == [("b", fld)]
    g = G.new_graph()
    G.add_input(g, "in", (2,))
    G.add_sigma_delta(g, "s", (2,))
    G.add_identity(g, "in", "s")
    G.set_outputs(g, ["s"])
    g.nodes["s"].update(reset_interval=2, reset_offset=0)
    assert [(p.where, p.field) for p in validate(g)] == [("s", "reset_interval")]


def test_our_hdf5_keeps_the_reset_beside_netx_layers(tmp_path):
    g = chain(((4, 1), (4, 2), (4, 3)))
    snnpipe.save(g, tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5") as f:
        assert "layer" in f and "graph" in f        # netx still loads it; graph/ has the reset
    assert fields(snnpipe.load(tmp_path / "net.h5")) == [(4, 1), (4, 2), (4, 3)]
    g = chain(((0, 0),) * 3)
    snnpipe.save(g, tmp_path / "plain.h5")
    with h5py.File(tmp_path / "plain.h5") as f:
        assert "graph" not in f                     # unchanged without a reset


@pytest.mark.parametrize("interval,offset", [(1, 0), (4, 0), (4, 6), (7, 2)])
def test_a_netx_file_read_with_netx_reset_gets_netx_phases(interval, offset, tmp_path):
    """netx builds block j's LIFReset with reset_offset k + 1 + j; our netx backend hands the
    same (I, k) back."""
    snnpipe.save(chain(((0, 0),) * 3), tmp_path / "net.h5")
    g = snnpipe.load(tmp_path / "net.h5", reset_interval=interval, reset_offset=offset)
    assert fields(g) == [(interval, (offset + 1 + j) % interval) for j in range(3)]
    assert netx_reset.netx_arguments(g) == (interval, offset % interval)
    assert netx_reset.netx_arguments(chain(((0, 0),) * 3)) is None


def test_resets_netx_cannot_build_are_named():
    for resets, node in ((((4, 1), (4, 3), (4, 3)), "b"), (((4, 1), (3, 2), (4, 3)), "b"),
                         (((4, 1), (4, 2), (0, 0)), "c")):
        with pytest.raises(GraphError) as e:
            netx_reset.netx_arguments(chain(resets))
        assert e.value.where == node
    with pytest.raises(GraphError) as e:
        netx_reset.apply(chain(), 0)
    assert e.value.field == "reset_interval"
    with pytest.raises(GraphError) as e:
        netx_reset.apply(chain(), 3, -1)
    assert e.value.field == "reset_offset"


def test_the_cli_reads_the_reset_options():
    from snnpipe.pipeline.cli.common import file_options, read_options

    import argparse
    parser = argparse.ArgumentParser(parents=[file_options()])
    opts = read_options(parser.parse_args(["--reset-interval", "5", "--reset-offset", "2"]))
    assert (opts.reset_interval, opts.reset_offset) == (5, 2)
    opts = read_options(parser.parse_args([]))
    assert (opts.reset_interval, opts.reset_offset) == (None, 0)


def test_compile_takes_netx_reset_from_the_command_line(tmp_path):
    from snnpipe.hwmap.mappers import loihi_config
    from snnpipe.pipeline.cli.main import main

    snnpipe.save(chain(((0, 0),) * 3), tmp_path / "net.h5")
    assert main(["compile", str(tmp_path / "net.h5"), "--target", "loihi", "-o",
                 str(tmp_path / "out"), "--reset-interval", "4", "--reset-offset", "1"]) == 0
    cfg = loihi_config.load(tmp_path / "out" / "config.json")
    assert [(p.reset_interval, p.reset_offset) for p in cfg.populations] == \
        [(4, 2), (4, 3), (4, 0)]


def test_what_cannot_express_a_reset_refuses_it_by_node_and_field(tmp_path):
    g = chain()
    with pytest.raises(GraphError) as e:
        snnpipe.save(g, tmp_path / "net.nir")
    assert (e.value.where, e.value.field) == ("a", "reset_interval")
    assert ("a", "reset_interval") in [(p.where, p.field) for p in validate(g, "xylo")]
    with pytest.raises(ValidationErrors) as e:
        snnpipe.compile(g, "xylo")
    assert {(p.where, p.field) for p in e.value.problems} == {(n, "reset_interval") for n in "abc"}
    with pytest.raises(GraphError) as e:
        build(g, "xylo")                    # the torch runner's xylo precision
    assert (e.value.where, e.value.field) == ("a", "reset_interval")


@pytest.mark.lava
def test_lava_refuses_an_li_reset_and_netx_a_batch_out_of_phase():
    g = chain(readout=True)
    with pytest.raises(GraphError) as e:
        snnpipe.simulate(snnpipe.compile(g, "graph"), np.zeros((1, 3, 4)), "lava-fixed")
    assert (e.value.where, e.value.field) == ("c", "reset_interval")
    with pytest.raises(BackendError) as e:
        snnpipe.simulate(snnpipe.compile(chain(), "graph"), np.zeros((2, 3, 6)), "netx")
    assert e.value.field == "reset_interval"
