"""Models for tests/test_from_onnx.py: small torch.nn networks that together export every
operator the ONNX importer maps, the means to export them at an opset, build graphs by hand
and run ONNX references."""
from __future__ import annotations

import io
import warnings

import numpy as np

NEWEST = "newest"        # the newest opset the installed onnx knows (via its version converter)
#: the newest opset PyTorch's TorchScript exporter writes
TORCH_MAX_OPSET = 23


def torch_net(name: str):
    """A torch.nn module of NETS (seeded), with its BatchNorms randomised, in eval mode."""
    import torch
    torch.manual_seed(0)
    return randomize(build(name))


def build(name: str):
    import torch
    from torch import nn
    import torch.nn.functional as F

    class Activations(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.acts = nn.ModuleList([nn.ReLU6(), nn.Hardswish(), nn.ELU(0.5), nn.SELU(),
                                       nn.LeakyReLU(0.2), nn.Hardtanh(-2.0, 2.0), nn.SiLU(),
                                       nn.Hardsigmoid(), nn.Tanh(), nn.Sigmoid()])

        def forward(self, x):
            x = self.bn(self.conv(x))
            for act in self.acts:
                x = act(x) * 2.0 - 1.0
            return F.softmax(x.clamp(min=0), dim=1)

    class Pools(nn.Module):
        def forward(self, x):
            return (F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
                    F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                    F.avg_pool2d(x, 2, 2, 1, count_include_pad=True),
                    F.max_pool2d(x, 3, 1, 1, dilation=2), F.adaptive_max_pool2d(x, 1),
                    F.adaptive_avg_pool2d(x, 1), x.mean((2, 3)), x.mean(3, keepdim=True))

    class Residual(nn.Module):           # residual add, squeeze-and-excitation, per-channel ops
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=4)
            self.fc1, self.fc2 = nn.Conv2d(8, 4, 1), nn.Conv2d(4, 8, 1)
            self.register_buffer("gain", torch.linspace(0.5, 2.0, 8).reshape(1, 8, 1, 1))

        def forward(self, x):
            x = F.relu(self.conv1(x))
            s = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
            y = self.conv2(x) * s + x
            return (y - x) / 2 * self.gain + (self.gain - y) - 1 / (y * y + 1)

    class Shuffle(nn.Module):            # ShuffleNetV2's split, shuffle and concatenation
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1, groups=4)

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            x = torch.cat([a, F.relu(self.conv(b))], 1)
            n, c, h, w = x.shape
            x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
            return x[:, 2:6] * 2

    class Resizing(nn.Module):
        def __init__(self, modes):
            super().__init__()
            self.modes = modes

        def forward(self, x):
            outs = []
            for mode, kwargs in self.modes:
                outs.append(F.interpolate(x, mode=mode, **kwargs))
            return tuple(outs)

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 16, 3, stride=2, padding=1)
            self.row = nn.Linear(8, 5)
            self.fc1, self.fc2 = nn.Linear(16 * 8 * 8, 12), nn.Linear(12, 6)
            self.drop = nn.Dropout(0.3)

        def forward(self, x):
            x = self.conv(x)
            rows = self.row(x)                         # Linear on 4-D: MatMul + Add
            y = self.fc2(self.drop(F.relu(self.fc1(torch.flatten(x, 1)))))
            return F.softmax(y, 1), rows

    class Padding(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.reflect = nn.Conv2d(3, 4, 3, padding=2, padding_mode="reflect")

        def forward(self, x):
            a = self.conv(F.pad(x, (1, 2, 0, 1)))           # a zero Pad into the conv
            b = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 2)     # a zero Pad on its own
            c = F.pad(x, (2, 1, 1, 2), mode="replicate")
            return a, b, c, self.reflect(x)

    class Transposed(nn.Module):
        def __init__(self):
            super().__init__()
            self.up1 = nn.ConvTranspose2d(3, 6, 3, stride=2, padding=1, output_padding=1)
            self.up2 = nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1, groups=2, bias=False)
            self.up3 = nn.ConvTranspose2d(4, 2, 3, dilation=2)

        def forward(self, x):
            return self.up3(F.leaky_relu(self.up2(torch.tanh(self.up1(x)))))

    class OneD(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(3, 6, 3, padding=1, stride=2)
            self.bn = nn.BatchNorm1d(6)
            self.up = nn.ConvTranspose1d(6, 4, 3, stride=2)

        def forward(self, x):
            x = x.flatten(2)                                 # N x C x (H * W)
            y = F.max_pool1d(F.relu(self.bn(self.conv(x))), 2)
            return self.up(F.avg_pool1d(y, 3, 1, 1))

    class Norms(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)

        def forward(self, x):             # a BatchNorm with no convolution to fold into
            return self.bn(F.relu(self.conv(x)) + 1.0)

    class DepthToSpace(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 12, 3, padding=1)
            self.shuffle = nn.PixelShuffle(2)

        def forward(self, x):
            return self.shuffle(self.conv(x))

    interpolations = [("nearest", {"scale_factor": 2}), ("nearest", {"size": (11, 21)}),
                      ("bilinear", {"scale_factor": 2, "align_corners": False}),
                      ("bilinear", {"size": (9, 13), "align_corners": True}),
                      ("bilinear", {"scale_factor": 0.5, "align_corners": False}),
                      ("bicubic", {"scale_factor": 2, "align_corners": False}),
                      ("bicubic", {"size": (7, 9), "align_corners": True})]
    return {"activations": Activations, "pools": Pools, "residual": Residual,
            "shuffle": Shuffle, "nearest": lambda: Resizing(interpolations[:2]),
            "interpolate": lambda: Resizing(interpolations[2:]), "heads": Heads,
            "padding": Padding, "transposed": Transposed, "one_d": OneD, "norms": Norms,
            "depth_to_space": DepthToSpace}[name]()


#: torch net -> (input shape, the oldest opset PyTorch exports it to faithfully)
NETS = {
    "activations": ((2, 3, 12, 12), 9),
    "pools": ((2, 3, 13, 11), 11),          # dilated and ceil-mode pools need opset 10+
    "residual": ((2, 3, 10, 10), 9),
    "shuffle": ((2, 8, 6, 6), 11),          # Split into equal parts: 11+
    "nearest": ((1, 2, 5, 7), 9),
    "interpolate": ((1, 2, 5, 7), 11),      # before 11, linear resizing is not PyTorch's
    "heads": ((2, 3, 16, 16), 9),
    "padding": ((1, 3, 9, 8), 11),
    "transposed": ((1, 3, 5, 6), 9),
    "one_d": ((2, 3, 4, 6), 9),
    "norms": ((2, 3, 7, 7), 9),
    "depth_to_space": ((1, 3, 4, 5), 9),
}


def randomize(module, seed: int = 0):
    """Non-trivial BatchNorm statistics and affine parameters, eval mode."""
    import torch
    rng = np.random.default_rng(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.from_numpy(rng.standard_normal(c).astype(np.float32)))
                m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2, c).astype(np.float32)))
                m.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, c).astype(np.float32)))
                m.bias.copy_(torch.from_numpy(rng.standard_normal(c).astype(np.float32)))
    return module.eval()


def export(module, shape, opset, **kwargs):
    """`module` as an ONNX ModelProto from PyTorch's TorchScript exporter at `opset`; NEWEST
    exports at the exporter's newest and converts with onnx's version converter."""
    import onnx
    import torch
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, torch.zeros(shape), f, dynamo=False, input_names=["x"],
                          opset_version=TORCH_MAX_OPSET if opset == NEWEST else opset, **kwargs)
    model = onnx.load_from_string(f.getvalue())
    if opset == NEWEST:
        from onnx import version_converter
        model = version_converter.convert_version(model, onnx.defs.onnx_opset_version())
    return model


def make_model(nodes, inputs, outputs, opset: int, initializers: dict | None = None):
    """An ONNX model from onnx.helper nodes; inputs/outputs map names to shapes (None: none)."""
    from onnx import TensorProto, helper, numpy_helper

    def info(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    graph = helper.make_graph(
        nodes, "hand_built", [info(k, v) for k, v in inputs.items()],
        [info(k, v) for k, v in outputs.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def reference(model, *xs):
    """The model's outputs from ONNX Runtime, or from onnx's reference evaluator where ONNX
    Runtime is missing or does not run the model (opset 6's legacy operators)."""
    names = [i.name for i in model.graph.input
             if i.name not in {t.name for t in model.graph.initializer}]
    feeds = dict(zip(names, xs))
    try:
        import onnxruntime
        session = onnxruntime.InferenceSession(model.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
    except Exception:                  # ImportError, or NOT_IMPLEMENTED for old operators
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(model).run(None, feeds)
    return session.run(None, feeds)
