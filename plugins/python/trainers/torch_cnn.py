"""PyTorch trainer for the python plugin (protocol: plugins/python/README.md).

Builds the session's layer list as an `nn.Sequential` (NCHW, PyTorch's native
layout), trains it with `torch.optim.Adam` on softmax cross-entropy over the
logits, visiting samples in the host's order, and evaluates on the test set.
"""

import os
import time

import numpy as np
import torch
from torch import nn

# Evaluation does not train, so a large batch only saves per-call overhead; the
# value is the same in every trainer (option `eval_batch_size` overrides it).
EVAL_BATCH_SIZE = 1000

# The manifest options this trainer reads; the plugin refuses any other key.
OPTIONS = ("inter_op_threads", "eval_batch_size")


def framework_version():
    return f"torch {torch.__version__}"


def _activation(name):
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    if name in (None, "none", "linear"):
        return None
    if name not in acts:
        raise NotImplementedError(f"activation {name!r} is not supported by torch_cnn")
    return acts[name]()


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (int(v), int(v))


def build_model(layers):
    """nn.Sequential from the layer dicts, sized by the shapes the plugin walked."""
    return build_indexed(layers)[0]


def build_indexed(layers):
    """(nn.Sequential, {layer index: its Conv2d or Linear}) from the layer dicts."""
    modules = []
    by_index = {}
    for index, spec in enumerate(layers):
        kind = spec["kind"]
        if kind == "conv2d":
            filters, channels, kh, kw = spec["weight_shape"]
            padding = spec.get("padding", "valid")
            if padding not in ("same", "valid"):
                raise NotImplementedError(f"conv2d padding {padding!r}")
            modules.append(nn.Conv2d(channels, filters, (kh, kw), padding=padding))
            by_index[index] = modules[-1]
        elif kind == "maxpool2d":
            size = _pair(spec["size"])
            modules.append(nn.MaxPool2d(size, _pair(spec["stride"])))
        elif kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "dropout":
            modules.append(nn.Dropout(float(spec["rate"])))
        elif kind == "dense":
            units, inputs = spec["weight_shape"]
            modules.append(nn.Linear(inputs, units))
            by_index[index] = modules[-1]
        else:
            raise NotImplementedError(f"layer kind {kind!r} is not supported by torch_cnn")
        act = _activation(spec.get("activation")) if kind in ("conv2d", "dense") else None
        if act is not None:
            modules.append(act)
    return nn.Sequential(*modules), by_index


@torch.no_grad()
def load_weights(by_index, weights):
    """The host's weights: its layouts are PyTorch's (OIHW, (out, in)), and nn.Flatten is
    channel-major like the host's, so they are copied as they are."""
    for index, module in by_index.items():
        module.weight.copy_(torch.from_numpy(np.array(weights[f"{index}.weight"])))
        module.bias.copy_(torch.from_numpy(np.array(weights[f"{index}.bias"])))


def dump_weights(by_index):
    """The current weights, named and laid out as the host's."""
    out = {}
    for index, module in by_index.items():
        out[f"{index}.weight"] = module.weight.detach().numpy().copy()
        out[f"{index}.bias"] = module.bias.detach().numpy().copy()
    return out


def _set_threads(threads, options):
    """Intra- and inter-op threads, before any parallel work; returns notes."""
    inter = int(options.get("inter_op_threads", threads))
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(inter)
    except RuntimeError as e:
        # Only possible if something already ran inter-op work in this process.
        print(f"torch_cnn: set_num_interop_threads({inter}) refused: {e}", flush=True)
    return {
        "intra_op_threads": str(torch.get_num_threads()),
        "inter_op_threads": str(torch.get_num_interop_threads()),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "mkldnn": str(torch.backends.mkldnn.is_available()),
    }


class Trainer:
    def __init__(self, session):
        if session.device != "cpu":
            raise NotImplementedError(f"device {session.device!r}: this trainer runs on cpu only")
        options = dict(session.options or {})
        self.notes = _set_threads(int(session.threads), options)
        torch.manual_seed(session.seed32)
        self.model, self.by_index = build_indexed(session.model)
        if session.initial_weights is not None:
            load_weights(self.by_index, session.initial_weights)
        self.notes["initial_weights"] = "host" if session.initial_weights is not None else "torch"
        opt = session.optimizer
        if opt["kind"] != "adam":
            raise NotImplementedError(f"optimizer {opt['kind']!r}: only adam")
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=float(opt["lr"]),
            betas=(float(opt["beta1"]), float(opt["beta2"])), eps=float(opt["eps"]))
        self.loss_fn = nn.CrossEntropyLoss()  # softmax cross-entropy on logits
        # torch.from_numpy shares memory but wants a writable array; the host's
        # buffers are read-only, and batches are gathered copies anyway. Only the
        # test set is converted whole, once, here.
        self.x = session.train_images
        self.y = session.train_labels
        self.test_x = torch.from_numpy(np.array(session.test_images)).unsqueeze(1)
        self.test_y = torch.from_numpy(session.test_labels.astype(np.int64))
        self.order = session.order
        self.batch_size = int(session.batch_size)
        self.eval_batch_size = int(options.get("eval_batch_size", EVAL_BATCH_SIZE))
        self.epoch = 0  # epochs done; the host calls train_epochs(1) per epoch
        self.notes["parameters"] = str(sum(p.numel() for p in self.model.parameters()))

    def train_epochs(self, n, progress):
        losses = []
        samples = 0
        self.model.train()
        for _ in range(n):
            if self.epoch >= len(self.order):
                raise ValueError(f"epoch {self.epoch + 1} beyond the host's order ({len(self.order)})")
            order = self.order[self.epoch]
            batches = (len(order) + self.batch_size - 1) // self.batch_size
            total = torch.zeros((), dtype=torch.float64)
            t0 = time.perf_counter()
            for b in range(batches):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                # Gather the batch (a copy: the host's order is arbitrary).
                xb = torch.from_numpy(self.x[idx]).unsqueeze(1)
                yb = torch.from_numpy(self.y[idx].astype(np.int64))
                self.optimizer.zero_grad(set_to_none=True)
                loss = self.loss_fn(self.model(xb), yb)
                loss.backward()
                self.optimizer.step()
                total += loss.detach() * len(idx)
                progress(self.epoch, b + 1, batches)  # epoch is 0-based
            self.epoch += 1
            samples += len(order)
            losses.append(float(total) / len(order))
            self.notes["last_epoch_s"] = f"{time.perf_counter() - t0:.3f}"
        return {"samples": samples, "epoch_losses": losses, "notes": dict(self.notes)}

    def run_info(self):
        return {"threads": torch.get_num_threads(), "notes": dict(self.notes)}

    # --- parity steps (host parity; plugins/python/README.md) ---

    def parity_step(self, indices):
        """One Adam step on training images `indices`; the batch's mean loss before it."""
        self.model.train()
        xb = torch.from_numpy(self.x[indices]).unsqueeze(1)
        yb = torch.from_numpy(self.y[indices].astype(np.int64))
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def logits(self, test_indices):
        self.model.eval()
        return self.model(self.test_x[torch.from_numpy(np.asarray(test_indices, np.int64))]).numpy()

    def weights(self):
        return dump_weights(self.by_index)

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        correct = 0
        loss_sum = 0.0
        n = len(self.test_y)
        for i in range(0, n, self.eval_batch_size):
            xb = self.test_x[i:i + self.eval_batch_size]
            yb = self.test_y[i:i + self.eval_batch_size]
            logits = self.model(xb)
            loss_sum += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(1) == yb).sum())
        return {"accuracy": correct / n, "loss": loss_sum / n, "samples": n}


def build(session):
    return Trainer(session)
