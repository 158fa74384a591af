"""kernels: numba-compiled consistent hashing, load-balancer selection and latency histograms.

(Public API assembled below; see docs/kernels.md.)
"""
