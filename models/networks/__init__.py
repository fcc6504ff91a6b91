"""Reference networks of the seed tutorials, each exportable to a Graph."""
from snnpipe.models.networks.chirp import chirp_bounds, chirp_net
from snnpipe.models.networks.ipd import ipd_net
from snnpipe.models.networks.oxford import oxford
from snnpipe.models.networks.synnet import SynNet
from snnpipe.models.networks.wavesense import WaveSenseNet

__all__ = ["oxford", "WaveSenseNet", "SynNet", "chirp_net", "chirp_bounds", "ipd_net"]
