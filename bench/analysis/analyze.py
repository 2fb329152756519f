#!/usr/bin/env python3
"""The same analysis as `host analyze` on an EnergiBridge folder, in pandas + SciPy.

Used two ways:
  * as the baseline of the benchmark (bench/analysis/bench.sh times both, end to end,
    plots included);
  * as a cross-check: `--check DIR/summary.json` compares host's figures with these
    (medians, Shapiro-Wilk, test statistics and p-values, effect sizes) to 1e-9 relative.

Pipeline (the study's): per run time = (last - first Time) / 1000 s, energy = sum of
CPU_ENERGY (J) deltas with wraps unwrapped at the next power of two above the largest
reading, power = energy / time, EDP = energy * time; drop values with |x - mean| > 3 sigma
(population sigma) per group and metric; describe (ddof 1); Shapiro-Wilk; Welch's t when
both groups have p > 0.05, else Mann-Whitney U (method="auto"); Holm over all tests;
Cohen's d (pooled), Cliff's delta; tables.md/.csv; violin plots (SVG and PNG).
"""

import argparse
import json
import math
import sys
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

ENERGY_COLUMNS = ["CPU_ENERGY (J)", "PACKAGE_ENERGY (J)"]
METRICS = [("time", "Time", "s"), ("energy", "Energy", "J"), ("power", "Average power", "W"),
           ("edp", "Energy-delay product", "J·s")]
ALPHA = 0.05
K = 3.0


def read_run(path):
    df = pd.read_csv(path)
    column = next(c for c in ENERGY_COLUMNS if c in df.columns)
    e = df[column].to_numpy(dtype=float)
    t = df["Time"].to_numpy(dtype=float)
    d = np.diff(e)
    wraps = d < 0
    if wraps.any():
        modulus = 2.0 ** math.floor(math.log2(e.max()))
        while modulus <= e.max():
            modulus *= 2
        d[wraps] += modulus
    return (t[-1] - t[0]) / 1000.0, float(d.sum())


def ingest(folder):
    rows = []
    for group in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        for f in sorted(group.iterdir()):
            if f.name.endswith(".csv") or f.name.endswith(".csv.gz"):
                time_s, energy = read_run(f)
                rows.append({"group": group.name, "run": f.name.split(".csv")[0], "time": time_s,
                             "energy": energy, "power": energy / time_s, "edp": energy * time_s})
    return pd.DataFrame(rows)


def clean(df):
    tidy = df.melt(id_vars=["group", "run"], var_name="metric", value_name="value")
    stats_ = tidy.groupby(["group", "metric"])["value"].agg(mean="mean", sigma=lambda x: x.std(ddof=0))
    tidy = tidy.join(stats_, on=["group", "metric"])
    outlier = (tidy["value"] - tidy["mean"]).abs() > K * tidy["sigma"]
    dropped = tidy[outlier][["group", "run", "metric", "value"]]
    return tidy[~outlier][["group", "run", "metric", "value"]], dropped


def holm(p):
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="mergesort")
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def cliffs_delta(a, b):
    return float(np.sign(a[:, None] - b[None, :]).mean())


def cohens_d(a, b):
    na, nb = len(a), len(b)
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    return float((a.mean() - b.mean()) / pooled)


def analyse(tidy):
    groups = sorted(tidy["group"].unique())
    sample = {(g, m): tidy[(tidy.group == g) & (tidy.metric == m)]["value"].to_numpy() for g in groups for m, _, _ in METRICS}
    summary = {"groups": {}, "comparisons": []}
    shapiro = {}
    for g in groups:
        summary["groups"][g] = {}
        for m, _, _ in METRICS:
            x = sample[(g, m)]
            w, p = stats.shapiro(x)
            shapiro[(g, m)] = p
            summary["groups"][g][m] = {"n": int(len(x)), "mean": float(x.mean()), "median": float(np.median(x)),
                                       "variance": float(x.var(ddof=1)), "std": float(x.std(ddof=1)),
                                       "min": float(x.min()), "max": float(x.max()),
                                       "shapiro_w": float(w), "shapiro_p": float(p)}
    comps = []
    for m, _, _ in METRICS:
        for a, b in combinations(groups, 2):
            xa, xb = sample[(a, m)], sample[(b, m)]
            if shapiro[(a, m)] > ALPHA and shapiro[(b, m)] > ALPHA:
                r = stats.ttest_ind(xa, xb, equal_var=False)
                test = "welch"
            else:
                r = stats.mannwhitneyu(xa, xb, alternative="two-sided", method="auto")
                test = "mann-whitney"
            ma, mb = float(np.median(xa)), float(np.median(xb))
            comps.append({"a": a, "b": b, "metric": m, "test": test, "statistic": float(r.statistic),
                          "p_value": float(r.pvalue), "mean_difference": float(xa.mean() - xb.mean()),
                          "median_difference": ma - mb, "median_change_pct": (mb - ma) / ma * 100.0,
                          "cohens_d": cohens_d(xa, xb), "cliffs_delta": cliffs_delta(xa, xb),
                          "median_a": ma, "median_b": mb})
    for c, ph in zip(comps, holm([c["p_value"] for c in comps])):
        c["p_holm"] = float(ph)
    summary["comparisons"] = comps
    return summary, sample, groups


def write_tables(summary, out):
    units = {m: u for m, _, u in METRICS}
    labels = {m: f"{l} ({u})" for m, l, u in METRICS}
    lines = ["| Pair | Metric | Medians and change | Test | p | p (Holm) |", "|---|---|---|---|---:|---:|"]
    for c in summary["comparisons"]:
        u = units[c["metric"]]
        text = f"{c['a']} {c['median_a']:.3f} {u} vs {c['b']} {c['median_b']:.3f} {u}, {c['median_change_pct']:+.2f} %"
        lines.append(f"| {c['a']} vs {c['b']} | {labels[c['metric']]} | {text} | {c['test']} | {c['p_value']:.3g} | {c['p_holm']:.3g} |")
    (out / "tables.md").write_text("\n".join(lines) + "\n")
    pd.DataFrame(summary["comparisons"]).to_csv(out / "tables.csv", index=False)


def write_violins(sample, groups, dropped, out):
    for m, label, unit in METRICS:
        fig, ax = plt.subplots(figsize=(10, 6.5))
        data = [sample[(g, m)] for g in groups]
        parts = ax.violinplot(data, positions=range(len(groups)), showmedians=True, bw_method="scott")
        for body in parts["bodies"]:
            body.set_alpha(0.5)
        ax.boxplot(data, positions=range(len(groups)), widths=0.07, showfliers=True)
        for i, g in enumerate(groups):
            d = dropped[(dropped.group == g) & (dropped.metric == m)]["value"]
            ax.scatter([i] * len(d), d, marker="x", color="red")
        ax.set_xticks(range(len(groups)), [f"{g} (n = {len(x)})" for g, x in zip(groups, data)])
        ax.set_ylabel(f"{label} ({unit})")
        ax.set_title(f"{label} per run (energy measured by EnergiBridge CPU_ENERGY (J))")
        fig.savefig(out / f"violin-{m}.svg")
        fig.savefig(out / f"violin-{m}.png", dpi=100)
        plt.close(fig)


def check(mine, path):
    """Compares host's summary.json with ours; returns the number of mismatches."""
    theirs = json.loads(Path(path).read_text())
    bad = 0

    def close(x, y, what):
        nonlocal bad
        if x is None or y is None or not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-300):
            print(f"MISMATCH {what}: host {y} vs scipy {x}")
            bad += 1

    for g, metrics in mine["groups"].items():
        for m, fig in metrics.items():
            for k, v in fig.items():
                close(v, theirs["groups"][g][m].get(k), f"groups.{g}.{m}.{k}")
    for c in mine["comparisons"]:
        t = next(t for t in theirs["comparisons"] if (t["a"], t["b"], t["metric"]) == (c["a"], c["b"], c["metric"]))
        if t["test"] != c["test"]:
            print(f"MISMATCH test {c['a']}/{c['b']}/{c['metric']}: host {t['test']} vs {c['test']}")
            bad += 1
        for k in ["statistic", "p_value", "p_holm", "mean_difference", "median_difference",
                  "median_change_pct", "cohens_d", "cliffs_delta"]:
            close(c[k], t.get(k), f"{c['a']} vs {c['b']} {c['metric']} {k}")
    print(f"checked against {path}: {bad} mismatch(es)")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="EnergiBridge folder: one subfolder per group")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--check", metavar="SUMMARY_JSON", help="compare with host's summary.json")
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df = ingest(args.folder)
    tidy, dropped = clean(df)
    summary, sample, groups = analyse(tidy)
    summary["dropped"] = dropped.to_dict("records")
    summary["energy_source"] = "measured: EnergiBridge CPU_ENERGY (J)"
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    write_tables(summary, out)
    if not args.no_plots:
        write_violins(sample, groups, dropped, out)
    if args.check:
        sys.exit(1 if check(summary, args.check) else 0)


if __name__ == "__main__":
    main()
