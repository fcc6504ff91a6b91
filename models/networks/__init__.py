"""Reference networks of the seed tutorials, each exportable to a Graph."""
from models.networks.chirp import chirp_bounds, chirp_net
from models.networks.ipd import ipd_net
from models.networks.oxford import oxford
from models.networks.synnet import SynNet
from models.networks.wavesense import WaveSenseNet

__all__ = ["oxford", "WaveSenseNet", "SynNet", "chirp_net", "chirp_bounds", "ipd_net"]
