"""The Assistant trains under torchrun with DistributedDataParallel (gloo backend, 2 CPU
processes): gradients are averaged across ranks, so every rank ends with the same weights."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_train_to_identical_weights(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(WORKER), str(tmp_path)]
    # the reference step functions: what is checked is DDP's gradient averaging through the
    # Assistant (the fused kernels are checked against them in tests/models/kernels)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "SNNPIPE_KERNEL": "reference"})
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{i}.pt") for i in range(2)]
    assert all(rk["world"] == 2 for rk in ranks)
    assert torch.equal(ranks[0]["before"], ranks[1]["before"])
    assert not torch.equal(ranks[0]["before"], ranks[0]["after"])         # it trained
    assert torch.allclose(ranks[0]["after"], ranks[1]["after"], rtol=0, atol=1e-6)
