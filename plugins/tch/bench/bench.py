#!/usr/bin/env python3
"""Training images/s of the tch plugin next to Python PyTorch on the same job, at 1 and 2
threads, with this machine's float32 matmul peak measured in the same run. A benchmark, not a
test: numbers move with the machine's load, which is printed with them.

    export LIBTORCH="$(plugins/tch/setup-libtorch)"
    cargo build --release -p host -p plugin-tch
    .venv/torch/bin/python plugins/tch/bench/bench.py [--train 3200] [--threads 1,2] [--reps 2]

Both sides get the model, batch size and Adam settings of --manifest (default
manifests/mnist.toml), train one epoch on the first --train MNIST images and evaluate the
first --test test images, each in a fresh process:
  tch      `host run` on a generated one-run manifest (the worker process the campaign uses);
           times are the host's phase times (runs.csv train_time_s / eval_time_s).
  pytorch  this script with --worker, in the interpreter running it (torch 2.13.0 from
           .venv/torch: the same libtorch build tch links), same ops: conv2d(padding="same"),
           max_pool2d, flatten, dropout, linear, cross_entropy, torch.optim.Adam, the batch
           gathered by index from one tensor of all images.
Both set intra-op and inter-op threads to the thread count. Configurations alternate
(tch, pytorch, pytorch, tch, ...) so that drifting background load hits both sides alike.
The peak is numpy's best 2048³ sgemm with the same thread count.
"""

import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from math import prod

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "plugins", "python", "dev"))
from layer_shapes import forward_flops, walk  # noqa: E402


# ---------------------------------------------------------------------------- worker side

def load_mnist(directory, split, count):
    import numpy as np

    with gzip.open(os.path.join(directory, f"{split}-images-idx3-ubyte.gz")) as f:
        pixels = np.frombuffer(f.read(16 + count * 784)[16:], dtype=np.uint8)
    with gzip.open(os.path.join(directory, f"{split}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(8 + count)[8:], dtype=np.uint8)
    return (pixels.astype(np.float32) / 255.0).reshape(count, 1, 28, 28), labels.astype(np.int64)


def pytorch_worker(args):
    import torch
    import torch.nn.functional as F

    # Before any tensor work, like the plugin.
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.manifest, "rb") as f:
        spec = tomllib.load(f)
    layers, training = spec["model"]["layers"], spec["training"]
    opt = training["optimizer"]

    params, ops = [], []
    for layer in walk(layers):
        kind = layer["kind"]
        if kind in ("conv2d", "dense"):
            shape = layer["weight_shape"]
            bound = prod(shape[1:]) ** -0.5  # PyTorch's default init: U(±1/√fan_in)
            weight = torch.empty(shape).uniform_(-bound, bound).requires_grad_()
            bias = torch.empty(shape[0]).uniform_(-bound, bound).requires_grad_()
            params += [weight, bias]
            relu = layer.get("activation", "none") == "relu"
            if kind == "conv2d":
                ops.append(("conv", weight, bias, layer.get("padding", "valid"), relu))
            else:
                ops.append(("dense", weight, bias, None, relu))
        elif kind == "maxpool2d":
            size = layer.get("size", 2)
            ops.append(("pool", size, layer.get("stride", size), None, None))
        elif kind == "flatten":
            ops.append(("flatten", None, None, None, None))
        elif kind == "dropout":
            ops.append(("dropout", layer["rate"], None, None, None))
        else:
            sys.exit(f"unknown layer kind {kind}")

    def forward(x, train):
        for op, a, b, padding, relu in ops:
            if op == "conv":
                x = F.conv2d(x, a, b, padding=padding)
            elif op == "dense":
                x = F.linear(x, a, b)
            elif op == "pool":
                x = F.max_pool2d(x, a, b)
            elif op == "flatten":
                x = torch.flatten(x, 1)
            elif op == "dropout":
                x = F.dropout(x, a, train)
            if op in ("conv", "dense") and relu:
                x = F.relu(x)
        return x

    optimizer = torch.optim.Adam(params, lr=opt["learning_rate"],
                                 betas=(opt["beta1"], opt["beta2"]), eps=opt["epsilon"])
    x_np, y_np = load_mnist(args.mnist, "train", args.train)
    tx_np, ty_np = load_mnist(args.mnist, "t10k", args.test)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    tx, ty = torch.from_numpy(tx_np), torch.from_numpy(ty_np)
    order = torch.randperm(args.train)
    batch = training["batch_size"]

    t0 = time.perf_counter()
    total = 0.0
    for start in range(0, args.train, batch):
        idx = order[start:start + batch]
        loss = F.cross_entropy(forward(x.index_select(0, idx), True), y.index_select(0, idx))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    train_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    hits = 0
    with torch.no_grad():
        for start in range(0, args.test, 1000):
            logits = forward(tx[start:start + 1000], False)
            hits += (logits.argmax(1) == ty[start:start + 1000]).sum().item()
    eval_s = time.perf_counter() - t0
    print(json.dumps({"train_s": train_s, "eval_s": eval_s, "loss": total / args.train,
                      "accuracy": hits / args.test, "threads": torch.get_num_threads(),
                      "torch": torch.__version__}))


def sgemm_worker(args):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # read when numpy's BLAS loads, below
    import numpy as np

    n = 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    a @ b
    best = min(timed(lambda: a @ b) for _ in range(5))
    print(json.dumps({"gflops": 2 * n ** 3 / best / 1e9}))


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- driver side

def toml(v):
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml(x)}" for k, x in v.items()) + " }"
    return "[ " + ", ".join(toml(x) for x in v) + " ]"


def tch_manifest(spec, args, threads, plugin):
    training = {k: v for k, v in spec["training"].items() if k != "optimizer"}
    training.update(epochs=1, threads=threads)
    return "\n".join([
        "[experiment]", 'name = "tch-bench"', f"seed = {args.seed}", "iterations = 1",
        'warmup = "0s"', 'rest = "0s"', 'run_timeout = "1h"', "",
        "[dataset]", 'name = "mnist"', f"train_subset = {args.train}", f"test_subset = {args.test}", "",
        "[model]", f"layers = {toml(spec['model']['layers'])}", "",
        "[training]", *(f"{k} = {toml(v)}" for k, v in training.items()), "",
        "[training.optimizer]", *(f"{k} = {toml(v)}" for k, v in spec["training"]["optimizer"].items()), "",
        "[[plugin]]", 'name = "tch"', f"path = {json.dumps(plugin)}", "",
    ])


def run_tch(args, spec, threads, work, tag):
    path = os.path.join(work, f"{tag}.toml")
    with open(path, "w") as f:
        f.write(tch_manifest(spec, args, threads, args.plugin))
    out = os.path.join(work, tag)
    proc = subprocess.run([args.host, "run", path, "--out", out], capture_output=True, text=True,
                          env=dict(os.environ, MNIST_DIR=os.path.abspath(args.mnist)))
    if proc.returncode != 0:
        sys.exit(f"host run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    with open(os.path.join(out, "runs.csv")) as f:
        row = next(csv.DictReader(f))
    if row["status"] != "ok":
        sys.exit(f"tch run failed: {row.get('error')}")
    return {"train_s": float(row["train_time_s"]), "eval_s": float(row["eval_time_s"]),
            "accuracy": float(row["accuracy"]), "threads": int(row.get("threads") or threads)}


def run_worker(args, mode, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--threads", str(threads),
           "--manifest", args.manifest, "--mnist", args.mnist, "--train", str(args.train),
           "--test", str(args.test), "--seed", str(args.seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{mode} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def train_mflop(layers):
    """Forward FLOP of conv and dense layers, × 3 for a training step, in millions."""
    return 3 * forward_flops(walk(layers)) / 1e6


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default=os.path.join(ROOT, "manifests", "mnist.toml"))
    ap.add_argument("--mnist", default=os.environ.get("MNIST_DIR", os.path.join(ROOT, "..", "shared", "data", "mnist")))
    ap.add_argument("--train", type=int, default=3200)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=2, help="runs per framework and thread count")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--host", default=os.path.join(target, "release", "host"))
    ap.add_argument("--plugin", default=os.path.join(target, "release", "libplugin_tch.so"))
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--worker", choices=["pytorch", "sgemm"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.threads = int(args.threads)
        return pytorch_worker(args) if args.worker == "pytorch" else sgemm_worker(args)

    for p in (args.host, args.plugin):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: cargo build --release -p host -p plugin-tch")
    with open(args.manifest, "rb") as f:
        spec = tomllib.load(f)
    mflop = train_mflop(spec["model"]["layers"])
    results = {"train": args.train, "test": args.test, "train_mflop_per_image": mflop,
               "load_before": os.getloadavg(), "rows": []}
    with tempfile.TemporaryDirectory(prefix="tch-bench-") as work:
        for t in [int(x) for x in args.threads.split(",")]:
            peak = run_worker(args, "sgemm", t)["gflops"]
            runs = {"tch": [], "pytorch": []}
            for rep in range(args.reps):
                sides = ["tch", "pytorch"] if rep % 2 == 0 else ["pytorch", "tch"]
                for side in sides:
                    r = (run_tch(args, spec, t, work, f"t{t}-{rep}") if side == "tch"
                         else run_worker(args, "pytorch", t))
                    runs[side].append(r)
                    print(f"[threads {t}] {side:8} train {args.train / r['train_s']:7.0f} img/s, "
                          f"eval {args.test / r['eval_s']:7.0f} img/s, accuracy {r['accuracy']:.3f}",
                          file=sys.stderr, flush=True)
            results["rows"].append({"threads": t, "peak_gflops": peak, **runs})
    results["load_after"] = os.getloadavg()

    print(f"\n{args.train} training images (1 epoch), {args.test} test images, "
          f"~{mflop:.0f} MFLOP per trained image; best of {args.reps} runs each")
    print("| threads | sgemm peak GFLOP/s | tch img/s | PyTorch img/s | tch/PyTorch | tch % of peak | PyTorch % of peak |")
    print("|---|---|---|---|---|---|---|")
    for row in results["rows"]:
        best = {s: max(args.train / r["train_s"] for r in row[s]) for s in ("tch", "pytorch")}
        row["best_img_s"] = best
        pct = {s: 100 * best[s] * mflop / 1e3 / row["peak_gflops"] for s in best}
        print(f"| {row['threads']} | {row['peak_gflops']:.0f} | {best['tch']:.0f} | {best['pytorch']:.0f} | "
              f"{best['tch'] / best['pytorch']:.2f} | {pct['tch']:.0f} % | {pct['pytorch']:.0f} % |")
    print(f"load average before {results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
