"""run(): alignment, merge outputs, errors, and no Lava workers left behind."""
from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest

from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import BackendError, GraphError
from snnpipe.processes.compile import compile
from snnpipe.processes.run import run
from snnpipe.processes.smoke import three_neuron_check
import zoo

pytestmark = pytest.mark.lava


def _children() -> list[int]:
    """Pids of this process's live children, from /proc (zombies excluded), except Python's
    shared-memory resource tracker, which lives as long as the interpreter by design."""
    me, kids = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"resource_tracker" not in f.read():
                    kids.append(int(pid))
    return kids


def _delayed_graph():
    g = G.new_graph("delayed")
    G.add_input(g, "in", 2)
    G.add_neuron(g, "h", 2, current_decay=1.0, voltage_decay=1.0, threshold=0.5)
    G.add_dense(g, "in", "h", np.eye(2), delay=3)
    G.set_outputs(g, ["h"])
    return g


def test_a_failing_lava_run_raises_and_leaves_no_workers():
    net = compile(_delayed_graph(), "fixed")
    # Corrupt the DelayDense process so that its ProcessModel raises inside the Lava worker.
    next(iter(net.synapses.values())).delays.init = np.full((2, 2), 100)
    start = time.monotonic()
    with pytest.raises(BackendError, match="DelayDense"):
        run(net, np.ones((2, 5), np.int64))
    assert time.monotonic() - start < 30
    assert multiprocessing.active_children() == []
    assert _children() == []


def test_delay_and_alignment():
    """An input spike at column 2 through a 3-step delay: Lava step 3 + 1 + 3 = 7, raw index 6;
    the latency is 4 and the aligned output puts it back at column 2."""
    x = np.zeros((2, 8), np.int64)
    x[0, 2] = 1
    rec = run(compile(_delayed_graph(), "fixed"), x)
    assert rec.latency["h"] == 4 and rec.steps == 12
    assert np.flatnonzero(rec.raw["h"][0]).tolist() == [6]
    assert np.flatnonzero(rec.outputs["h"][0]).tolist() == [2]
    assert rec.outputs["h"].shape == (2, 8) and rec.raw["h"][1].sum() == 0
    assert multiprocessing.active_children() == []


def test_a_merge_output_is_the_sum_of_its_sources():
    g = zoo.branches_merge(0)
    g.graph["outputs"] = ["sum", "a", "b"]
    x = (np.random.default_rng(0).random((6, 20)) < 0.5).astype(np.int64)
    rec = run(compile(g, "fixed"), x, probes=["a/u", "a/v"])
    assert np.array_equal(rec.raw["sum"], rec.raw["a"] + rec.raw["b"])
    assert rec.raw["sum"].max() == 2
    assert rec.states["a/u"].shape == (1, 8, 21) and rec.states["a/v"].shape == (8, 21)


def test_bad_inputs_and_probes_are_graph_errors():
    net = compile(_delayed_graph(), "fixed")
    with pytest.raises(GraphError, match="channels"):
        run(net, np.ones((3, 5), np.int64))
    with pytest.raises(GraphError, match="probe"):
        run(net, np.ones((2, 5), np.int64), probes=["h/w"])
    with pytest.raises(ValueError, match="precision"):
        compile(_delayed_graph(), "double")


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_three_neuron_check(precision):
    ok, detail = three_neuron_check(precision)
    assert ok, detail
    assert "a=8" in detail


def test_long_raster_through_identity_edge():
    """100 channels x 400 steps through a one-to-one edge: the output is the input one step
    later, and reading it back is fast (recorders write files; Lava's Var.get would take
    seconds for these 40 000 values)."""
    g = G.new_graph("copy")
    G.add_input(g, "in", 100)
    G.add_neuron(g, "h", 100, current_decay=1.0, voltage_decay=1.0, threshold=0.5)
    G.add_identity(g, "in", "h", 1.0)
    G.set_outputs(g, ["h"])
    x = (np.random.default_rng(2).random((100, 400)) < 0.2).astype(np.int64)
    start = time.monotonic()
    rec = run(compile(g, "fixed"), x)
    assert np.array_equal(rec.outputs["h"], x)
    assert time.monotonic() - start < 30


def test_two_inputs_add_at_the_target():
    g = G.new_graph("two_inputs")
    G.add_input(g, "a", 3)
    G.add_input(g, "b", 2)
    G.add_neuron(g, "h", 3, current_decay=1.0, voltage_decay=1.0, threshold=0.5)
    G.add_identity(g, "a", "h", 1.0)
    w_b = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, -1.0]])
    G.add_dense(g, "b", "h", w_b)
    G.set_outputs(g, ["h"])
    rng = np.random.default_rng(4)
    xa = (rng.random((3, 30)) < 0.5).astype(np.int64)
    xb = (rng.random((2, 30)) < 0.5).astype(np.int64)
    rec = run(compile(g, "fixed"), {"a": xa, "b": xb})
    assert np.array_equal(rec.outputs["h"], (xa + w_b @ xb > 0.5).astype(np.int64))
    with pytest.raises(GraphError, match="several inputs"):
        run(compile(g, "fixed"), xa)


def test_a_run_in_progress_bar_chunks_equals_one_run(capsys):
    """The progress bar runs Lava in chunks of 100 steps; off a terminal it writes nothing."""
    g = zoo.recurrent_second(0)
    x = (np.random.default_rng(3).random((G.size(g.nodes["in"]["shape"]), 230)) < 0.3).astype(np.int64)
    whole = run(compile(g, "fixed"), x, probes=("h2/v",))
    chunked = run(compile(g, "fixed"), x, probes=("h2/v",), progress=True)   # chunks of 100 steps
    out = g.graph["outputs"][0]
    assert whole.raw[out].sum() > 0
    assert np.array_equal(whole.raw[out], chunked.raw[out])
    assert np.array_equal(whole.states["h2/v"], chunked.states["h2/v"])
    assert capsys.readouterr().err == ""
