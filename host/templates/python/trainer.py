"""{{name}}: a joulebench trainer for the python plugin, made by `host new-plugin {{name}} --python`.

As generated it trains softmax regression in NumPy with the session's Adam, so that
`host check-plugin` passes before you change anything; replace `Trainer`'s model with your
framework's, built from `session.model` (the layer list). The protocol is in joulebench's
plugins/python/README.md ("The trainer protocol"); the rules, in short:

- build(session) is called once per run, in a fresh worker process; the host then calls
  train_epochs(1, progress) once per epoch and evaluate() once, reading the energy counters
  between the calls: do all the work inside them (wait for asynchronous work before returning).
- Use session.order[epoch], batch after batch, including the last partial batch; call
  progress(epoch, batch, batches) after each batch; return each epoch's mean training loss.
- Honour session.threads before the framework starts its thread pools, and report what took
  effect in run_info(). Environment variables read at import (OMP_NUM_THREADS,
  OPENBLAS_NUM_THREADS) belong in the manifest's `env` table: the worker is already running
  threads when this file is imported.
- Use session.initial_weights when given, or say "initial_weights": "ignored" in the notes.
- Raise NotImplementedError for what you cannot do (reported as "unsupported"); never exit.
- The arrays are read-only views of the host's buffers: gather batches (a copy), never write.
"""

import numpy as np

# The manifest option keys this trainer reads; any other key is refused, naming it.
OPTIONS = ("verbose",)


def framework_version():
    return f"numpy {np.__version__}"


class Trainer:
    def __init__(self, session):
        if session.device != "cpu":
            raise NotImplementedError(f"device {session.device!r}: this trainer runs on cpu only")
        opt = session.optimizer
        if opt["kind"] != "adam":
            raise NotImplementedError(f"optimizer {opt['kind']!r}: only adam")
        self.lr, self.b1, self.b2, self.eps = (float(opt[k]) for k in ("lr", "beta1", "beta2", "eps"))
        self.x = session.train_images
        self.y = session.train_labels
        self.test_x = session.test_images.reshape(len(session.test_labels), -1)
        self.test_y = session.test_labels
        self.order = session.order
        self.batch_size = int(session.batch_size)
        inputs = int(np.prod(self.x.shape[1:]))
        classes = int(session.classes)
        # Zero weights: softmax regression needs no random start (a real model seeds from
        # session.seed32).
        self.params = [np.zeros((inputs, classes), np.float32), np.zeros(classes, np.float32)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.steps = 0
        self.epoch = 0  # epochs done; the host calls train_epochs(1) per epoch
        self.notes = {"model": "softmax regression (the session's layers are not built)"}
        if session.initial_weights is not None:
            self.notes["initial_weights"] = "ignored"

    def _logits(self, x):
        return x @ self.params[0] + self.params[1]

    def _adam(self, grads):
        self.steps += 1
        c1, c2 = 1 - self.b1 ** self.steps, 1 - self.b2 ** self.steps
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)

    def train_epochs(self, n, progress):
        losses = []
        for _ in range(n):
            if self.epoch >= len(self.order):
                raise ValueError(f"epoch {self.epoch + 1} beyond the session's {len(self.order)}")
            order = self.order[self.epoch]
            batches = (len(order) + self.batch_size - 1) // self.batch_size
            total = 0.0
            for b in range(batches):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                x = self.x[idx].reshape(len(idx), -1)  # a copy, in the host's order
                p = _softmax(self._logits(x))
                total -= float(np.log(np.maximum(p[np.arange(len(idx)), self.y[idx]], 1e-12)).sum())
                p[np.arange(len(idx)), self.y[idx]] -= 1.0
                p /= len(idx)
                self._adam([x.T @ p, p.sum(0)])
                progress(self.epoch, b + 1, batches)  # epoch is 0-based
            losses.append(total / len(order))
            self.epoch += 1
        return {"samples": n * len(self.order[0]), "epoch_losses": losses, "notes": dict(self.notes)}

    def evaluate(self):
        p = _softmax(self._logits(self.test_x))
        n = len(self.test_y)
        loss = -float(np.log(np.maximum(p[np.arange(n), self.test_y], 1e-12)).mean())
        accuracy = float((p.argmax(1) == self.test_y).mean())
        return {"accuracy": accuracy, "loss": loss, "samples": n}

    def run_info(self):
        # NumPy's own loops are single-threaded; its BLAS (matrix products) follows
        # OPENBLAS_NUM_THREADS, which the manifest's env sets to the session's threads.
        return {"threads": 1, "notes": dict(self.notes)}


def _softmax(logits):
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def build(session):
    return Trainer(session)
