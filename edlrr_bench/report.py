"""``REPORT.md``: generated from the results tables only (never hand-written)."""
from __future__ import annotations

import importlib
import textwrap
import time
from pathlib import Path

import pandas as pd

from . import claims as claims_table
from .plots import Plotter
from .sweep import atomic_write_text
from .table import PROVENANCE_COLUMNS


def _environment(frames: list[pd.DataFrame]) -> str:
    df = pd.concat([f for f in frames if not f.empty], ignore_index=True) if frames else pd.DataFrame()
    if df.empty:
        return "No rows.\n"
    lines = ["| field | values seen in the rows |", "|---|---|"]
    for c in PROVENANCE_COLUMNS:
        if c in df:
            vals = sorted({str(v) for v in df[c].dropna().unique()})
            if not vals:  # (a field that rows from before it was recorded lack)
                vals = ["(not recorded)"]
            lines.append(f"| {c} | {', '.join(vals[:6])}{' ...' if len(vals) > 6 else ''} |")
    return "\n".join(lines) + "\n"


REPORT_CLAIM_COLUMNS = ["claim_id", "source", "claim", "paper_value", "measured", "ci_low", "ci_high", "n", "verdict",
                        "reason"]
"""The columns of ``claims.csv`` shown in the report (the rest: data, settings and command, stay in the CSV)."""


def claims_section(out: Path, cfg: dict) -> list[str]:
    """The report's first section: the papers' claims judged from the tables in ``out``
    (:func:`edlrr_bench.claims.evaluate`), with the count of each verdict."""
    table = claims_table.evaluate(out, cfg)
    if (table.verdict == "not-tested").all():
        return ["## The papers' claims", "",
                f"None of the {len(table)} headline claims of EDLRR and DLRL is tested by the tables in this folder; "
                "`claims.csv` lists each with what it needs.", ""]
    return ["## The papers' claims", "",
            f"Verdicts: {claims_table.verdict_counts(table)}. One row per headline claim of EDLRR and DLRL, judged "
            f"from this folder's tables by `edlrr_bench.claims` (tolerance {claims_table.TAU_DB:g} dB on a PSNR, "
            f"{claims_table.TAU_RMSE:g} on an RMSE, 95% Student-t intervals, at least {claims_table.MIN_RESULTS} "
            "results per mean; data off a paper's protocol give at most `partly`). `claims.csv` "
            "(`edlrr_bench.claims.write_claims`) holds every column: the data, the settings that differ from the "
            "paper's and the command of each row.", "",
            claims_table.render_markdown(table, REPORT_CLAIM_COLUMNS), ""]


CLAIM_GROUPS = [
    ("EDLRR Table 1: image inpainting on the authors' images", ("edlrr-t1-",), ("completion_psnr", "completion_time")),
    ("EDLRR Theorem 4: bias, variance and the probability bound", ("edlrr-thm4-",),
     ("theory_bound", "theory_probability")),
    ("EDLRR Sec. 4.2: video background subtraction", ("edlrr-s42-",), ("video_strip",)),
    ("EDLRR Sec. 4.3: denoising with a low-rank regulariser", ("edlrr-s43-",), ("denoise_psnr",)),
    ("Speed of both papers' methods", ("edlrr-speed-", "dlrl-speed"), ("completion_time",)),
    ("DLRL Fig. 3: synthetic low-rank recovery", ("dlrl-f3-", "dlrl-best"), ("recovery_rsre_*",)),
    ("DLRL Table II: image recovery", ("dlrl-t2-",), ()),
    ("DLRL Table III: collaborative filtering", ("dlrl-t3-",), ("ratings_rmse",)),
]
"""The report's claim groups: title, claim_id prefixes, figures (names in ``figures/``, globs
allowed) drawn by the experiments' sections."""


def group_sections(table: pd.DataFrame, out: Path) -> list[str]:
    """A short section per claim group of :data:`CLAIM_GROUPS`: its verdict counts, the claims
    that are not reproduced with their reasons' first clause, and its figures (those present)."""
    lines = []
    for title, prefixes, figures in CLAIM_GROUPS:
        rows = table[table.claim_id.str.startswith(prefixes)]
        if rows.empty:
            continue
        lines += [f"### {title}", "", f"Verdicts: {claims_table.verdict_counts(rows)}.", ""]
        tested = rows[rows.verdict.isin(["refuted", "partly"])]
        for r in tested.head(8).itertuples():
            lines.append(f"- `{r.claim_id}` ({r.verdict}): "
                         + textwrap.shorten(str(r.reason), 240, placeholder=" ..."))
        if len(tested) > 8:
            lines.append(f"- ... {len(tested) - 8} more refuted or partly reproduced claims in the table above.")
        if len(tested):
            lines.append("")
        for pattern in figures:
            for path in sorted((out / "figures").glob(f"{pattern}.png")):
                lines += [f"![{path.stem}](figures/{path.name})", ""]
    return lines


def write_report(out: Path, cfg: dict, experiments: list[str]) -> Path:
    out = Path(out)
    plot = Plotter(out / "figures", out)
    sections, verdicts, frames = [], [], []
    for name in experiments:
        df = pd.read_csv(out / f"{name}.csv")
        frames.append(df)
        mod = importlib.import_module(f"edlrr_bench.experiments.{name}")
        text, claims = mod.report(df, out, cfg[name], plot)
        keys = {c.key for c in mod.cells(cfg[name])}
        current = int(df.key.isin(keys).sum()) if "key" in df else 0
        if current < len(keys):
            head, _, rest = text.partition("\n")
            older = len(df) - current
            text = (f"{head}\n\n**Partial: {current} of {len(keys)} cells of this configuration and code version are "
                    "in the table**" + (f"; {older} of its rows come from an earlier version of the code (their "
                                        "`git_commit` column names it)" if older else "")
                    + ". Rerunning the command computes the rest.\n" + rest)
        status = df.status.value_counts() if "status" in df else pd.Series(dtype=int)
        if status.get("diverged", 0):
            div = df[df.status == "diverged"].groupby("method").size()
            text += (f"\n**{int(status['diverged'])} cell(s) diverged** (results, counted in the verdicts: "
                     + ", ".join(f"{m} {k}" for m, k in div.items()) + f"; reasons in the `error` column of "
                     f"`{name}.csv`).\n")
        n_fail = int(status.drop(["ok", "diverged"], errors="ignore").sum())
        if n_fail:
            text += f"\n**{n_fail} cell(s) failed with an error** (see the `error` column of `{name}.csv`).\n"
        sections.append(text)
        verdicts += [{"experiment": name, **c} for c in claims]
    head = [
        "# edlrr-bench report",
        "",
        f"Generated by `edlrr-bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from the CSVs in this "
        f"folder (preset `{cfg['run']['preset']}`; the resolved configuration is `config.resolved.toml`). "
        "Every number below comes from those tables. The command that makes them (resumable: rerunning it "
        f"computes only what the folder lacks): `{claims_table.Tables(out, cfg).command('run')}`.",
        "",
        *claims_section(out, cfg),
        *group_sections(claims_table.evaluate(out, cfg), out),
        "## Verdicts of each experiment",
        "",
        "Checks made by each experiment's own section, our estimator's included (the papers' claims are judged in "
        "the table above).",
        "",
        claims_table.render_markdown(pd.DataFrame(verdicts)) if verdicts else "No claims evaluated.",
        "",
    ]
    body = "\n".join(head + sections + ["## Environment", "", _environment(frames)])
    path = out / "REPORT.md"
    atomic_write_text(path, body)
    return path
