"""kernels: numba-compiled consistent hashing, load-balancer selection and latency histograms.

Routing keys to nodes (caches, shards, queues) and picking workers, millions
of times a second, with a clean Python API and batch entry points over numpy
arrays.  Every hot path is a numba ``@njit(cache=True)`` kernel, compiled on
first call and cached on disk; the public wrappers here validate arguments and
raise ``ValueError``/``TypeError`` naming the argument.

Placement (key -> node):

* :class:`HashRing` -- consistent hash ring with virtual nodes and weights;
  ``compat="libketama"`` / ``"uhashring"`` reproduce those libraries exactly.
* :func:`assign_bounded`, :class:`BoundedLoadBalancer` -- consistent hashing
  with bounded loads (Mirrokni, Thorup & Zadimoghaddam).
* :func:`jump_hash` -- jump consistent hash (Lamping & Veach).
* :class:`MaglevTable` -- Maglev hashing (Eisenbud et al.).
* :class:`Rendezvous` -- weighted rendezvous (highest random weight) hashing.

Selection (which worker next): :class:`SmoothWeightedRoundRobin`,
:class:`AliasTable`, :class:`PowerOfTwoChoices`, :class:`LeastLoaded`.

Hashing: :func:`xxh64`, :func:`hash_keys`, :func:`mix64`, :func:`pack_keys`,
:func:`ketama_hash`, :func:`ketama_hash_keys`, :func:`md5_digests`.

Statistics: :class:`LatencyHistogram` (HDR-style, bounded relative error).

See ``docs/kernels.md`` for when to pick which.
"""

from .bounded import BoundedLoadBalancer, assign_bounded, bounded_capacities
from .hashing import (
    PackedKeys,
    hash_keys,
    ketama_hash,
    ketama_hash_keys,
    md5_digests,
    mix64,
    pack_keys,
    xxh64,
)
from .histogram import LatencyHistogram
from .jump import jump_hash, jump_hash_keys
from .maglev import MAGLEV_DEFAULT_TABLE_SIZE, MAGLEV_MAX_TABLE_SIZE, MaglevTable
from .rendezvous import Rendezvous
from .ring import COMPAT_MODES, DEFAULT_VNODES, HashRing
from .select import AliasTable, LeastLoaded, PowerOfTwoChoices, SmoothWeightedRoundRobin

__all__ = [
    "COMPAT_MODES",
    "DEFAULT_VNODES",
    "MAGLEV_DEFAULT_TABLE_SIZE",
    "MAGLEV_MAX_TABLE_SIZE",
    "AliasTable",
    "BoundedLoadBalancer",
    "HashRing",
    "LatencyHistogram",
    "LeastLoaded",
    "MaglevTable",
    "PackedKeys",
    "PowerOfTwoChoices",
    "Rendezvous",
    "SmoothWeightedRoundRobin",
    "assign_bounded",
    "bounded_capacities",
    "hash_keys",
    "jump_hash",
    "jump_hash_keys",
    "ketama_hash",
    "ketama_hash_keys",
    "md5_digests",
    "mix64",
    "pack_keys",
    "xxh64",
]

__version__ = "0.1.0.dev0"
