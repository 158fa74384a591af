"""Plain-Python twins of the kernels: slow, obviously correct, one module per area.

Hypothesis checks that each numba kernel agrees with its twin.
"""
