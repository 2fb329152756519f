"""Keras (TensorFlow) on the same job as the burn plugin: the manifest's model, batch size and
Adam settings, the first N MNIST training images, the first M test images. Prints one JSON line.

One process per thread count: TensorFlow fixes its thread pools when its runtime starts.
A short warm-up fit and evaluate first, so that graph tracing is not counted as training.
"""

import argparse
import json
import os
import sys
import time
import tomllib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "plugins", "python", "dev"))
from run_trainer import find, read_idx  # noqa: E402


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
    # The python plugin's Keras trainer builds the model: the benchmark runs what it runs.
    sys.path.insert(0, os.path.join(ROOT, "plugins", "python", "trainers"))
    from keras_cnn import build_model

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    with open(args.manifest, "rb") as f:
        manifest = tomllib.load(f)
    training = manifest["training"]
    opt = training["optimizer"]
    batch = int(training["batch_size"])

    x = read_idx(find(args.mnist, "train-images-idx3-ubyte"))[:args.train]
    y = read_idx(find(args.mnist, "train-labels-idx1-ubyte"))[:args.train]
    tx = read_idx(find(args.mnist, "t10k-images-idx3-ubyte"))[:args.test]
    ty = read_idx(find(args.mnist, "t10k-labels-idx1-ubyte"))[:args.test]
    x = (x.astype(np.float32) / 255.0)[..., None]
    tx = (tx.astype(np.float32) / 255.0)[..., None]

    keras.utils.set_random_seed(42)
    model = build_model(manifest["model"]["layers"])
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
