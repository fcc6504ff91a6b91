"""The loihi precision of the sigma-delta neuron (models/neurons/sigma_delta_loihi.py) equals
lava-dl's slayer sigma-delta neuron forward, value for value, in each of its three parts."""
import numpy as np
import pytest
import torch

from snnpipe.models.neurons.sigma_delta_loihi import sigma_delta_loihi

slayer = pytest.importorskip("lava.lib.dl.slayer")


def _inputs(seed, shape=(2, 5, 30)):
    """Synaptic inputs as slayer's quantised blocks make them: multiples of 2^-17."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-60000, 60000, shape, generator=g).float() / 2 ** 17


@pytest.mark.parametrize("seed", range(4))
def test_equals_slayers_sigma_delta_neuron(seed):
    x = _inputs(seed)
    th = float(np.random.default_rng(seed).uniform(0.01, 0.5))
    neuron = slayer.neuron.sigma_delta.Neuron(threshold=th, activation=torch.nn.functional.relu)
    bias = torch.arange(-2, 3).float() / 32 * seed
    if seed % 2:
        neuron.set_bias(bias)
    with torch.no_grad():
        want = neuron(x)
        delta, sigma = neuron.delta(x), neuron.sigma(x)
    assert torch.count_nonzero(want) > 10
    assert torch.equal(sigma_delta_loihi(x, th, bias if seed % 2 else 0.0), want)
    assert torch.equal(sigma_delta_loihi(x, th, stage="delta", relu=False), delta)
    assert torch.equal(sigma_delta_loihi(x, th, stage="sigma", relu=False), sigma)
