#!/usr/bin/env python3
"""Run one trainer of plugins/python/trainers the way the plugin does, without Rust.

Development and checking tool: builds the same `session` the plugin passes
(see plugins/python/README.md), drives `train_epochs(1, progress)` once per
epoch like the host, then `evaluate()`, and prints per-epoch times and a JSON
summary. Run it with the framework's venv interpreter, e.g.

    MNIST_DIR=/path/to/mnist .venv/torch/bin/python \
        plugins/python/dev/run_trainer.py plugins/python/trainers/torch_cnn.py \
        --threads 1 --epochs 3 --train 60000 --test 10000

The model and hyper-parameters default to the study's (manifests/mnist.toml).
The sample order is a seeded permutation per epoch, standing in for the host's.
Each layer gets the shapes the plugin adds (layer_shapes.py, plugin-api's shape
walk in Python; plugins/python/tests/errors.rs checks they agree).
"""

import argparse
import gzip
import importlib.util
import json
import os
import struct
import sys
import time
import types

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layer_shapes import walk  # noqa: E402

STUDY_MODEL = [
    {"kind": "conv2d", "filters": 64, "kernel": 3, "padding": "same", "activation": "relu"},
    {"kind": "maxpool2d", "size": 2, "stride": 2},
    {"kind": "conv2d", "filters": 128, "kernel": 5, "padding": "same", "activation": "relu"},
    {"kind": "maxpool2d", "size": 2, "stride": 2},
    {"kind": "flatten"},
    {"kind": "dense", "units": 10, "activation": "none"},
]


def check_options(module, options):
    """What the plugin does: a trainer that declares OPTIONS gets unknown keys refused."""
    known = ("trainer", "venv", "manifest_dir") + tuple(getattr(module, "OPTIONS", ()))
    unknown = [k for k in options if k not in known]
    if hasattr(module, "OPTIONS") and unknown:
        sys.exit(f"unknown option `{unknown[0]}` (known: {', '.join(module.OPTIONS)})")


def read_idx(path):
    """Read an IDX file (gzip or raw) into a numpy array of its declared shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(mnist_dir, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(mnist_dir, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{stem}[.gz] not in {mnist_dir} (set MNIST_DIR)")


def load_mnist(mnist_dir, n_train, n_test):
    x = read_idx(find(mnist_dir, "train-images-idx3-ubyte"))[:n_train]
    y = read_idx(find(mnist_dir, "train-labels-idx1-ubyte"))[:n_train]
    tx = read_idx(find(mnist_dir, "t10k-images-idx3-ubyte"))[:n_test]
    ty = read_idx(find(mnist_dir, "t10k-labels-idx1-ubyte"))[:n_test]

    # The host scales once to float32 in [0, 1] and lends read-only buffers.
    def scale(a):
        out = (a.astype(np.float32) / np.float32(255.0)).copy()
        out.flags.writeable = False
        return out

    def ro(a):
        a = np.ascontiguousarray(a)
        a.flags.writeable = False
        return a

    return scale(x), ro(y), scale(tx), ro(ty)


def load_trainer(path):
    spec = importlib.util.spec_from_file_location("joulebench_trainer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trainer", help="path to a trainer .py file")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train", type=int, default=60000, help="training samples used")
    p.add_argument("--test", type=int, default=10000, help="test samples used")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.0, help="add Dropout(rate) before the last dense")
    p.add_argument("--option", action="append", default=[], metavar="K=V", help="session option")
    p.add_argument("--quiet", action="store_true", help="no per-batch progress")
    p.add_argument("--json", help="also write the summary to this file")
    args = p.parse_args()

    mnist_dir = os.environ.get("MNIST_DIR", "/work/shared/data/mnist")
    x, y, tx, ty = load_mnist(mnist_dir, args.train, args.test)
    rng = np.random.default_rng(args.seed)
    order = np.stack([rng.permutation(len(x)) for _ in range(args.epochs)]).astype(np.uint32)
    model = [dict(layer) for layer in STUDY_MODEL]
    if args.dropout > 0:
        model.insert(-1, {"kind": "dropout", "rate": args.dropout})
    model = walk(model, (1, *x.shape[1:]))

    session = types.SimpleNamespace(
        plugin=os.path.basename(args.trainer).split("_")[0],
        model=model,
        optimizer={"kind": "adam", "lr": args.lr, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        seed32=(args.seed ^ (args.seed >> 32)) & 0xFFFFFFFF,  # as the plugin folds it
        threads=args.threads,
        device="cpu",
        classes=10,
        train_images=x,
        train_labels=y,
        test_images=tx,
        test_labels=ty,
        order=order,
        initial_weights=None,
        options=dict(kv.split("=", 1) for kv in args.option),
    )

    t0 = time.perf_counter()
    module = load_trainer(args.trainer)
    check_options(module, session.options)
    version = module.framework_version()
    trainer = module.build(session)
    setup_s = time.perf_counter() - t0
    print(f"{version}: setup {setup_s:.1f} s", flush=True)

    last = [0.0]

    def progress(epoch, batch, batches):
        now = time.perf_counter()
        if not args.quiet and (batch == batches or now - last[0] > 5):
            last[0] = now
            print(f"  epoch {epoch} batch {batch}/{batches}", flush=True)

    epochs = []
    notes = {}
    for e in range(args.epochs):
        t, c = time.perf_counter(), time.process_time()
        report = trainer.train_epochs(1, progress)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        notes = report.get("notes", {})
        # CPU time next to wall time: on a shared machine the gap is contention.
        epochs.append({"time_s": round(dt, 2), "cpu_s": round(dc, 2),
                       "loss": report["epoch_losses"][-1], "samples": report["samples"]})
        print(f"epoch {e + 1}: {dt:.1f} s (cpu {dc:.1f} s), loss {report['epoch_losses'][-1]:.4f}, "
              f"{report['samples'] / dt:.0f} img/s, load {os.getloadavg()[0]:.2f}", flush=True)
    t = time.perf_counter()
    ev = trainer.evaluate()
    eval_s = time.perf_counter() - t
    print(f"evaluate: {eval_s:.1f} s, accuracy {ev['accuracy']:.4f}, loss {ev['loss']:.4f}", flush=True)

    summary = {
        "trainer": args.trainer, "framework": version, "threads": args.threads,
        "train": args.train, "test": args.test, "batch_size": args.batch_size,
        "setup_s": round(setup_s, 2), "epochs": epochs, "eval_s": round(eval_s, 2),
        "evaluate": ev, "notes": notes, "loadavg": os.getloadavg(),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
