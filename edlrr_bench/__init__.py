"""edlrr_bench: the benchmark suite around :mod:`edlrr`.

The repository folders ``datasets/`` and ``baselines/`` are installed as the subpackages
:mod:`edlrr_bench.datasets` and :mod:`edlrr_bench.baselines` (see ``pyproject.toml``), so that
they never shadow the PyPI distributions named ``datasets`` and ``baselines``.
"""
