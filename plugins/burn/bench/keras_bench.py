"""Keras (TensorFlow) on the same job as the burn plugin: the manifest's model, batch size and
Adam settings, the first N MNIST training images, the first M test images. Prints one JSON line.

One process per thread count: TensorFlow fixes its thread pools when its runtime starts.
A short warm-up fit and evaluate first, so that graph tracing is not counted as training.
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time
import tomllib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402


def load_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(mnist, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(mnist, name)
        if os.path.exists(path):
            return path
    sys.exit(f"keras_bench: {stem}(.gz) not found in {mnist}")


def build(keras, layers):
    model = keras.Sequential([keras.Input(shape=(28, 28, 1))])
    for spec in layers:
        kind = spec["kind"]
        act = spec.get("activation")
        act = None if act in (None, "none") else act
        if kind == "conv2d":
            model.add(keras.layers.Conv2D(spec["filters"], spec["kernel"],
                                          padding=spec.get("padding", "valid"), activation=act))
        elif kind == "maxpool2d":
            size = spec.get("size", 2)
            model.add(keras.layers.MaxPooling2D(size, strides=spec.get("stride", size)))
        elif kind == "flatten":
            model.add(keras.layers.Flatten())
        elif kind == "dropout":
            model.add(keras.layers.Dropout(spec["rate"]))
        elif kind == "dense":
            model.add(keras.layers.Dense(spec["units"], activation=act))
        else:
            sys.exit(f"keras_bench: layer kind {kind!r} not handled")
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--mnist", required=True)
    ap.add_argument("--train", type=int, default=6400)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=640, help="images fitted before timing")
    args = ap.parse_args()

    import tensorflow as tf
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    with open(args.manifest, "rb") as f:
        manifest = tomllib.load(f)
    training = manifest["training"]
    opt = training["optimizer"]
    batch = int(training["batch_size"])

    x = load_idx(find(args.mnist, "train-images-idx3-ubyte"))[:args.train]
    y = load_idx(find(args.mnist, "train-labels-idx1-ubyte"))[:args.train]
    tx = load_idx(find(args.mnist, "t10k-images-idx3-ubyte"))[:args.test]
    ty = load_idx(find(args.mnist, "t10k-labels-idx1-ubyte"))[:args.test]
    x = (x.astype(np.float32) / 255.0)[..., None]
    tx = (tx.astype(np.float32) / 255.0)[..., None]

    keras.utils.set_random_seed(42)
    model = build(keras, manifest["model"]["layers"])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=opt["learning_rate"], beta_1=opt["beta1"],
                                        beta_2=opt["beta2"], epsilon=opt["epsilon"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])

    # Warm-up: traces the train and test functions (full batches only, like the timed part).
    model.fit(x[:args.warmup], y[:args.warmup], batch_size=batch, epochs=1, shuffle=False,
              verbose=0)
    model.evaluate(tx[:1000], ty[:1000], batch_size=1000, verbose=0)

    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    loss, acc = model.evaluate(tx, ty, batch_size=1000, verbose=0)
    eval_s, eval_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({
        "framework": f"tensorflow {tf.__version__} / keras {keras.__version__}",
        "threads": args.threads, "train_images": len(x), "train_s": train_s,
        "train_cpu_s": train_cpu_s, "eval_images": len(tx), "eval_s": eval_s, "eval_cpu_s": eval_cpu_s, "accuracy": acc, "loss": loss,
    }))


if __name__ == "__main__":
    main()
