"""Benchmarks of the ``kernels`` package.

Run ``python -m benchmarks.kernels [--quick] [--only AREA]``.
"""
