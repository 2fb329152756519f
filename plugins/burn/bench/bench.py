#!/usr/bin/env python3
"""Images/s of the burn plugin next to Keras on the same job, at 1 and 2 threads, and the share
of this machine's float32 matmul peak each reaches. A benchmark, not a test.

    cargo build --release -p host -p plugin-burn
    python3 plugins/burn/bench/bench.py [--train 6400] [--test 10000] [--threads 1,2]

burn runs through the host (`host run`, one worker process per run, phase times from
runs.csv); Keras runs keras_bench.py in the venv given by --python (default .venv/keras, see
requirements.txt); the peak is numpy's sgemm (sgemm_peak.py) in that same venv. Model, batch
size and optimizer come from --manifest (default manifests/mnist.toml); both sides train the
first --train images for one epoch and evaluate the first --test test images. Configurations
alternate (burn 1, keras 1, burn 2, keras 2, ...) so that drifting background load hits both.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "plugins", "python", "dev"))
from layer_shapes import forward_flops, walk  # noqa: E402


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[\n" + "".join(f"  {toml_value(x)},\n" for x in v) + "]"
    raise TypeError(v)


def burn_manifest(base, train, test, threads, plugin):
    t = dict(base["training"])
    opt = t.pop("optimizer")
    t.update(epochs=1, threads=threads)
    lines = [
        "[experiment]", 'name = "burn-bench"', "seed = 42", "iterations = 1",
        'warmup = "0s"', 'rest = "0s"', 'run_timeout = "2h"', "",
        "[dataset]", 'name = "mnist"', f"train_subset = {train}", f"test_subset = {test}", "",
        "[model]", f"layers = {toml_value(base['model']['layers'])}", "",
        "[training]", *(f"{k} = {toml_value(v)}" for k, v in t.items()), "",
        "[training.optimizer]", *(f"{k} = {toml_value(v)}" for k, v in opt.items()), "",
        "[[plugin]]", 'name = "burn"', f"path = {json.dumps(plugin)}", "",
    ]
    return "\n".join(lines)


def run_burn(host, manifest_text, workdir, tag):
    path = os.path.join(workdir, f"{tag}.toml")
    with open(path, "w") as f:
        f.write(manifest_text)
    out = os.path.join(workdir, tag)
    proc = subprocess.run([host, "run", path, "--out", out], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"host run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    with open(os.path.join(out, "runs.csv")) as f:
        row = next(csv.DictReader(f))
    if row["status"] != "ok":
        sys.exit(f"burn run failed: {row.get('error')}")
    # cpu_time_s covers the whole worker (data loading, setup, train, evaluate).
    return {"train_s": float(row["train_time_s"]), "eval_s": float(row["eval_time_s"]),
            "worker_cpu_s": float(row["cpu_time_s"]), "accuracy": float(row["accuracy"])}


def run_json(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default=os.path.join(ROOT, "manifests", "mnist.toml"))
    ap.add_argument("--train", type=int, default=6400)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")))
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv", "keras", "bin", "python"))
    ap.add_argument("--mnist", default=os.environ.get("MNIST_DIR", os.path.join(ROOT, "..", "shared", "data", "mnist")))
    ap.add_argument("--plugin", help="the burn plugin (default: <target>/release/libplugin_burn.so)")
    ap.add_argument("--skip-keras", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    host = os.path.join(args.target, "release", "host")
    plugin = os.path.abspath(args.plugin or os.path.join(args.target, "release", "libplugin_burn.so"))
    for p in (host, plugin):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: cargo build --release -p host -p plugin-burn")
    with open(args.manifest, "rb") as f:
        base = tomllib.load(f)
    fwd = forward_flops(walk(base["model"]["layers"]))
    train_flops = 3 * fwd  # forward, input gradients, weight gradients
    env = dict(os.environ, MNIST_DIR=os.path.abspath(args.mnist))
    os.environ.update(env)
    threads = [int(t) for t in args.threads.split(",")]

    results = {"train_images": args.train, "test_images": args.test,
               "forward_mflop_per_image": fwd / 1e6, "train_mflop_per_image": train_flops / 1e6,
               "loadavg_before": os.getloadavg(), "rows": []}
    with tempfile.TemporaryDirectory(prefix="burn-bench-") as work:
        for t in threads:
            peak = run_json([args.python, os.path.join(HERE, "sgemm_peak.py"), str(t)])
            print(f"[threads {t}] numpy sgemm peak {peak['gflops']:.1f} GFLOP/s", flush=True)
            burn = run_burn(host, burn_manifest(base, args.train, args.test, t, plugin), work, f"burn-t{t}")
            print(f"[threads {t}] burn  train {burn['train_s']:.1f} s, eval {burn['eval_s']:.1f} s", flush=True)
            keras = None
            if not args.skip_keras:
                keras = run_json([args.python, os.path.join(HERE, "keras_bench.py"),
                                  "--manifest", args.manifest, "--mnist", args.mnist,
                                  "--train", str(args.train), "--test", str(args.test),
                                  "--threads", str(t)])
                print(f"[threads {t}] keras train {keras['train_s']:.1f} s, eval {keras['eval_s']:.1f} s", flush=True)
            results["rows"].append({"threads": t, "peak_gflops": peak["gflops"],
                                    "peak_gflop_per_cpu_s": peak["gflop_per_cpu_s"],
                                    "burn": burn, "keras": keras})
    results["loadavg_after"] = os.getloadavg()

    print()
    print(f"{args.train} training images (1 epoch), {args.test} test images; "
          f"{fwd / 1e6:.1f} MFLOP forward, ~{train_flops / 1e6:.0f} MFLOP to train, per image")
    print("| threads | framework | train img/s | eval img/s | train % of sgemm peak | burn/keras train | burn/keras eval |")
    print("|---|---|---|---|---|---|---|")
    for row in results["rows"]:
        t, peak = row["threads"], row["peak_gflops"] * 1e9
        b, k = row["burn"], row["keras"]
        b_tr, b_ev = args.train / b["train_s"], args.test / b["eval_s"]
        print(f"| {t} | burn | {b_tr:,.0f} | {b_ev:,.0f} | {100 * b_tr * train_flops / peak:.1f} % | "
              + (f"{b_tr / (args.train / k['train_s']):.2f} | {b_ev / (args.test / k['eval_s']):.2f} |" if k else "– | – |"))
        if k:
            k_tr, k_ev = args.train / k["train_s"], args.test / k["eval_s"]
            print(f"| {t} | keras | {k_tr:,.0f} | {k_ev:,.0f} | {100 * k_tr * train_flops / peak:.1f} % | | |")
        print(f"| {t} | (sgemm peak {row['peak_gflops']:.0f} GFLOP/s; "
              f"{row['peak_gflop_per_cpu_s']:.0f} GFLOP per CPU-second) | | | | | |")
    for row in results["rows"]:
        b, k = row["burn"], row["keras"]
        line = (f"threads {row['threads']}: CPU-seconds, burn worker (load+train+eval) "
                f"{b['worker_cpu_s']:.1f} s, accuracy {b['accuracy']:.3f}")
        if k:
            line += (f"; keras train {k['train_cpu_s']:.1f} s + eval {k['eval_cpu_s']:.1f} s, "
                     f"accuracy {k['accuracy']:.3f}")
        print(line)
    print(f"load average before {results['loadavg_before'][0]:.1f}, after {results['loadavg_after'][0]:.1f} "
          f"(on {os.cpu_count()} CPUs: other work on the machine skews every number)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
