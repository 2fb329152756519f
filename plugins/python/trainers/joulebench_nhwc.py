"""The host's initial weights in NHWC frameworks' layouts, shared by keras_cnn.py and jax_cnn.py.

The host lends PyTorch layouts (OIHW kernels, (out, in) dense kernels) and flattens
channel-major (c, h, w); NHWC flattens (h, w, c), so a dense layer fed by a flatten gets its
inputs permuted. Imported by the trainers from their own folder (the name is distinctive so
that nothing installed shadows it).
"""

import numpy as np


def flattened_images(layers):
    """{index of a dense layer fed by a flatten of an image: that image's (c, h, w)}."""
    fed = {}
    image = None
    for index, spec in enumerate(layers):
        kind = spec["kind"]
        if kind == "flatten":
            shape = tuple(spec["input_shape"])
            image = shape if len(shape) == 3 else None
        elif kind == "dense":
            if image is not None:
                fed[index] = image
            image = None
        elif kind != "dropout":
            image = None
    return fed


def from_host(kind, w, image=None):
    """A host weight in this trainer's layout: HWIO kernels, (in, out) dense kernels."""
    w = np.asarray(w, np.float32)
    if kind == "conv2d":
        return np.ascontiguousarray(w.transpose(2, 3, 1, 0))
    if image is not None:
        c, h, wd = image
        units = w.shape[0]
        return np.ascontiguousarray(
            w.reshape(units, c, h, wd).transpose(2, 3, 1, 0).reshape(h * wd * c, units))
    return np.ascontiguousarray(w.T)


def to_host(kind, k, image=None):
    """The inverse of from_host."""
    k = np.asarray(k, np.float32)
    if kind == "conv2d":
        return np.ascontiguousarray(k.transpose(3, 2, 0, 1))
    if image is not None:
        c, h, wd = image
        units = k.shape[1]
        return np.ascontiguousarray(
            k.reshape(h, wd, c, units).transpose(3, 2, 0, 1).reshape(units, c * h * wd))
    return np.ascontiguousarray(k.T)
