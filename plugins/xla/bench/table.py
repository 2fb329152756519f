"""Side-by-side table from `host run` campaigns: training images/s per plugin and thread
count, and each plugin's ratio to `jax` of the same campaign.

    python3 plugins/xla/bench/table.py results/xla-side-by-side-2t results/xla-side-by-side-1t

Reads each campaign's runs.csv (ok rows; images = train_subset × epochs from manifest.toml)
and prints a Markdown table. Standard library only.
"""

import csv
import os
import re
import sys


def images(campaign):
    text = open(os.path.join(campaign, "manifest.toml")).read()
    subset = re.search(r"^train_subset\s*=\s*(\d+)", text, re.M)
    epochs = re.search(r"^epochs\s*=\s*(\d+)", text, re.M)
    threads = re.search(r"^threads\s*=\s*(\S+)", text, re.M)
    n = int(subset.group(1)) if subset else 60000
    return n * (int(epochs.group(1)) if epochs else 1), threads.group(1) if threads else "?"


def main(campaigns):
    rows = []
    for campaign in campaigns:
        n, threads = images(campaign)
        with open(os.path.join(campaign, "runs.csv")) as f:
            runs = [r for r in csv.DictReader(f) if r["status"] == "ok"]
        rates = {r["plugin"]: n / float(r["train_time_s"]) for r in runs}
        jax = rates.get("jax")
        for r in runs:
            rate = rates[r["plugin"]]
            ratio = f"{rate / jax:.2f}" if jax else "—"
            rows.append((threads, r["plugin"], rate, ratio, float(r["setup_time_s"]),
                         float(r["accuracy"]), r.get("threads", "")))
    print("| threads | plugin | train img/s | ÷ jax | setup s | accuracy | threads in effect |")
    print("|---|---|---|---|---|---|---|")
    for t, p, rate, ratio, setup, acc, eff in rows:
        print(f"| {t} | {p} | {rate:.0f} | {ratio} | {setup:.1f} | {acc:.4f} | {eff} |")


if __name__ == "__main__":
    main(sys.argv[1:])
