"""Worker of tests/models/test_distributed.py, started by torchrun: trains a small network with
the Assistant under DistributedDataParallel (gloo, CPU) and saves this rank's parameters."""
import sys

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from snnpipe.models.block.cuba import Dense
from snnpipe.models.losses import SpikeRate
from snnpipe.models.network import Network
from snnpipe.models.training import Assistant

NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.05}


def main(out_dir: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)                                  # same initial weights on every rank
    net = Network([("hidden", Dense(NEURON, 10, 16, weight_scale=2)),
                   ("out", Dense(NEURON, 16, 2, weight_scale=2))])
    before = torch.cat([p.detach().flatten().clone() for p in net.parameters()])
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(16, 10, 40, generator=g) < 0.3).float()
    y = torch.randint(0, 2, (16,), generator=g)
    data = TensorDataset(x, y)
    loader = DataLoader(data, batch_size=4, sampler=DistributedSampler(data, seed=0))
    ddp = torch.nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(ddp.parameters(), lr=0.01)
    assistant = Assistant(ddp, SpikeRate(true_rate=0.2, false_rate=0.02), opt, device="cpu",
                          progress=False)
    assistant.train(loader, epoch=0)
    after = torch.cat([p.detach().flatten() for p in net.parameters()])
    torch.save({"before": before, "after": after, "world": dist.get_world_size()},
               f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
