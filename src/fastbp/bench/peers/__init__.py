"""The peers fastbp is compared with, one module each, and their registry.

A new peer is a module that defines its rows and a :class:`Peer` named ``PEER``,
plus its line in :data:`PEERS`, whose order is the order of the rows.
"""

from __future__ import annotations

from fastbp.bench.peers import numpy_peer, sklearn_peer, torch_peer
from fastbp.bench.peers.base import Peer

PEERS: tuple[Peer, ...] = (
    numpy_peer.PEER,
    sklearn_peer.PEER,
    torch_peer.PEER,
)

__all__ = ["PEERS", "Peer"]
