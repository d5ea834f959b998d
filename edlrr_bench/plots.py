"""Seaborn figures drawn only from the results table; each returns the markdown that embeds it."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .claims import mean_ci  # noqa: E402


class Plotter:
    """Writes PNGs into ``folder``; links in the report are relative to ``link_base``."""

    def __init__(self, folder: Path, link_base: Path):
        self.folder = Path(folder)
        self.link_base = Path(link_base)
        self.folder.mkdir(parents=True, exist_ok=True)

    def save(self, fig, name: str, title: str) -> str:
        """Write ``fig`` as ``figures/<name>.png`` and return the Markdown that embeds it."""
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
        return self.save(g.figure, name, title)

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
        return self.save(fig, name, title)

    def pointplot(self, df: pd.DataFrame, *, x: str, y: str, col: str | None = None, hue: str | None = None,
                  reference: pd.DataFrame | None = None, reference_label: str = "paper", name: str, title: str,
                  xlabel: str | None = None, ylabel: str | None = None, col_wrap: int = 3, logy: bool = False,
                  order: list | None = None, col_order: list | None = None) -> str:
        """Per panel (``col``) and category (``x``, offset by ``hue``): the mean of ``y`` as a
        marker with its 95% Student-t interval (:func:`point_summary`; no bar from zero). Cells
        that failed or diverged are drawn as red crosses at the bottom of the panel, labelled
        with their count, never left out. ``reference`` (columns ``col``, ``x``, ``value``): the
        paper's numbers as black diamonds. ``order``, ``col_order``: the categories' and panels'
        order (default: sorted, as found)."""
        if df.empty:
            return ""
        summary = point_summary(df, x=x, y=y, col=col, hue=hue)
        panels = list(pd.unique(summary["panel"]))
        if col_order:
            panels = [p for p in col_order if p in panels] + [p for p in panels if p not in col_order]
        cats = order or sorted(pd.unique(summary[x]), key=str)
        hues = list(pd.unique(summary["series"]))
        colours = dict(zip(hues, sns.color_palette("viridis", len(hues))))
        ncols = min(col_wrap, len(panels))
        nrows = -(-len(panels) // ncols)
        width = max(4.0, 0.45 * len(cats) * max(1.0, len(hues) ** 0.5))
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.4 * nrows), squeeze=False)
        step = 0.7 / max(1, len(hues))
        for ax, panel in zip(axes.flat, panels):
            seen = set()
            for r in summary[summary["panel"] == panel].itertuples():
                pos = cats.index(getattr(r, x)) - 0.35 + step * (hues.index(r.series) + 0.5)
                if r.ok:
                    err = None if not np.isfinite(r.low) else [[r.mean - r.low], [r.high - r.mean]]
                    label = None if hue is None or r.series in seen else str(r.series)
                    seen.add(r.series)
                    ax.errorbar([pos], [r.mean], yerr=err, fmt="o", ms=4, capsize=3, color=colours[r.series],
                                label=label)
                if r.failed:
                    ax.plot([pos], [0.0], marker="x", color="red", ms=7, transform=ax.get_xaxis_transform(),
                            clip_on=False)
                    ax.annotate(f"{r.failed}", (pos, 0.04), xycoords=("data", "axes fraction"), color="red",
                                ha="center", fontsize=8)
            if reference is not None and len(reference):
                ref = reference if col is None else reference[reference[col] == panel]
                first = True
                for i, c in enumerate(cats):
                    v = ref.loc[ref[x] == c, "value"]
                    if len(v):
                        ax.plot([i], [float(v.iloc[0])], marker="D", color="black", ms=5, linestyle="none",
                                label=reference_label if first else None)
                        first = False
            ax.set_xticks(range(len(cats)), [str(c) for c in cats], rotation=35, ha="right", fontsize=8)
            if logy:
                ax.set_yscale("log")
            ax.set_title(str(panel))
            ax.set_ylabel(ylabel or y)
            ax.set_xlabel(xlabel or "")
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        handles, labels = [], []
        for ax in axes.flat:
            for hd, lb in zip(*ax.get_legend_handles_labels()):
                if lb not in labels:
                    handles.append(hd)
                    labels.append(lb)
        if handles:
            fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(labels)),
                       fontsize=8)
        fig.suptitle(title + " (mean, 95% interval; red x: failed or diverged cells)", y=1.01)
        fig.tight_layout()
        return self.save(fig, name, title)


def point_summary(df: pd.DataFrame, *, x: str, y: str, col: str | None = None,
                  hue: str | None = None) -> pd.DataFrame:
    """One row per (``col``, ``hue``, ``x``): ``mean``, ``low``, ``high`` (the 95% Student-t
    interval of :func:`edlrr_bench.claims.mean_ci`) of ``y`` over the ok rows, ``ok`` their
    number and ``failed`` the rows that failed or diverged (``status`` not ``"ok"``, or ``y``
    missing or not finite). Panel and hue values are in ``panel`` and ``series`` ("" without)."""
    value = pd.to_numeric(df[y], errors="coerce").astype(float)
    ok = np.isfinite(value) & ((df["status"] == "ok") if "status" in df else True)
    data = df.assign(_y=value, _ok=ok, panel=df[col] if col else "", series=df[hue] if hue else "")
    rows = []
    for (c, h, cat), g in data.groupby(["panel", "series", x], dropna=False, sort=False):
        mean, low, high = mean_ci(g.loc[g["_ok"], "_y"])
        rows.append({"panel": c, "series": h, x: cat, "mean": mean, "low": low, "high": high,
                     "ok": int(g["_ok"].sum()), "failed": int((~g["_ok"]).sum())})
    return pd.DataFrame(rows)
