"""compiler.from_onnx: ONNX files exported from torch.nn at several opsets, built by hand with
onnx.helper, and shipped with the onnx package, against ONNX Runtime (onnx's reference
evaluator without it) and PyTorch; unsupported parts are reported all at once."""
from __future__ import annotations

import functools
import glob
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

import compiler  # noqa: E402
from compiler import interp  # noqa: E402

from .onnx_models import NETS, NEWEST, export, make_model, reference, torch_net  # noqa: E402
from .parity import assert_close  # noqa: E402

OPSETS = [9, 11, 13, 17, 23, NEWEST]
DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


def inputs_for(key: str, shapes) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def outputs(y) -> list:
    """A model's output(s) as a list (numpy arrays or torch tensors)."""
    return list(y) if isinstance(y, (tuple, list)) else [y]


def assert_matches(model, xs, rtol=1e-4, what=""):
    """The imported graph, run by the NumPy interpreter, matches the ONNX reference."""
    graph = compiler.from_onnx(model)
    got, want = outputs(interp.run(graph, *xs)), reference(model, *xs)
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert_close(a, b, rtol, 1e-5, f"{what} output {i}")
    return graph


def kinds(graph) -> list[str]:
    return [n.op.kind for n in graph.nodes]


# --- torch.nn nets exported by PyTorch ------------------------------------------------------

@functools.cache
def exported(name: str, opset):
    net = torch_net(name)
    shape, _ = NETS[name]
    return net, export(net, shape, opset)


#: each net at every opset from the oldest PyTorch exports it faithfully at (pools, shuffles,
#: interpolation and padding need opset 11) to the newest
FAITHFUL = [(name, opset) for name, (_, oldest) in NETS.items() for opset in OPSETS
            if opset == NEWEST or opset >= oldest]


@pytest.mark.parametrize("name, opset", FAITHFUL)
def test_torch_export_matches(name, opset):
    torch = pytest.importorskip("torch")
    shape, _ = NETS[name]
    net, model = exported(name, opset)
    x = inputs_for(name, [shape])[0]
    graph = assert_matches(model, [x], what=f"{name} at opset {opset} vs ONNX Runtime")
    with torch.no_grad():
        expected = outputs(net(torch.from_numpy(x)))
    for i, (a, b) in enumerate(zip(outputs(interp.run(graph, x)), expected)):
        assert_close(a, b.numpy(), 1e-4, 1e-5, f"{name} at opset {opset} output {i} vs PyTorch")


@pytest.mark.parametrize("name", list(NETS))
def test_torch_export_compiles(name):
    pytest.importorskip("torch")
    _, model = exported(name, 17)
    x = inputs_for(name, [NETS[name][0]])[0]
    m = compiler.compile(model)
    for i, (a, b) in enumerate(zip(outputs(m(x)), reference(model, x))):
        assert_close(a, b, 1e-4, 1e-5, f"{name} compiled, output {i}")


@pytest.mark.parametrize("name", list(NETS))
def test_torch_dynamo_export_matches(name):
    """PyTorch's default exporter (torch.export and onnxscript, opset 18+) writes other
    patterns: clamp as Max, adaptive max pooling as ReduceMax, its own node names."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    net, shape = torch_net(name), NETS[name][0]
    model = torch.onnx.export(net, (torch.zeros(shape),), dynamo=True).model_proto
    assert_matches(model, inputs_for(name, [shape]), what=f"{name} (dynamo export)")


def test_bilinear_before_opset_11_is_refused():
    """PyTorch exports bilinear interpolation to opsets 9 and 10 with ONNX's asymmetric
    coordinates, which are not PyTorch's: smelt says so rather than guess."""
    torch = pytest.importorskip("torch")

    class Bilinear(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear")

    for opset in (9, 10):
        with pytest.raises(compiler.UnsupportedModelError, match="asymmetric"):
            compiler.from_onnx(export(Bilinear(), (1, 2, 3, 4), opset))


# --- graphs built by hand ----------------------------------------------------------------------

def node(op, ins, outs=("y",), **attrs):
    return helper.make_node(op, list(ins), list(outs), **attrs)


def one(op, x_shape, opset, inits=None, ins=("x",), y_shape=None, **attrs):
    """A model of one node: op(x, initializers...) -> y."""
    return make_model([node(op, ins, **attrs)], {"x": x_shape}, {"y": y_shape}, opset, inits)


def const(name, value, dtype=np.int64):
    return node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value, dtype)))


def weights(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


S4 = (2, 3, 4, 5)
HAND = {
    # DepthToSpace: DCR (a channel shuffle, then a pixel shuffle) and CRD (a pixel shuffle)
    "depth_to_space_dcr": lambda: one("DepthToSpace", (1, 8, 3, 4), 13, blocksize=2),
    "depth_to_space_crd": lambda: one("DepthToSpace", (1, 8, 3, 4), 13, blocksize=2,
                                      mode="CRD"),
    "depth_to_space_opset9": lambda: one("DepthToSpace", (1, 9, 2, 3), 9, blocksize=3),
    # Softmax: before 13 over the input flattened to 2-D at axis, from 13 along the axis
    "softmax_11_axis1": lambda: one("Softmax", S4, 11, axis=1),
    "softmax_9_default": lambda: one("Softmax", S4, 9),
    "softmax_11_axis3": lambda: one("Softmax", S4, 11, axis=3),
    "softmax_13_axis1": lambda: one("Softmax", S4, 13, axis=1),
    "softmax_13_default": lambda: one("Softmax", S4, 13),
    # Clip: bounds as attributes (before 11) or inputs
    "clip_6_relu6": lambda: one("Clip", S4, 6, min=0.0, max=6.0),
    "clip_9_attrs": lambda: one("Clip", S4, 9, min=-1.0, max=0.5),
    "clip_9_min_only": lambda: one("Clip", S4, 9, min=0.0),
    "clip_11_min_input": lambda: one("Clip", S4, 11, {"lo": np.float32(-0.5)}, ("x", "lo")),
    "clip_13_max_input": lambda: one("Clip", S4, 13, {"hi": np.float32(0.25)}, ("x", "", "hi")),
    "max_with_zero": lambda: one("Max", S4, 13, {"c": np.float32(0)}, ("x", "c")),
    "min_max_constants": lambda: make_model(
        [node("Max", ["x", "lo"], ["a"]), node("Min", ["a", "hi", "hi2"])], {"x": S4},
        {"y": S4}, 13, {"lo": np.float32(-0.5), "hi": np.float32(0.7),
                        "hi2": np.float32(0.4)}),
    "clip_13_relu6": lambda: one("Clip", S4, 13, {"lo": np.float32(0), "hi": np.float32(6)},
                                 ("x", "lo", "hi")),
    # HardSigmoid: PyTorch's constants are Hardsigmoid, others a scale, shift and clamp
    "hard_sigmoid_default": lambda: one("HardSigmoid", S4, 13),
    "hard_sigmoid_torch": lambda: one("HardSigmoid", S4, 13, alpha=1 / 6, beta=0.5),
    "hard_swish": lambda: one("HardSwish", S4, 14),
    "prelu_per_channel": lambda: one("PRelu", S4, 13, {"a": weights(3, 1, 1)}, ("x", "a")),
    "prelu_shared": lambda: one("PRelu", S4, 9, {"a": np.array([0.3], np.float32)},
                                ("x", "a")),
    "activations": lambda: make_model(
        [node("Elu", ["x"], ["a"], alpha=0.3), node("Selu", ["a"], ["b"]),
         node("LeakyRelu", ["b"], ["c"], alpha=0.1), node("Neg", ["c"], ["d"]),
         node("Sigmoid", ["d"], ["e"]), node("Tanh", ["e"], ["f"]), node("Relu", ["f"])],
        {"x": S4}, {"y": S4}, 13),
    # n-ary Sum, constants, broadcasts
    "sum_of_three": lambda: make_model(
        [node("Sum", ["a", "b", "c"])], {"a": S4, "b": S4, "c": S4}, {"y": S4}, 13),
    "sum_with_constants": lambda: make_model(
        [node("Sum", ["x", "k", "x", "s"])], {"x": S4}, {"y": S4}, 8,
        {"k": weights(3, 1, 1), "s": np.float32(0.5)}),
    "channel_broadcast_mul": lambda: make_model(
        [node("Mul", ["s", "x"])], {"x": S4, "s": (2, 3, 1, 1)}, {"y": S4}, 13),
    "sub_channel_tensor_first": lambda: make_model(
        [node("Sub", ["s", "x"])], {"x": S4, "s": (1, 3, 1, 1)}, {"y": S4}, 13),
    "per_channel_constants": lambda: make_model(
        [node("Div", ["x", "k"], ["a"]), node("Sub", ["k", "a"], ["b"]),
         node("Mul", ["b", "k2"], ["c"]), node("Add", ["k2", "c"], ["d"]),
         node("Sub", ["d", "k"], ["e"]), node("Div", ["two", "e"])],
        {"x": S4}, {"y": S4}, 13,
        {"k": np.abs(weights(3, 1, 1)) + 0.5, "k2": weights(1, 3, 1, 1, seed=2),
         "two": np.float32(2)}),
    # constant subgraphs folded at import
    "fold_shape_chain_9": lambda: fold_chain(9),
    "fold_shape_chain_13": lambda: fold_chain(13),
    # pools with uneven pads and auto_pad
    "maxpool_uneven_pads": lambda: one("MaxPool", (1, 2, 7, 7), 9, kernel_shape=[3, 3],
                                       strides=[2, 2], pads=[0, 0, 1, 1]),
    "avgpool_global_by_pads": lambda: one("AveragePool", (1, 2, 6, 6), 9,
                                          kernel_shape=[7, 7], pads=[0, 0, 1, 1]),
    "avgpool_same_upper": lambda: one("AveragePool", (1, 2, 7, 8), 11, kernel_shape=[3, 3],
                                      strides=[2, 2], auto_pad="SAME_UPPER"),
    "maxpool_same_lower": lambda: one("MaxPool", (1, 2, 5, 5), 11, kernel_shape=[2, 2],
                                      strides=[2, 2], auto_pad="SAME_LOWER"),
    "maxpool_edge_padding": lambda: one("MaxPool", (1, 2, 5, 6), 8, kernel_shape=[2, 2],
                                        pads=[0, 0, 1, 1]),      # tiny-YOLOv2's last pool
    "avgpool_ceil": lambda: one("AveragePool", (1, 2, 7, 7), 19, kernel_shape=[3, 3],
                                strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    "global_pools": lambda: make_model(
        [node("GlobalMaxPool", ["x"], ["a"]), node("GlobalAveragePool", ["x"], ["b"]),
         node("Concat", ["a", "b"], axis=1)], {"x": S4}, {"y": (2, 6, 1, 1)}, 13),
    # convolutions
    "conv_same_lower": lambda: one("Conv", (1, 2, 7, 8), 11, {"w": weights(3, 2, 4, 4)},
                                   ("x", "w"), strides=[2, 2], auto_pad="SAME_LOWER"),
    "conv_transpose_output_shape": lambda: one(
        "ConvTranspose", (1, 2, 5, 6), 11, {"w": weights(2, 3, 3, 3), "b": weights(3)},
        ("x", "w", "b"), strides=[2, 2], output_shape=[10, 12]),
    "conv_transpose_same_lower": lambda: one(
        "ConvTranspose", (1, 2, 5, 6), 11, {"w": weights(2, 4, 3, 3)}, ("x", "w"),
        strides=[2, 2], auto_pad="SAME_LOWER"),
    "conv_transpose_same_upper": lambda: one(
        "ConvTranspose", (1, 2, 5, 6), 11, {"w": weights(2, 4, 4, 4)}, ("x", "w"),
        strides=[2, 2], auto_pad="SAME_UPPER"),
    "conv_transpose_uneven_pads": lambda: one(
        "ConvTranspose", (1, 2, 5, 6), 11, {"w": weights(2, 2, 4, 4)}, ("x", "w"),
        strides=[2, 3], pads=[2, 1, 1, 0]),
    # resizing
    "resize_nearest_sizes": lambda: one(
        "Resize", (1, 2, 5, 7), 13, {"sizes": np.array([1, 2, 12, 9], np.int64)},
        ("x", "", "", "sizes"), coordinate_transformation_mode="asymmetric",
        nearest_mode="floor"),
    "resize_nearest_exact": lambda: one(
        "Resize", (1, 2, 5, 7), 13, {"scales": np.array([1, 1, 1.5, 0.5], np.float32)},
        ("x", "", "scales"), coordinate_transformation_mode="half_pixel",
        nearest_mode="round_prefer_ceil"),
    "resize_nearest_tf_half_pixel": lambda: one(
        "Resize", (1, 2, 5, 7), 11, {"roi": np.zeros(0, np.float32),
                                     "scales": np.array([1, 1, 2, 3], np.float32)},
        ("x", "roi", "scales"), coordinate_transformation_mode="tf_half_pixel_for_nn",
        nearest_mode="floor"),
    "upsample_7": lambda: one("Upsample", (1, 2, 3, 4), 7, scales=[1.0, 1.0, 2.0, 3.0]),
    "upsample_9": lambda: one("Upsample", (1, 2, 3, 4), 9,
                              {"s": np.array([1, 1, 3, 2], np.float32)}, ("x", "s")),
    "resize_10": lambda: one("Resize", (1, 2, 3, 4), 10,
                             {"s": np.array([1, 1, 2, 2], np.float32)}, ("x", "s")),
    "resize_18_axes": lambda: one(
        "Resize", (1, 2, 5, 7), 18, {"s": np.array([2, 1.5], np.float32)}, ("x", "", "s"),
        axes=[2, 3], mode="linear"),
    "resize_linear_pytorch_half_pixel": lambda: one(
        "Resize", (1, 2, 5, 7), 13, {"sizes": np.array([1, 2, 8, 3], np.int64)},
        ("x", "", "", "sizes"), mode="linear",
        coordinate_transformation_mode="pytorch_half_pixel"),
    "resize_cubic_align_corners": lambda: one(
        "Resize", (1, 2, 5, 7), 13, {"s": np.array([1, 1, 2, 2], np.float32)},
        ("x", "", "s"), mode="cubic", coordinate_transformation_mode="align_corners"),
    # matrix products
    "gemm_alpha_beta": lambda: one("Gemm", (4, 6), 13, {"b": weights(5, 6), "c": weights(1, 5)},
                                   ("x", "b", "c"), alpha=0.5, beta=2.0, transB=1),
    "gemm_scalar_c": lambda: one("Gemm", (4, 6), 9, {"b": weights(6, 5), "c": np.float32(3)},
                                 ("x", "b", "c")),
    "matmul_add": lambda: make_model(
        [node("MatMul", ["x", "w"], ["a"]), node("Add", ["a", "b"])], {"x": S4},
        {"y": (2, 3, 4, 6)}, 13, {"w": weights(5, 6), "b": weights(6)}),
    # normalisation
    "batchnorm_2d_input": lambda: one(
        "BatchNormalization", (4, 6), 15, bn_params(6), ("x", "g", "b", "m", "v"),
        epsilon=1e-3),
    "batchnorm_opset6": lambda: one(
        "BatchNormalization", S4, 6, bn_params(3), ("x", "g", "b", "m", "v"), is_test=1),
    "lrn": lambda: one("LRN", (1, 7, 4, 4), 13, size=5, alpha=1e-3, beta=0.75, bias=2.0),
    "lrn_3": lambda: one("LRN", (1, 4, 3, 3), 9, size=3),
    # spatial means
    "reduce_mean_13": lambda: one("ReduceMean", S4, 13, axes=[2, 3]),
    "reduce_mean_13_no_keep": lambda: one("ReduceMean", S4, 13, axes=[-1, -2], keepdims=0),
    "reduce_mean_18_axis2": lambda: one("ReduceMean", S4, 18,
                                        {"axes": np.array([2], np.int64)}, ("x", "axes")),
    "reduce_max_13": lambda: one("ReduceMax", S4, 13, axes=[2, 3], keepdims=0),
    "reduce_max_18_axis3": lambda: one("ReduceMax", S4, 18, {"axes": np.array([-1])},
                                       ("x", "axes")),
    "reduce_mean_3d": lambda: one("ReduceMean", (2, 3, 5), 13, axes=[2], keepdims=0),
    # padding
    "pad_into_conv": lambda: make_model(
        [node("Pad", ["x", "pads"], ["p"]), node("Conv", ["p", "w"])], {"x": S4},
        {"y": (2, 4, 5, 6)}, 13,
        {"pads": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64), "w": weights(4, 3, 3, 3)}),
    "pad_zero_alone": lambda: make_model(
        [node("Pad", ["x"], ["p"], pads=[0, 0, 1, 0, 0, 0, 0, 2]), node("Relu", ["p"])],
        {"x": S4}, {"y": (2, 3, 5, 7)}, 9),
    "pad_reflect_9": lambda: one("Pad", S4, 9, mode="reflect", pads=[0, 0, 1, 2, 0, 0, 2, 1]),
    "pad_wrap_19": lambda: one("Pad", S4, 19, {"pads": np.array([0, 0, 1, 2, 0, 0, 2, 1])},
                               ("x", "pads"), mode="wrap"),
    "pad_edge_18_axes": lambda: one(
        "Pad", S4, 18, {"pads": np.array([2, 1, 0, 3], np.int64),
                        "axes": np.array([2, 3], np.int64)},
        ("x", "pads", "", "axes"), mode="edge"),
    # shapes
    "transpose_size1_dims": lambda: one("Transpose", (2, 1, 4, 3), 13, perm=[1, 0, 2, 3]),
    "channel_shuffle": lambda: make_model(
        [node("Reshape", ["x", "s5"], ["a"]), node("Transpose", ["a"], ["b"],
                                                   perm=[0, 2, 1, 3, 4]),
         node("Reshape", ["b", "s4"])], {"x": (2, 6, 3, 4)}, {"y": (2, 6, 3, 4)}, 13,
        {"s5": np.array([2, 3, 2, 3, 4]), "s4": np.array([2, 6, 3, 4])}),
    "softmax_over_transposed_axis": lambda: make_model(
        [node("Transpose", ["x"], ["a"], perm=[0, 3, 2, 1]),
         node("Softmax", ["a"], ["b"], axis=3), node("Transpose", ["b"], perm=[0, 3, 2, 1])],
        {"x": S4}, {"y": S4}, 11),
    "split_13": lambda: make_model(
        [node("Split", ["x", "sizes"], ["a", "b"], axis=1), node("Mul", ["b", "b"], ["c"]),
         node("Concat", ["c", "a"], axis=1)], {"x": (2, 6, 3, 3)}, {"y": (2, 6, 3, 3)}, 13,
        {"sizes": np.array([2, 4])}),
    "split_18_num_outputs": lambda: make_model(
        [node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3),
         node("Sum", ["a", "b", "c"])], {"x": (2, 6, 3, 3)}, {"y": (2, 2, 3, 3)}, 18),
    "slice_channels": lambda: one(
        "Slice", S4, 13, {"st": np.array([1, 0]), "en": np.array([3, 99]),
                          "ax": np.array([1, 3])}, ("x", "st", "en", "ax")),
    "squeeze_unsqueeze": lambda: make_model(
        [node("GlobalAveragePool", ["x"], ["a"]), node("Squeeze", ["a", "ax"], ["b"]),
         node("Unsqueeze", ["b", "ax2"])], {"x": S4}, {"y": (2, 1, 3)}, 13,
        {"ax": np.array([2, 3]), "ax2": np.array([1])}),
    "flatten_identity_dropout": lambda: make_model(
        [node("Identity", ["x"], ["a"]), node("Dropout", ["a", "r", "t"], ["b"]),
         node("Flatten", ["b"], axis=2)], {"x": S4}, {"y": (6, 20)}, 13,
        {"r": np.float32(0.5), "t": np.bool_(False)}),
    "concat_three": lambda: make_model(
        [node("Relu", ["x"], ["a"]), node("Concat", ["x", "a", "x"], axis=1)],
        {"x": S4}, {"y": (2, 9, 4, 5)}, 13),
    "cast_to_float": lambda: one("Cast", S4, 13, to=1),
}


def bn_params(c):
    rng = np.random.default_rng(3)
    return {"g": rng.uniform(0.5, 1.5, c).astype(np.float32), "b": weights(c),
            "m": weights(c, seed=4), "v": rng.uniform(0.5, 2, c).astype(np.float32)}


def fold_chain(opset):
    """A reshape to (batch, -1) computed from Shape -> Gather -> Unsqueeze -> Concat, a
    convolution weight from arithmetic on initializers, Cast, Slice and ConstantOfShape."""
    unsqueeze = node("Unsqueeze", ["n"], ["n1"], axes=[0]) if opset < 13 else \
        node("Unsqueeze", ["n", "zero"], ["n1"])
    nodes = [node("Shape", ["x"], ["s"]), const("idx", 0), node("Gather", ["s", "idx"], ["n"]),
             const("zero", [0]), unsqueeze, const("minus1", [-1]),
             node("Concat", ["n1", "minus1"], ["target"], axis=0),
             const("one", [1]),
             node("ConstantOfShape", ["one"], ["twos"],
                  value=numpy_helper.from_array(np.array([2], np.int32))),
             node("Cast", ["twos"], ["twos_f"], to=onnx.TensorProto.FLOAT),
             node("Mul", ["w0", "twos_f"], ["w1"]), node("Sub", ["w1", "w0"], ["w"]),
             node("Slice", ["bias0", "starts", "ends"], ["bias"]) if opset >= 10 else
             node("Slice", ["bias0"], ["bias"], starts=[1], ends=[5]),
             node("Conv", ["x", "w", "bias"], ["c"], pads=[1, 1, 1, 1]),
             node("Reshape", ["c", "target"])]
    inits = {"w0": weights(4, 3, 3, 3), "bias0": weights(6), "starts": np.array([1]),
             "ends": np.array([5])}
    return make_model(nodes, {"x": S4}, {"y": (2, 80)}, opset, inits)


@pytest.mark.parametrize("key", list(HAND))
def test_hand_built(key):
    model = HAND[key]()
    shapes = [tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
              for v in model.graph.input if v.name not in
              {t.name for t in model.graph.initializer}]
    assert_matches(model, inputs_for(key, shapes), what=key)


#: what some of them become in smelt
STRUCTURE = {
    "depth_to_space_dcr": ["ChannelShuffle", "PixelShuffle"],
    "depth_to_space_crd": ["PixelShuffle"],
    "softmax_11_axis1": ["Flatten", "Softmax", "View"],
    "softmax_13_axis1": ["Softmax"],
    "clip_6_relu6": ["ReLU6"], "clip_13_relu6": ["ReLU6"], "clip_9_min_only": ["ReLU"],
    "clip_9_attrs": ["Hardtanh"], "max_with_zero": ["ReLU"],
    "min_max_constants": ["Hardtanh", "Hardtanh"],
    "hard_sigmoid_torch": ["Hardsigmoid"],
    "hard_sigmoid_default": ["ScalarOp", "ScalarOp", "Hardtanh"],
    "sum_of_three": ["Add", "Add"],
    "per_channel_constants": ["ChannelAffine"] * 5 + ["ScalarOp"],
    "fold_shape_chain_9": ["Conv2d", "Flatten"], "fold_shape_chain_13": ["Conv2d", "Flatten"],
    "avgpool_global_by_pads": ["AdaptiveAvgPool2d"],
    "maxpool_edge_padding": ["Pad", "MaxPool2d"],
    "prelu_shared": ["LeakyReLU"],
    "matmul_add": ["Linear"],
    "pad_into_conv": ["Conv2d"],
    "pad_zero_alone": ["Conv2d", "ReLU"],
    "transpose_size1_dims": ["View"],
    "channel_shuffle": ["ChannelShuffle"],
    "softmax_over_transposed_axis": ["Softmax"],
    "batchnorm_opset6": ["BatchNorm2d"], "batchnorm_2d_input": ["ChannelAffine"],
}


@pytest.mark.parametrize("key", list(STRUCTURE))
def test_hand_built_structure(key):
    assert kinds(compiler.from_onnx(HAND[key]())) == STRUCTURE[key]


def test_pad_becomes_the_convolution_padding():
    conv = compiler.from_onnx(HAND["pad_into_conv"]()).nodes[0]
    assert conv.op.padding == (1, 2, 2, 1)     # ONNX pads: begins (H, W), then ends


def test_opset6_broadcasting():
    """Before opset 7, `broadcast=1` aligns the second operand from `axis` (no runtime or
    reference evaluator still implements it: the expectation is written out)."""
    b = weights(3)
    model = make_model([node("Add", ["x", "b"], ["a"], broadcast=1, axis=1),
                        node("Mul", ["a", "s"], broadcast=1)], {"x": S4}, {"y": S4}, 6,
                       {"b": b, "s": np.array([2.0], np.float32)})
    x = inputs_for("opset6", [S4])[0]
    assert_close(interp.run(compiler.from_onnx(model), x), (x + b[:, None, None]) * 2)


def test_dropout_in_training_mode():
    model = make_model([node("Dropout", ["x", "r", "t"])], {"x": S4}, {"y": S4}, 13,
                       {"r": np.float32(0.25), "t": np.bool_(True)})
    (drop,) = compiler.from_onnx(model).nodes
    assert drop.op.kind == "DropoutTrain" and drop.op.p == 0.25


def test_training_batchnorm_uses_batch_statistics():
    model = one("BatchNormalization", S4, 15, bn_params(3), ("x", "g", "b", "m", "v"),
                training_mode=1)
    (bn,) = compiler.from_onnx(model).nodes
    assert bn.op.batch_stats and not bn.op.update_stats


def test_compiled_hand_built_graphs():
    """A few hand-built graphs end to end (the rest run in the NumPy interpreter above)."""
    for key in ("depth_to_space_dcr", "fold_shape_chain_13", "maxpool_uneven_pads",
                "conv_transpose_uneven_pads", "pad_into_conv", "lrn", "channel_shuffle",
                "maxpool_edge_padding", "prelu_per_channel", "batchnorm_2d_input",
                "softmax_11_axis1", "softmax_over_transposed_axis", "split_13"):
        model = HAND[key]()
        xs = inputs_for(key, [tuple(d.dim_value for d in model.graph.input[0].type.tensor_type
                                    .shape.dim)])
        for a, b in zip(outputs(compiler.compile(model)(*xs)), reference(model, *xs)):
            assert_close(a, b, 1e-4, 1e-5, f"{key} compiled")


# --- what smelt cannot compile ------------------------------------------------------------------

def unsupported_model():
    """One of (almost) everything the importer refuses, with supported nodes between them and
    after them (a refused node's outputs keep the shapes ONNX infers, so its readers are
    checked too)."""
    nodes = [
        node("Relu", ["x"], ["r"], name="fine"),
        helper.make_node("Frobnicate", ["r"], ["a"], name="custom", domain="com.example"),
        node("Erf", ["r"], ["b"], name="erf"),
        node("Conv", ["x", "r"], ["c"], name="dynamic_weight"),
        node("Pad", ["x", "pads", "one"], ["d"], name="pad_one"),
        node("Transpose", ["x"], ["e"], name="transpose", perm=[0, 2, 3, 1]),
        node("Relu", ["e"], ["e2"], name="reads_transpose"),
        node("LRN", ["x"], ["f"], name="lrn_even", size=4),
        node("Resize", ["x", "", "scales"], ["g"], name="resize", mode="linear",
             coordinate_transformation_mode="asymmetric"),
        node("Flatten", ["x"], ["flat"], name="flatten"),
        node("Gemm", ["flat", "gw"], ["h"], name="gemm", transA=1),
        node("MaxPool", ["x"], ["i", "idx"], name="pool_indices", kernel_shape=[2, 2]),
        node("Relu", ["idx"], ["idx2"], name="reads_indices"),
        node("HardSigmoid", ["b"], ["j"], name="reads_erf"),
        node("Clip", ["j", "r"], ["k"], name="clip_dynamic_min"),
    ]
    graph = helper.make_graph(
        nodes, "unsupported", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, S4)],
        [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None)
         for o in ("a", "c", "d", "e2", "f", "g", "h", "i", "idx2", "k")],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
         numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1]), "pads"),
         numpy_helper.from_array(np.float32(1), "one"),
         numpy_helper.from_array(weights(2, 7), "gw")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                   helper.make_opsetid("com.example", 1)])


EXPECTED_PROBLEMS = [
    ("custom", "Frobnicate", "domain 'com.example'"),
    ("erf", "Erf", "operator Erf is not supported"),
    ("dynamic_weight", "Conv", "the weight (input 1) must be a constant"),
    ("pad_one", "Pad", "constant padding with 1.0"),
    ("transpose", "Transpose", "perm=[0, 2, 3, 1]"),
    ("lrn_even", "LRN", "size=4"),
    ("resize", "Resize", "coordinate_transformation_mode='asymmetric'"),
    ("gemm", "Gemm", "transA=1"),
    ("pool_indices", "MaxPool", "output 1 ('idx') is not supported"),
    ("clip_dynamic_min", "Clip", "min (input 1) must be a constant"),
]


def test_every_unsupported_part_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "unsupported.onnx"
    onnx.save(unsupported_model(), str(path))
    report = compiler.check(str(path))
    assert not report.ok
    found = [(p.node, p.op) for p in report.problems]
    assert found == [(node, op) for node, op, _ in EXPECTED_PROBLEMS]
    for problem, (_, _, reason) in zip(report.problems, EXPECTED_PROBLEMS):
        assert reason in problem.reason
    assert "10 unsupported" in str(report) and "pad_one" in str(report)
    # from_onnx and compile refuse with the same list, before anything is planned or built
    from compiler import driver
    monkeypatch.setattr(driver, "make_plan", lambda *a, **k: pytest.fail("planned"))
    for call in (lambda: compiler.from_onnx(path), lambda: compiler.compile(str(path))):
        with pytest.raises(compiler.UnsupportedModelError) as error:
            call()
        assert [(p.node, p.op) for p in error.value.problems] == found
        assert isinstance(error.value, compiler.SmeltError)
        assert "the model has 10 unsupported parts" in str(error.value)


def test_pool_without_an_equivalent_is_refused():
    """Counting padding, uneven pads change the divisor of the last window: no smelt pooling
    divides alike."""
    model = one("AveragePool", (1, 2, 7, 8), 11, kernel_shape=[3, 3], strides=[2, 2],
                auto_pad="SAME_UPPER", count_include_pad=1)
    (problem,) = compiler.check(model).problems
    assert "pads [1, 0, 1, 1]" in problem.reason and "no smelt pooling" in problem.reason


def test_opsets_before_6_are_refused_as_a_whole():
    model = make_model([node("Reshape", ["x"], shape=[2, 60])], {"x": S4}, {"y": (2, 60)}, 3)
    (problem,) = compiler.check(model).problems
    assert (problem.node, problem.op) == ("(model)", "opset") and "opset 3" in problem.reason


def test_supported_model_checks_ok():
    assert compiler.check(HAND["channel_shuffle"]()).ok


# --- input shapes -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dynamic_batch_model():
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.fc = torch.nn.Linear(4 * 6 * 6, 5)

        def forward(self, x):
            y = torch.relu(self.conv(x))
            return self.fc(y.view(y.size(0), -1))    # Shape -> Gather -> ... -> Reshape

    torch.manual_seed(0)
    return export(Net().eval(), (2, 3, 6, 6), 13, dynamic_axes={"x": {0: "batch"}})


def test_symbolic_batch_is_fixed_by_input_shape(dynamic_batch_model):
    with pytest.raises(ValueError, match=r"'x' \(batchx3x6x6\).*input_shape"):
        compiler.from_onnx(dynamic_batch_model)
    assert compiler.check(dynamic_batch_model).ok        # checking needs no shapes
    x = inputs_for("dynamic", [(5, 3, 6, 6)])[0]
    graph = compiler.from_onnx(dynamic_batch_model, input_shape=(5, 3, 6, 6))
    assert_close(interp.run(graph, x), reference(dynamic_batch_model, x)[0])
    m = compiler.compile(dynamic_batch_model, (5, 3, 6, 6))
    assert_close(m(x), reference(dynamic_batch_model, x)[0])


def test_input_shape_must_agree_with_the_file(dynamic_batch_model):
    with pytest.raises(ValueError, match=r"'x' is batchx3x6x6 in the file"):
        compiler.from_onnx(dynamic_batch_model, input_shape=(5, 3, 7, 6))
    with pytest.raises(ValueError, match="1 input"):
        compiler.from_onnx(dynamic_batch_model, input_shape=[(1, 3, 6, 6), (1, 3, 6, 6)])


# --- names, state, optional dependency ------------------------------------------------------------

def test_names_come_from_the_file():
    model = HAND["pad_into_conv"]()
    model.graph.node[1].name = "stem/conv 1"
    m = compiler.compile(model)
    assert m.plan.kernels[0].node.name == "stem/conv 1"
    assert "stem" in m.kernels[0].name and "conv" in m.kernels[0].name
    assert set(m.state_dict()) == {"w"}           # the file's initializer, by its name


def test_import_compiler_does_not_import_onnx():
    code = "import sys, compiler; print(sorted(m for m in ('onnx', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.stdout.strip() == "[]"


# --- files shipped with the onnx package ----------------------------------------------------------

def data_sets(kind: str) -> list[str]:
    return sorted(glob.glob(os.path.join(DATA, kind, "*")))


@pytest.mark.parametrize("path", data_sets("pytorch-converted") + data_sets("pytorch-operator") +
                         data_sets("simple"), ids=os.path.basename)
def test_onnx_backend_models(path):
    """Every small model of onnx's backend tests is either compiled to its expected outputs (in
    the NumPy interpreter) or refused with its problems listed, never anything else."""
    model = onnx.load(os.path.join(path, "model.onnx"))
    report = compiler.check(model)
    if not report.ok:
        with pytest.raises(compiler.UnsupportedModelError) as error:
            compiler.from_onnx(model)
        assert error.value.problems == report.problems
        return
    data = os.path.join(path, "test_data_set_0")
    xs = [numpy_helper.to_array(onnx.load_tensor(f))
          for f in sorted(glob.glob(os.path.join(data, "input_*.pb")))]
    want = [numpy_helper.to_array(onnx.load_tensor(f))
            for f in sorted(glob.glob(os.path.join(data, "output_*.pb")))]
    got = outputs(interp.run(compiler.from_onnx(model), *xs))
    for a, b in zip(got, want):
        assert_close(a, b, 1e-4, 1e-5, os.path.basename(path))


#: the onnx package's "light" real models (caffe2 conversions at 224x224 with constant weights)
#: that fit this machine; AlexNet, ZFNet and VGG-19 hold 0.2-0.6 GB of weights
LIGHT = ["squeezenet", "shufflenet", "inception_v1", "inception_v2", "resnet50", "densenet121"]
#: those compiled and run for caffe2's patterns: LRN and uneven pool pads (Inception v1), a
#: BatchNorm then per-channel Mul and Add (Inception v2), the channel shuffle and Sum (ShuffleNet)
LIGHT_RUN = ["shufflenet", "inception_v1", "inception_v2"]


def light_model(name: str, seed: int = 0):
    """The model with each constant weight (a ConstantOfShape of one value) replaced by random
    values of its shape, so that outputs tell architectures apart."""
    model = onnx.load(os.path.join(DATA, "light", f"light_{name}.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    rng = np.random.default_rng(seed)
    kept = []
    for n in model.graph.node:
        if n.op_type != "ConstantOfShape":
            kept.append(n)
            continue
        shape = tuple(int(d) for d in inits[n.input[0]])
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 0
        value = rng.uniform(-1, 1, shape) * np.sqrt(3 / fan_in) if fan_in else \
            rng.uniform(0.5, 1.5, shape)          # biases, BatchNorm scales and variances
        model.graph.initializer.append(numpy_helper.from_array(value.astype(np.float32),
                                                               n.output[0]))
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


@pytest.mark.parametrize("name", LIGHT)
def test_onnx_light_models_import(name):
    model = onnx.load(os.path.join(DATA, "light", f"light_{name}.onnx"))
    assert compiler.check(model).ok
    graph = compiler.from_onnx(model)
    convs = sum(n.op_type == "Conv" for n in model.graph.node)
    assert kinds(graph).count("Conv2d") == convs
    assert graph.nodes[-1].shape[:2] == (1, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_RUN)
def test_onnx_light_models_run(name):
    model = light_model(name)
    x = inputs_for(name, [(1, 3, 224, 224)])[0]
    got, want = compiler.compile(model)(x), reference(model, x)[0]
    assert_close(got, want, 1e-3, 1e-5, name)
    assert np.std(want) > 1e-4               # the random weights make a telling output


# --- torchvision's architectures (tests/zoo.py) through their ONNX export ----------------------

#: PyTorch exports AdaptiveAvgPool2d only where the output size divides the input's: VGG's
#: 7x7 and AlexNet's 6x6 pools need a 224x224 input
ZOO_SHAPES = {"vgg11_bn": (1, 3, 224, 224), "alexnet": (1, 3, 224, 224)}


def zoo_names() -> list[str]:
    try:
        from . import zoo
    except ImportError:                      # no torch
        return []
    return list(zoo.ZOO)


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo_names())
def test_zoo_through_onnx(name):
    torch = pytest.importorskip("torch")
    from . import zoo
    net = zoo.build(name)
    _, shape, rtol = zoo.ZOO[name]
    shape = ZOO_SHAPES.get(name, shape)
    model = export(net, shape, 17)
    x = inputs_for(name, [shape])[0]
    y = compiler.compile(model)(x)
    with torch.no_grad():
        assert_close(y, net(torch.from_numpy(x)).numpy(), rtol, 1e-5, f"{name} vs PyTorch")
    assert_close(y, reference(model, x)[0], rtol, 1e-5, f"{name} vs ONNX Runtime")


@pytest.mark.parametrize("name, op", [("mobilenet_v3_small", "Hardswish"),
                                      ("efficientnet_b0", "SiLU"),
                                      ("shufflenet_v2_x1_0", "ChannelShuffle")])
def test_zoo_at_opset_9_imports(name, op):
    """Opset 9 has no HardSwish: PyTorch exports x * HardSigmoid(x), as it exports SiLU as
    x * Sigmoid(x) at every opset; both become one op again. Chunks are Splits."""
    pytest.importorskip("torch")
    from . import zoo
    graph = compiler.from_onnx(export(zoo.build(name), zoo.ZOO[name][1], 9))
    assert op in kinds(graph)


def test_exported_resnet18_plans_like_the_hand_written_one(resnet18_plan):
    """ResNet-18 from its ONNX file runs the kernels the compiler.nn ResNet-18 runs: the same
    families and shapes, kernel by kernel (the export folds BatchNorm into the convolutions
    itself, so the kernels list fewer layers)."""
    pytest.importorskip("torch")
    from compiler.planner import plan
    from . import zoo
    net = zoo.ZOO["resnet18"][0]().eval()          # torchvision's, 1000 classes
    imported = plan(compiler.from_onnx(export(net, (1, 3, 224, 224), 17)))

    def summary(p):
        return [(k.family, k.out_shape) for k in p.kernels]
    assert summary(imported) == summary(resnet18_plan)
