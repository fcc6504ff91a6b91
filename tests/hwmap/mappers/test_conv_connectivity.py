"""The mapper's conv connectivity (built from indices) is the connectivity of the convolution
itself: a one-hot source neuron, convolved, reaches exactly the destinations it marks."""
import numpy as np
import pytest

from snnpipe.hwmap.mappers.loihi_conv import conv_apply, conv_connectivity


@pytest.mark.parametrize("seed", range(12))
def test_conv_connectivity_is_the_convolution(seed):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2]))
    c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    conv = {"stride": tuple(int(v) for v in rng.integers(1, 3, 2)),
            "padding": tuple(int(v) for v in rng.integers(0, 2, 2)),
            "dilation": tuple(int(v) for v in rng.integers(1, 3, 2)), "groups": groups}
    shape = (c_in, int(rng.integers(6, 10)), int(rng.integers(6, 10)))
    w = rng.integers(-2, 3, (c_out, c_in // groups, kh, kw))      # zeros are missing synapses
    n_src = int(np.prod(shape))
    eye = np.eye(n_src).reshape((n_src,) + shape)
    want = conv_apply(eye, w != 0, conv).reshape(n_src, -1).T != 0
    got = conv_connectivity(shape, w, conv).toarray()
    assert got.shape == want.shape and np.array_equal(got, want)


def test_pilotnet_sized_layer_is_sparse():
    """3x66x200 -> 24x32x99 (stride 2): 2.05 M synapses, not a 76032 x 39600 dense mask."""
    w = np.ones((24, 3, 3, 3))
    m = conv_connectivity((3, 66, 200), w, {"stride": (2, 2)})
    assert m.shape == (24 * 32 * 99, 3 * 66 * 200) and m.nnz == 24 * 32 * 99 * 27
