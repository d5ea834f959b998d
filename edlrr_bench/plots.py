"""Seaborn figures drawn only from the results table; each returns the markdown that embeds it."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402


class Plotter:
    """Writes PNGs into ``folder``; links in the report are relative to ``link_base``."""

    def __init__(self, folder: Path, link_base: Path):
        self.folder = Path(folder)
        self.link_base = Path(link_base)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _save(self, fig, name: str, title: str) -> str:
        path = self.folder / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        rel = path.relative_to(self.link_base) if path.is_relative_to(self.link_base) else path
        return f"![{title}]({rel.as_posix()})\n"

    def lineplot(self, df: pd.DataFrame, *, x: str, y: str, hue: str | None = None, col: str | None = None,
                 ref: str | None = None, logx: bool = False, logy: bool = False, name: str, title: str,
                 xlabel: str | None = None, ylabel: str | None = None, col_wrap: int = 4) -> str:
        """Measured ``y`` as markers (mean over repeated rows), the reference column ``ref``
        as lines, one panel per value of ``col``."""
        if df.empty:
            return ""
        data = df.copy()
        group = [c for c in (col, hue, x) if c]
        agg = {y: "mean"}
        if ref:
            agg[ref] = "mean"
        data = data.groupby(group, dropna=False).agg(agg).reset_index()
        ncol = data[col].nunique() if col else 1
        g = sns.FacetGrid(data, col=col, hue=hue, col_wrap=min(col_wrap, ncol) if col else None,
                          sharey=False, height=3.0, aspect=1.2, palette="viridis")
        g.map_dataframe(sns.scatterplot, x=x, y=y, s=28)
        if ref:
            g.map_dataframe(sns.lineplot, x=x, y=ref, linewidth=1.2, errorbar=None)
        for ax in g.axes.flat:
            if logx:
                ax.set_xscale("log")
            if logy:
                ax.set_yscale("log")
        g.add_legend(title=hue)
        g.set_axis_labels(xlabel or x, ylabel or y)
        g.set_titles(col_template="{col_name}")
        g.figure.suptitle(title, y=1.02)
        return self._save(g.figure, name, title)

    def barplot(self, df: pd.DataFrame, *, x: str, y: str, hue: str | None = None, name: str, title: str,
                logy: bool = False, ylabel: str | None = None) -> str:
        if df.empty:
            return ""
        fig, ax = plt.subplots(figsize=(max(5, 0.5 * df[x].nunique() * (df[hue].nunique() if hue else 1)), 3.5))
        sns.barplot(df, x=x, y=y, hue=hue if hue else x, ax=ax, errorbar="sd", palette="viridis",
                    legend=bool(hue))
        if logy:
            ax.set_yscale("log")
        ax.set_ylabel(ylabel or y)
        ax.tick_params(axis="x", rotation=30)
        ax.set_title(title)
        return self._save(fig, name, title)
