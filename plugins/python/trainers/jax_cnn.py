"""JAX + optax trainer for the python plugin (protocol: plugins/python/README.md).

The model is a pure function over a list of per-layer parameter dicts, written
with `jax.lax` primitives (NHWC, XLA's preferred CPU layout) and initialised
like Flax's defaults (LeCun-normal kernels, zero biases). One `jax.jit`-compiled
step does forward, backward and the `optax.adam` update; it donates the old
parameters and optimizer state, and accumulates the epoch's loss on the device,
so the host never waits on a step. The last partial batch is padded to the
batch size and masked out of the loss, so one executable serves every batch and
nothing is recompiled per epoch; the mean over the real samples is unchanged.
"""

import os
import sys
import time

import numpy as np
import jax
import jax.numpy as jnp
import optax
from jax import lax

EVAL_BATCH_SIZE = 1000  # same in every trainer; option `eval_batch_size`

# The manifest options this trainer reads; the plugin refuses any other key.
OPTIONS = ("eval_batch_size", "maxpool")


def framework_version():
    import jaxlib

    return f"jax {jax.__version__} / jaxlib {jaxlib.__version__} / optax {optax.__version__}"


# --- threads -----------------------------------------------------------------

def _task_names():
    names = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                names[int(tid)] = f.read().strip()
        except OSError:
            pass  # the thread ended meanwhile
    return names


def _init_backend(threads):
    """Start XLA's CPU client with `threads` intra-op threads; returns notes.

    XLA has no thread-count setting: its CPU client sizes its Eigen pool to the
    CPUs the creating thread may run on (sched_getaffinity). So the calling
    thread is restricted to `threads` CPUs while the client starts, and every
    thread started meanwhile is given the full CPU set back afterwards: the pool
    keeps its size but is scheduled freely, like the other frameworks' pools.
    With one thread, Eigen's own multi-threading is also switched off.
    """
    from jax._src import xla_bridge

    notes = {}
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    if xla_bridge.backends_are_initialized():
        notes["thread_warning"] = "XLA backend already initialised: thread settings not applied"
    allowed = os.sched_getaffinity(0)
    before = set(_task_names())
    restrict = threads < len(allowed)
    if restrict:
        os.sched_setaffinity(0, sorted(allowed)[:threads])
    try:
        jax.devices("cpu")  # creates the client and its thread pools
    finally:
        if restrict:
            for tid in set(_task_names()) - before | {0}:
                try:
                    os.sched_setaffinity(tid, allowed)
                except OSError:
                    pass
    eigen = sum(1 for name in _task_names().values() if "XLAEigen" in name)
    notes.update({
        "xla_intra_op_threads": str(eigen),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "cpus_available": str(len(allowed)),
    })
    return notes


# --- model -------------------------------------------------------------------

def _activation(name):
    acts = {"relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}
    if name in (None, "none", "linear"):
        return None
    if name not in acts:
        raise NotImplementedError(f"activation {name!r} is not supported by jax_cnn")
    return acts[name]


def _pair(v):
    return tuple(int(x) for x in v) if isinstance(v, (list, tuple)) else (int(v), int(v))


def init_params(layers, key):
    """Per-layer parameter dicts ({} for layers without weights), sized by the shapes the
    plugin walked (`weight_shape` in PyTorch's layouts, permuted to HWIO and (in, out))."""
    init = jax.nn.initializers.lecun_normal()
    params = []
    for spec in layers:
        kind = spec["kind"]
        key, sub = jax.random.split(key)
        if kind == "conv2d":
            f, c, kh, kw = spec["weight_shape"]
            params.append({"w": init(sub, (kh, kw, c, f), jnp.float32), "b": jnp.zeros((f,), jnp.float32)})
        elif kind == "dense":
            units, inputs = spec["weight_shape"]
            params.append({"w": init(sub, (inputs, units), jnp.float32), "b": jnp.zeros((units,), jnp.float32)})
        elif kind in ("maxpool2d", "flatten", "dropout"):
            params.append({})
        else:
            raise NotImplementedError(f"layer kind {kind!r} is not supported by jax_cnn")
    return params


def make_apply(layers, maxpool="reduce_window"):
    """apply(params, x, train, key) -> logits, for NHWC float32 input."""
    layers = [dict(spec) for spec in layers]

    def pool(x, size, stride):
        if maxpool == "reshape" and size == stride and x.shape[1] % size[0] == 0 and x.shape[2] % size[1] == 0:
            n, h, w, c = x.shape
            return x.reshape(n, h // size[0], size[0], w // size[1], size[1], c).max(axis=(2, 4))
        # What flax.linen.max_pool does.
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, *size, 1), (1, *stride, 1), "VALID")

    def apply(params, x, train, key):
        for i, (spec, p) in enumerate(zip(layers, params)):
            kind = spec["kind"]
            if kind == "conv2d":
                x = lax.conv_general_dilated(
                    x, p["w"], _pair(spec.get("stride", 1)), spec.get("padding", "valid").upper(),
                    dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["b"]
            elif kind == "maxpool2d":
                x = pool(x, _pair(spec.get("size", 2)), _pair(spec.get("stride", spec.get("size", 2))))
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            elif kind == "dense":
                x = x @ p["w"] + p["b"]
            elif kind == "dropout" and train:
                keep = 1.0 - float(spec["rate"])
                mask = jax.random.bernoulli(jax.random.fold_in(key, i), keep, x.shape)
                x = jnp.where(mask, x / keep, 0.0)
            act = _activation(spec.get("activation")) if kind in ("conv2d", "dense") else None
            if act is not None:
                x = act(x)
        return x

    return apply


# --- the host's weights ----------------------------------------------------------
# Layout conversions shared with the other NHWC trainer (joulebench_nhwc.py, beside this file).
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
from joulebench_nhwc import flattened_images, from_host, to_host  # noqa: E402


def load_weights(layers, weights):
    """Per-layer parameter dicts from the host's weights."""
    fed = flattened_images(layers)
    params = []
    for index, spec in enumerate(layers):
        if spec["kind"] in ("conv2d", "dense"):
            w = from_host(spec["kind"], weights[f"{index}.weight"], fed.get(index))
            params.append({"w": jnp.asarray(w), "b": jnp.asarray(np.array(weights[f"{index}.bias"]))})
        else:
            params.append({})
    return params


def dump_weights(layers, params):
    fed = flattened_images(layers)
    out = {}
    for index, (spec, p) in enumerate(zip(layers, params)):
        if spec["kind"] in ("conv2d", "dense"):
            out[f"{index}.weight"] = to_host(spec["kind"], np.asarray(p["w"]), fed.get(index))
            out[f"{index}.bias"] = np.asarray(p["b"], np.float32)
    return out


# --- trainer -----------------------------------------------------------------

class Trainer:
    def __init__(self, session):
        if session.device != "cpu":
            raise NotImplementedError(f"device {session.device!r}: this trainer runs on cpu only")
        options = dict(session.options or {})
        self.notes = _init_backend(int(session.threads))
        opt = session.optimizer
        if opt["kind"] != "adam":
            raise NotImplementedError(f"optimizer {opt['kind']!r}: only adam")
        maxpool = options.get("maxpool", "reduce_window")
        apply = make_apply(session.model, maxpool)
        key = jax.random.key(session.seed32)
        init_key, self.dropout_key = jax.random.split(key)
        self.image_shape = (*session.train_images.shape[1:], 1)
        self.layers = session.model
        if session.initial_weights is not None:
            self.params = load_weights(session.model, session.initial_weights)
        else:
            self.params = init_params(session.model, init_key)
        self.apply = apply
        self.tx = optax.adam(float(opt["lr"]), b1=float(opt["beta1"]),
                             b2=float(opt["beta2"]), eps=float(opt["eps"]))
        self.opt_state = self.tx.init(self.params)
        self.step_count = 0

        def loss_fn(params, x, y, mask, key):
            logits = apply(params, x, True, key)
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
            # Mean over the real samples only: padding rows have mask 0.
            return jnp.sum(ce * mask) / jnp.sum(mask)

        tx = self.tx
        dropout_key = self.dropout_key

        def train_step(params, opt_state, total, x, y, mask, step):
            # The dropout key is derived inside the step: no extra dispatch per batch.
            key = jax.random.fold_in(dropout_key, step)
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y, mask, key)
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return params, opt_state, total + loss * jnp.sum(mask)

        def eval_step(params, x, y):
            logits = apply(params, x, False, None)
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
            return jnp.sum(ce), jnp.sum(jnp.argmax(logits, -1) == y)

        self.train_step = jax.jit(train_step, donate_argnums=(0, 1, 2))
        self.eval_step = jax.jit(eval_step)
        self.x = session.train_images
        self.y = session.train_labels
        self.test_x = session.test_images
        self.test_y = session.test_labels
        self.order = session.order
        self.batch_size = int(session.batch_size)
        self.eval_batch_size = int(options.get("eval_batch_size", EVAL_BATCH_SIZE))
        self.epoch = 0
        n_params = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(self.params))
        self.notes.update({
            "parameters": str(n_params),
            "maxpool": maxpool,
            "partial_batch": "padded to batch_size, masked",
            "initial_weights": "host" if session.initial_weights is not None else "jax",
            "jit": "train step (forward+backward+adam), donated buffers",
        })

    def _batch(self, idx, size):
        """Gathered batch padded to `size` rows, with its 0/1 mask."""
        n = len(idx)
        x = np.zeros((size, *self.image_shape), np.float32)
        x[:n, ..., 0] = self.x[idx]
        y = np.zeros((size,), np.int32)
        y[:n] = self.y[idx]
        mask = np.zeros((size,), np.float32)
        mask[:n] = 1.0
        return x, y, mask

    def train_epochs(self, n, progress):
        losses = []
        samples = 0
        for _ in range(n):
            if self.epoch >= len(self.order):
                raise ValueError(f"epoch {self.epoch + 1} beyond the host's order ({len(self.order)})")
            order = self.order[self.epoch]
            batches = (len(order) + self.batch_size - 1) // self.batch_size
            total = jnp.zeros((), jnp.float32)
            t0 = time.perf_counter()
            for b in range(batches):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                x, y, mask = self._batch(idx, self.batch_size)
                self.params, self.opt_state, total = self.train_step(
                    self.params, self.opt_state, total, x, y, mask, np.uint32(self.step_count))
                self.step_count += 1
                # Dispatch is asynchronous: this reports queued steps; the
                # float() below waits for the epoch to finish.
                progress(self.epoch, b + 1, batches)  # epoch is 0-based
            losses.append(float(total) / len(order))
            self.epoch += 1
            samples += len(order)
            self.notes["last_epoch_s"] = f"{time.perf_counter() - t0:.3f}"
            self.notes["compiled_train_steps"] = str(self.train_step._cache_size())
        return {"samples": samples, "epoch_losses": losses, "notes": dict(self.notes)}

    def run_info(self):
        return {"threads": int(self.notes["xla_intra_op_threads"]), "notes": dict(self.notes)}

    # --- parity steps (host parity; plugins/python/README.md) ---

    def parity_step(self, indices):
        """One Adam step on training images `indices`; the batch's mean loss before it."""
        x, y, mask = self._batch(np.asarray(indices), len(indices))
        total = jnp.zeros((), jnp.float32)
        self.params, self.opt_state, total = self.train_step(
            self.params, self.opt_state, total, x, y, mask, np.uint32(self.step_count))
        self.step_count += 1
        return float(total) / len(indices)

    def logits(self, test_indices):
        x = self.test_x[np.asarray(test_indices, np.int64)][..., np.newaxis]
        return np.asarray(self.apply(self.params, x, False, None))

    def weights(self):
        return dump_weights(self.layers, self.params)

    def evaluate(self):
        loss_sum = 0.0
        correct = 0
        n = len(self.test_y)
        for i in range(0, n, self.eval_batch_size):
            x = self.test_x[i:i + self.eval_batch_size][..., np.newaxis]
            y = self.test_y[i:i + self.eval_batch_size].astype(np.int32)
            s, c = self.eval_step(self.params, x, y)
            loss_sum += float(s)
            correct += int(c)
        return {"accuracy": correct / n, "loss": loss_sum / n, "samples": n}


def build(session):
    return Trainer(session)
