"""The tuner-quality benchmark: how close each search strategy gets to the grid's best.

``python -m benchmarks.tuner`` (replay, the default) compares ``auto``, ``random`` and
Optuna's TPE sampler on grids recorded once on real pools (``benchmarks/tuner_data``), so
every strategy sees identical data and the comparison is not at the mercy of a noisy 2-core
machine; ``python -m benchmarks.tuner record`` re-measures the grids, and ``verify``
re-measures each grid's leaders against random controls (the winner's curse).  See
:mod:`.record` for what is recorded and :mod:`.replay` for the definitions (regret, budgets).
"""
