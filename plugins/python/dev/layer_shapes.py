"""plugin-api's layer-shape walk (plugin_api::shapes) for Python tools that build a session
or count work without the plugin: what each layer of a manifest's layer list receives and
produces per sample, and the shapes of its weight and bias in PyTorch's layouts.

The python plugin hands trainers these same shapes (`input_shape`, `output_shape`,
`weight_shape`, `bias_shape` on each layer dict); plugins/python/tests/errors.rs checks that
this walk agrees with it. Only for models the plugin accepts: it and the manifest check
refuse the others, naming the layer. Pure Python, so any interpreter can import it.
"""

from math import prod


def walk(model, in_shape=(1, 28, 28)):
    """The layer dicts (as a manifest writes them, defaults allowed) with their shapes."""
    shape, walked = tuple(in_shape), []
    for spec in model:
        layer, kind = dict(spec), spec["kind"]
        layer["input_shape"] = shape
        if kind == "conv2d":
            c, h, w = shape
            f, k = spec["filters"], spec["kernel"]
            if spec.get("padding", "valid") == "valid":
                h, w = h - k + 1, w - k + 1
            layer["weight_shape"], layer["bias_shape"] = (f, c, k, k), (f,)
            shape = (f, h, w)
        elif kind == "maxpool2d":
            c, h, w = shape
            size = spec["size"]
            stride = spec.get("stride", size)
            shape = (c, (h - size) // stride + 1, (w - size) // stride + 1)
        elif kind == "flatten":
            shape = (prod(shape),)
        elif kind == "dense":
            units = spec["units"]
            layer["weight_shape"], layer["bias_shape"] = (units, shape[0]), (units,)
            shape = (units,)
        layer["output_shape"] = shape
        walked.append(layer)
    return walked


def forward_flops(walked):
    """Floating-point operations of one image's forward pass through the conv2d and dense
    layers of a walked model (a multiply-add counts 2)."""
    # A weight is applied once per output position: h × w for conv2d, once for dense.
    return sum(2 * prod(layer["output_shape"][1:]) * prod(layer["weight_shape"])
               for layer in walked if "weight_shape" in layer)
