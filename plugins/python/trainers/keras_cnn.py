"""Keras 3 (TensorFlow backend) trainer for the python plugin.

Protocol: plugins/python/README.md. The session's layer list becomes a
`keras.Sequential` (NHWC, Keras' default layout), compiled with
`keras.optimizers.Adam` and sparse categorical cross-entropy on logits, and
trained with `model.fit` one epoch per call on the epoch's samples in the
host's order (`shuffle=False`), the way a Keras user trains.
"""

import os
import sys
import time

# Must precede the TensorFlow import to take effect: keep TF's C++ logging to
# warnings and errors (its INFO lines would end up in every worker's stderr).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

EVAL_BATCH_SIZE = 1000  # same in every trainer; option `eval_batch_size`

# The manifest options this trainer reads; the plugin refuses any other key.
OPTIONS = ("inter_op_threads", "eval_batch_size")


def framework_version():
    return f"tensorflow {tf.__version__} / keras {keras.__version__}"


def _activation(name):
    if name in (None, "none", "linear"):
        return None
    if name not in ("relu", "tanh", "sigmoid"):
        raise NotImplementedError(f"activation {name!r} is not supported by keras_cnn")
    return name


def build_model(layers, in_shape=(28, 28, 1)):
    model = keras.Sequential([keras.Input(shape=in_shape)])
    for spec in layers:
        kind = spec["kind"]
        if kind == "conv2d":
            padding = spec.get("padding", "valid")
            if padding not in ("same", "valid"):
                raise NotImplementedError(f"conv2d padding {padding!r}")
            model.add(keras.layers.Conv2D(
                int(spec["filters"]), spec["kernel"], strides=spec.get("stride", 1),
                padding=padding, activation=_activation(spec.get("activation"))))
        elif kind == "maxpool2d":
            size = spec.get("size", 2)
            model.add(keras.layers.MaxPooling2D(size, strides=spec.get("stride", size)))
        elif kind == "flatten":
            model.add(keras.layers.Flatten())
        elif kind == "dropout":
            model.add(keras.layers.Dropout(float(spec["rate"])))
        elif kind == "dense":
            model.add(keras.layers.Dense(
                int(spec["units"]), activation=_activation(spec.get("activation"))))
        else:
            raise NotImplementedError(f"layer kind {kind!r} is not supported by keras_cnn")
    return model


# --- the host's weights ----------------------------------------------------------
# Layout conversions shared with the other NHWC trainer (joulebench_nhwc.py, beside this file).
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
from joulebench_nhwc import flattened_images, from_host, to_host  # noqa: E402


def load_weights(model, layers, weights):
    fed = flattened_images(layers)
    for index, spec in enumerate(layers):
        if spec["kind"] in ("conv2d", "dense"):
            kernel = from_host(spec["kind"], weights[f"{index}.weight"], fed.get(index))
            model.layers[index].set_weights([kernel, np.array(weights[f"{index}.bias"])])


def dump_weights(model, layers):
    fed = flattened_images(layers)
    out = {}
    for index, spec in enumerate(layers):
        if spec["kind"] in ("conv2d", "dense"):
            kernel, bias = model.layers[index].get_weights()
            out[f"{index}.weight"] = to_host(spec["kind"], kernel, fed.get(index))
            out[f"{index}.bias"] = np.asarray(bias, np.float32)
    return out


class PaperAdam(keras.optimizers.Adam):
    """Adam with epsilon added to the bias-corrected sqrt(v_hat), as Kingma & Ba, PyTorch and
    optax do. Keras adds it to sqrt(v) before the correction, which amounts to an epsilon of
    eps / sqrt(1 - beta2^t) (3e-7 at step 1 for eps = 1e-8): `host parity` showed the biases
    moving differently from torch and jax after three steps."""

    def update_step(self, gradient, variable, learning_rate):
        ops = keras.ops
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - beta_2))
        m_hat = ops.divide(m, 1 - ops.power(beta_1, step))
        v_hat = ops.divide(v, 1 - ops.power(beta_2, step))
        self.assign_sub(variable, ops.divide(ops.multiply(lr, m_hat), ops.add(ops.sqrt(v_hat), self.epsilon)))


def _set_threads(threads, options):
    """TensorFlow's thread pools; must run before TF's runtime starts."""
    inter = int(options.get("inter_op_threads", threads))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError as e:
        # TF refuses once its context exists (something already ran an op).
        print(f"keras_cnn: thread settings refused: {e}", flush=True)
    return {
        "intra_op_threads": str(tf.config.threading.get_intra_op_parallelism_threads()),
        "inter_op_threads": str(tf.config.threading.get_inter_op_parallelism_threads()),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
    }


class _Progress(keras.callbacks.Callback):
    """Forwards Keras' per-batch callback to the host's progress callable."""

    def __init__(self, progress, epoch, batches):
        super().__init__()
        self.progress, self.epoch, self.batches = progress, epoch, batches

    def on_train_batch_end(self, batch, logs=None):
        self.progress(self.epoch, batch + 1, self.batches)


class Trainer:
    def __init__(self, session):
        if session.device != "cpu":
            raise NotImplementedError(f"device {session.device!r}: this trainer runs on cpu only")
        options = dict(session.options or {})
        self.notes = _set_threads(int(session.threads), options)
        keras.utils.set_random_seed(session.seed32)
        self.model = build_model(session.model, (*session.train_images.shape[1:], 1))
        self.layers = session.model
        if session.initial_weights is not None:
            load_weights(self.model, self.layers, session.initial_weights)
        self.notes["initial_weights"] = "host" if session.initial_weights is not None else "keras"
        opt = session.optimizer
        if opt["kind"] != "adam":
            raise NotImplementedError(f"optimizer {opt['kind']!r}: only adam")
        self.model.compile(
            optimizer=PaperAdam(
                learning_rate=float(opt["lr"]), beta_1=float(opt["beta1"]),
                beta_2=float(opt["beta2"]), epsilon=float(opt["eps"])),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        # jit_compile="auto" resolves to False on a CPU-only TensorFlow.
        self.notes["jit_compile"] = str(self.model.jit_compile)
        self.notes["parameters"] = str(self.model.count_params())
        self.x = session.train_images
        self.y = session.train_labels
        self.test_x = session.test_images
        self.test_y = session.test_labels
        self.order = session.order
        self.batch_size = int(session.batch_size)
        self.eval_batch_size = int(options.get("eval_batch_size", EVAL_BATCH_SIZE))
        self.epoch = 0

    def train_epochs(self, n, progress):
        losses = []
        samples = 0
        for _ in range(n):
            if self.epoch >= len(self.order):
                raise ValueError(f"epoch {self.epoch + 1} beyond the host's order ({len(self.order)})")
            order = self.order[self.epoch]
            # One gather per epoch puts the samples in the host's order; fit then
            # slices consecutive batches (the last one partial) without shuffling.
            x = self.x[order][..., np.newaxis]
            y = self.y[order]
            batches = (len(order) + self.batch_size - 1) // self.batch_size
            t0 = time.perf_counter()
            history = self.model.fit(
                x, y, batch_size=self.batch_size, epochs=self.epoch + 1,
                initial_epoch=self.epoch, shuffle=False, verbose=0,
                callbacks=[_Progress(progress, self.epoch, batches)])  # 0-based epoch
            self.epoch += 1
            samples += len(order)
            # Keras' epoch "loss" is the running mean over the epoch's batches.
            losses.append(float(history.history["loss"][-1]))
            self.notes["last_epoch_s"] = f"{time.perf_counter() - t0:.3f}"
        return {"samples": samples, "epoch_losses": losses, "notes": dict(self.notes)}

    def run_info(self):
        threads = tf.config.threading.get_intra_op_parallelism_threads()
        return {"threads": threads, "notes": dict(self.notes)}

    # --- parity steps (host parity; plugins/python/README.md) ---

    def parity_step(self, indices):
        """One Adam step on training images `indices`; the batch's mean loss before it."""
        logs = self.model.train_on_batch(
            self.x[indices][..., np.newaxis], self.y[indices], return_dict=True)
        return float(logs["loss"])

    def logits(self, test_indices):
        x = self.test_x[np.asarray(test_indices, np.int64)][..., np.newaxis]
        return np.asarray(self.model(x, training=False))

    def weights(self):
        return dump_weights(self.model, self.layers)

    def evaluate(self):
        loss, accuracy = self.model.evaluate(
            self.test_x[..., np.newaxis], self.test_y,
            batch_size=self.eval_batch_size, verbose=0)
        return {"accuracy": float(accuracy), "loss": float(loss), "samples": len(self.test_y)}


def build(session):
    return Trainer(session)
