"""Benchmarks of the ``kernels`` package: ``python -m benchmarks.kernels [--quick] [--only AREA]``."""
