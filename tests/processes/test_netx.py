"""Our compile of a netx file equals lava-dl netx's own compile of it, in Lava fixed point."""
from __future__ import annotations

import numpy as np
import pytest

from snnpipe.processes.compile import compile
from snnpipe.processes.run import run
import zoo
from snnpipe.pipeline.formats import hdf5

pytestmark = pytest.mark.lava
netx = pytest.importorskip("lava.lib.dl.netx")

T = 30


def _run_netx(path, x: np.ndarray, in_shape) -> np.ndarray:
    """netx.hdf5.Network(path) in fixed point on (N_in, T) in our (C, H, W) flattening:
    output spikes (N_out, T) of a dense output layer."""
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from snnpipe.processes.lavaguard import run_steps, shutdown

    net = netx.hdf5.Network(net_config=str(path))
    data = x.reshape(*in_shape, T)
    if len(in_shape) == 3:
        data = data.transpose(2, 1, 0, 3)  # (C, H, W) -> Lava's (W, H, C)
    source, sink = Source(data=data.astype(np.int32)), Sink(shape=net.out.shape, buffer=T)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        run_steps(net, T, Loihi2SimCfg(select_tag="fixed_pt"))
        return np.asarray(sink.data.get()).astype(np.int64)
    finally:
        shutdown(net)


def _dense_with_bias(seed: int):
    g = zoo.sequential_dense(seed)
    g.nodes["h1"]["bias"] = np.random.default_rng(seed).integers(-20, 20, size=12) / 64
    return g


CASES = {"dense0": lambda: zoo.sequential_dense(0), "dense_bias1": lambda: _dense_with_bias(1),
         "conv": lambda: zoo.sequential_conv(0), "dense_rec": lambda: zoo.recurrent_first(0)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compile_of_netx_file_equals_netx(case, tmp_path):
    g = CASES[case]()
    path = tmp_path / "net.h5"
    hdf5.export(g, path)
    in_shape = g.nodes[g.graph["inputs"][0]]["shape"]
    x = (np.random.default_rng(7).random((int(np.prod(in_shape)), T)) < 0.4).astype(np.int64)
    want = _run_netx(path, x, in_shape)
    loaded = hdf5.load(path)
    rec = run(compile(loaded, "fixed"), x, steps=T)
    out = loaded.graph["outputs"][0]
    assert np.array_equal(rec.raw[out], want)
    assert want.sum() > 0


def test_compile_of_a_file_exported_by_slayer_equals_netx(tmp_path):
    """A network built and exported by lava-dl's slayer itself (Dense 8-12-6)."""
    import h5py
    import torch
    from lava.lib.dl import slayer

    torch.manual_seed(3)
    params = dict(threshold=1.0, current_decay=0.25, voltage_decay=0.03, requires_grad=False)
    blocks = [slayer.block.cuba.Dense(params, 8, 12, weight_scale=3),
              slayer.block.cuba.Dense(params, 12, 6, weight_scale=3)]
    x = (np.random.default_rng(5).random((8, T)) < 0.4).astype(np.int64)
    with torch.no_grad():                           # export_hdf5 needs one forward pass
        y = torch.tensor(x[None], dtype=torch.float32)
        for b in blocks:
            y = b(y)
    path = tmp_path / "slayer.h5"
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layers.create_group(str(i)))
    want = _run_netx(path, x, (8,))
    loaded = hdf5.load(path)
    rec = run(compile(loaded, "fixed"), x, steps=T)
    assert want.sum() > 0
    assert np.array_equal(rec.raw[loaded.graph["outputs"][0]], want)
