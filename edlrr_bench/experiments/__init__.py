"""The experiments of ``edlrr-bench``: one module each, with ``cells(cfg)``, ``run_cell(cell,
device)`` and ``report(df, out, cfg, plot) -> (markdown, claims)``."""
