"""The public contract of API.md sections 1-3 as seen from the front end: constructor
signatures and defaults, argument rejection, state_dict layout and loading, initialisation,
seeding, modes, shape errors, compile() inputs and the graph listing."""
from __future__ import annotations

import inspect
import math
from collections import OrderedDict

import numpy as np
import pytest

import compiler
from compiler import nn
from compiler.errors import ShapeError, UnsupportedArgumentError

REQUIRED_LAYERS = ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AvgPool2d", "Dropout2d",
                   "Linear", "ConvTranspose2d", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
                   "Flatten", "Upsample", "ELU", "SELU", "PixelShuffle", "AdaptiveAvgPool2d",
                   "Identity", "Sequential", "Module", "ModuleList"]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def params_of(cls) -> list[tuple]:
    parameters = inspect.signature(cls.__init__).parameters.values()
    return [(p.name, p.kind, p.default) for p in parameters]


# --- 1. signatures and defaults ------------------------------------------------------------

def test_every_required_layer_exists():
    missing = [name for name in REQUIRED_LAYERS if not isinstance(getattr(nn, name, None), type)]
    assert not missing


@pytest.mark.parametrize("name", REQUIRED_LAYERS)
def test_signature_matches_torch(torch, name):
    """Same parameter names, order, kinds (positional / keyword-only / *args) and defaults."""
    assert params_of(getattr(nn, name)) == params_of(getattr(torch.nn, name))


# attributes a PyTorch user reads back, per layer, for the minimal constructor call
DEFAULTS = [
    ("Conv2d", (3, 8, 3), ["in_channels", "out_channels", "kernel_size", "stride", "padding",
                           "dilation", "groups", "padding_mode"]),
    ("ConvTranspose2d", (3, 8, 3), ["in_channels", "out_channels", "kernel_size", "stride",
                                    "padding", "output_padding", "dilation", "groups",
                                    "padding_mode"]),
    ("BatchNorm2d", (8,), ["num_features", "eps", "momentum", "affine", "track_running_stats"]),
    ("Linear", (5, 7), ["in_features", "out_features"]),
    ("MaxPool2d", (2,), ["kernel_size", "stride", "padding", "dilation", "ceil_mode",
                         "return_indices"]),
    ("AvgPool2d", (3,), ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                         "divisor_override"]),
    ("AdaptiveAvgPool2d", ((2, 3),), ["output_size"]),
    ("Dropout2d", (), ["p", "inplace"]),
    ("ReLU", (), ["inplace"]),
    ("LeakyReLU", (), ["negative_slope", "inplace"]),
    ("ELU", (), ["alpha", "inplace"]),
    ("SELU", (), ["inplace"]),
    ("Softmax", (), ["dim"]),
    ("Flatten", (), ["start_dim", "end_dim"]),
    ("PixelShuffle", (2,), ["upscale_factor"]),
    ("Upsample", (None, 2), ["size", "scale_factor", "mode", "align_corners"]),
]


def comparable(value):
    """torch keeps `2` where smelt keeps `(2, 2)` for pools and `2.0` vs `(2.0, 2.0)` for
    Upsample; both mean the same, so compare them as pairs."""
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    if isinstance(value, (tuple, list)):
        return tuple(float(v) if v is not None else None for v in value)
    return value


@pytest.mark.parametrize("name,args,attrs", DEFAULTS, ids=[d[0] for d in DEFAULTS])
def test_defaults_match_torch(torch, name, args, attrs):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    for attr in attrs:
        assert comparable(getattr(ours, attr)) == comparable(getattr(theirs, attr)), attr


def test_defaults_without_torch():
    conv = nn.Conv2d(3, 8, 3)
    assert (conv.stride, conv.padding, conv.dilation, conv.groups) == ((1, 1), (0, 0), (1, 1), 1)
    assert conv.weight.shape == (8, 3, 3, 3) and conv.bias.shape == (8,)
    bn = nn.BatchNorm2d(4)
    assert (bn.eps, bn.momentum, bn.affine, bn.track_running_stats) == (1e-5, 0.1, True, True)
    assert nn.LeakyReLU().negative_slope == 0.01 and nn.ELU().alpha == 1.0
    assert nn.Dropout2d().p == 0.5 and nn.Softmax().dim is None
    assert (nn.Flatten().start_dim, nn.Flatten().end_dim) == (1, -1)
    assert tuple(nn.MaxPool2d(3).stride) in ((3, 3), 3)
    assert nn.Upsample(scale_factor=2).mode == "nearest"
    assert nn.Linear(4, 5, bias=False).bias is None


def test_identity_accepts_anything():
    nn.Identity(54, unused_argument_one=0.1)


# --- 1. unsupported argument values are rejected when the layer is built ---------------------

REJECTED = [
    # (constructor, layer, argument, a fragment of what is supported)
    (lambda: nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"), "ConvTranspose2d",
     "padding_mode", "'zeros'"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, padding="same"), "ConvTranspose2d", "padding", "int"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=2), "ConvTranspose2d",
     "output_padding", "smaller than"),
    (lambda: nn.MaxPool2d(2, return_indices=True), "MaxPool2d", "return_indices", "False"),
    (lambda: nn.MaxPool2d(2, padding=2), "MaxPool2d", "padding", "half"),
    (lambda: nn.Upsample(scale_factor=2, mode="trilinear"), "Upsample", "mode", "'bicubic'"),
    (lambda: nn.Upsample(scale_factor=2, mode="linear"), "Upsample", "mode", "'nearest'"),
    (lambda: nn.Upsample(scale_factor=2, align_corners=True), "Upsample", "align_corners",
     "bilinear"),
    (lambda: nn.Upsample(scale_factor=2, mode="nearest", align_corners=False), "Upsample",
     "align_corners", "bilinear"),
    (lambda: nn.Upsample(), "Upsample", "size", "exactly one"),
    (lambda: nn.Upsample(size=4, scale_factor=2), "Upsample", "size", "exactly one"),
    (lambda: nn.Upsample(size=4, recompute_scale_factor=True), "Upsample",
     "recompute_scale_factor", "scale_factor"),
    (lambda: nn.Upsample(scale_factor=-1.0), "Upsample", "scale_factor", "> 0"),
    (lambda: nn.Dropout2d(p=1.5), "Dropout2d", "p", "between 0 and 1"),
    (lambda: nn.Dropout2d(-0.1), "Dropout2d", "p", "between 0 and 1"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), "Conv2d", "groups", "divisible"),
    (lambda: nn.Conv2d(6, 6, 3, groups=4), "Conv2d", "groups", "divisible"),
    (lambda: nn.Conv2d(3, 3, 3, padding_mode="mirror"), "Conv2d", "padding_mode", "'circular'"),
    (lambda: nn.Conv2d(3, 3, 3, padding="full"), "Conv2d", "padding", "'same'"),
    (lambda: nn.Conv2d(3, 3, 3, stride=2, padding="same"), "Conv2d", "padding", "stride 1"),
    (lambda: nn.Conv2d(3, 3, 0), "Conv2d", "kernel_size", ">= 1"),
    (lambda: nn.Conv2d(3, 3, 3, stride=(1, 0)), "Conv2d", "stride", ">= 1"),
    (lambda: nn.Conv2d(3, 3, 3, padding=-1), "Conv2d", "padding", ">= 0"),
    (lambda: nn.Conv2d(3, 3, 3, device="cuda"), "Conv2d", "device", "cpu"),
    (lambda: nn.Linear(3, 4, dtype="float64"), "Linear", "dtype", "float32"),
    (lambda: nn.BatchNorm2d(0), "BatchNorm2d", "num_features", ">= 1"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), "AvgPool2d", "divisor_override", "zero"),
    (lambda: nn.AdaptiveAvgPool2d(0), "AdaptiveAvgPool2d", "output_size", ">= 1"),
    (lambda: nn.PixelShuffle(0), "PixelShuffle", "upscale_factor", ">= 1"),
]


@pytest.mark.parametrize("make,layer,arg,supported", REJECTED,
                         ids=[f"{r[1]}-{r[2]}-{i}" for i, r in enumerate(REJECTED)])
def test_unsupported_value_rejected_at_construction(make, layer, arg, supported):
    with pytest.raises(UnsupportedArgumentError) as info:
        make()
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith(f"{layer}:"), message
    assert arg in message and supported in message, message


@pytest.mark.parametrize("make,layer,arg", [
    (lambda: nn.Conv2d(3, 3, "3"), "Conv2d", "kernel_size"),
    (lambda: nn.Conv2d(3.0, 3, 3), "Conv2d", "in_channels"),
    (lambda: nn.Softmax(dim="x"), "Softmax", "dim"),
    (lambda: nn.ReLU(inplace="yes"), "ReLU", "inplace"),
    (lambda: nn.LeakyReLU("big"), "LeakyReLU", "negative_slope"),
    (lambda: nn.Upsample(scale_factor="2"), "Upsample", "scale_factor"),
])
def test_wrong_argument_type_names_layer_and_argument(make, layer, arg):
    with pytest.raises(TypeError) as info:
        make()
    assert layer in str(info.value) and arg in str(info.value)


def test_torch_rejects_the_same_values(torch):
    """Where PyTorch refuses a value at construction, so do we (and vice versa it is ours)."""
    for make in (lambda m: m.ConvTranspose2d(4, 4, 3, padding_mode="reflect"),
                 lambda m: m.Dropout2d(p=1.5), lambda m: m.Conv2d(4, 6, 3, groups=4),
                 lambda m: m.Conv2d(3, 3, 3, stride=2, padding="same")):
        with pytest.raises(ValueError):
            make(torch.nn)
        with pytest.raises(ValueError):
            make(nn)


# --- 1. state_dict and load_state_dict -------------------------------------------------------

def nested_model(n):
    """The same architecture in compiler.nn or torch.nn: nested containers, every kind of
    parameter and buffer, BatchNorm without affine, without running statistics and without bias."""

    class Block(n.Module):
        def __init__(self, c):
            super().__init__()
            self.conv = n.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn = n.BatchNorm2d(c)
            self.act = n.ReLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x))) + x

    class Net(n.Module):
        def __init__(self):
            super().__init__()
            self.features = n.Sequential(OrderedDict([
                ("stem", n.Conv2d(3, 8, 3, padding=1)),
                ("block", Block(8)),
                ("plain", n.BatchNorm2d(8, affine=False)),
                ("pool", n.MaxPool2d(2)),
                ("batchonly", n.BatchNorm2d(8, track_running_stats=False)),
                ("drop", n.Dropout2d(0.2)),
            ]))
            self.up = n.ConvTranspose2d(8, 4, 2, stride=2, groups=2, bias=False)
            self.nobias = n.BatchNorm2d(4, bias=False)
            self.blocks = n.ModuleList([Block(4), Block(4)])
            self.head = n.Sequential(n.AdaptiveAvgPool2d(1), n.Flatten(), n.Linear(4, 10),
                                     n.Softmax(dim=1))

        def forward(self, x):
            x = self.nobias(self.up(self.features(x)))
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    return Net()


def test_state_dict_keys_shapes_dtypes_match_torch(torch):
    ours = nested_model(nn).state_dict()
    theirs = nested_model(torch.nn).state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert ours[key].shape == tuple(value.shape), key
        assert ours[key].dtype == value.numpy().dtype, key
    assert "features.block.bn.num_batches_tracked" in ours
    assert "features.plain.weight" not in ours and "features.plain.running_mean" in ours
    assert "features.batchonly.weight" in ours and "features.batchonly.running_mean" not in ours
    assert "nobias.weight" in ours and "nobias.bias" not in ours


def test_state_dict_keys_without_torch():
    keys = list(nested_model(nn).state_dict())
    assert keys[:3] == ["features.stem.weight", "features.stem.bias",
                        "features.block.conv.weight"]
    assert "blocks.1.bn.running_var" in keys and "head.2.weight" in keys
    assert all(not k.startswith(".") and ".." not in k for k in keys)


def test_load_torch_state_dict(torch):
    torch.manual_seed(0)
    source = nested_model(torch.nn)
    with torch.no_grad():
        for m in source.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m.track_running_stats:
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.num_batches_tracked.fill_(7)
    ours = nested_model(nn)
    result = ours.load_state_dict({k: v.numpy() for k, v in source.state_dict().items()})
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    for key, value in source.state_dict().items():
        loaded = ours.state_dict()[key]
        np.testing.assert_array_equal(loaded, value.numpy(), err_msg=key)
        assert loaded.dtype == value.numpy().dtype, key


def test_loaded_torch_weights_give_torch_numbers(torch):
    """End to end: torch weights in, the same output out (eval conv + bn + relu + residual)."""
    def build(n):
        class Net(n.Module):
            def __init__(self):
                super().__init__()
                self.conv = n.Conv2d(3, 3, 3, padding=1)
                self.bn = n.BatchNorm2d(3)
                self.act = n.ReLU()

            def forward(self, x):
                return self.act(self.bn(self.conv(x))) + x
        return Net()

    torch.manual_seed(1)
    source = build(torch.nn).eval()
    with torch.no_grad():
        source.bn.running_mean.uniform_(-1, 1)
        source.bn.running_var.uniform_(0.5, 2)
    ours = build(nn).eval()
    ours.load_state_dict({k: v.numpy() for k, v in source.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 5), dtype=np.float32)
    with torch.no_grad():
        expected = source(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(compiler.compile(ours, x.shape)(x), expected, rtol=1e-4, atol=1e-5)


def small_model():
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())


def test_load_state_dict_accepts_anything_array_like():
    model = small_model()
    sd = {k: np.asarray(v).tolist() for k, v in small_model().state_dict().items()}
    sd["0.bias"] = (1.0, 2.0, 3.0)                       # a tuple, float64 values
    model.load_state_dict(sd)
    assert model[0].bias.dtype == np.float32
    np.testing.assert_array_equal(model[0].bias, [1, 2, 3])
    assert model[1].num_batches_tracked.dtype == np.int64


@pytest.mark.parametrize("edit,words", [
    (lambda sd: sd.pop("1.running_var"), ["Missing", "1.running_var"]),
    (lambda sd: sd.__setitem__("1.extra", np.zeros(3)), ["Unexpected", "1.extra"]),
    (lambda sd: sd.__setitem__("0.weight", np.zeros((3, 2, 3, 2))),
     ["0.weight", "(3, 2, 3, 2)", "(3, 2, 3, 3)"]),
    (lambda sd: sd.__setitem__("1.num_batches_tracked", np.zeros(2)), ["num_batches_tracked"]),
], ids=["missing", "unexpected", "misshaped", "misshaped-buffer"])
def test_load_state_dict_rejects_and_changes_nothing(edit, words):
    model = small_model()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    sd = {k: v + 1 for k, v in model.state_dict().items()}
    edit(sd)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    for word in words:
        assert word in str(info.value)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=f"{key} changed by a failed load")


def test_load_state_dict_non_strict_reports_keys():
    model = small_model()
    sd = dict(model.state_dict())
    del sd["0.bias"]
    sd["zzz"] = np.zeros(1)
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["zzz"]


def test_state_dict_is_the_parameters_under_torch_names():
    model = small_model()
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                        "1.running_var", "1.num_batches_tracked"]
    assert all(v.dtype == np.float32 for k, v in sd.items() if "num_batches" not in k)
    assert sd["1.num_batches_tracked"].shape == () and sd["1.num_batches_tracked"] == 0


# --- 1. initialisation and seeding -------------------------------------------------------------

def fan_in_bound(torch_module) -> float:
    import torch
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(torch_module.weight)
    return 1.0 / math.sqrt(fan_in)


INIT_LAYERS = [
    # (layer, args, fan_in): torch's default is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both
    # weight and bias (kaiming_uniform with a=sqrt(5) reduces to that bound)
    ("Conv2d", (16, 32, 3), dict(groups=2), 8 * 9),
    ("Linear", (300, 20), {}, 300),
    ("ConvTranspose2d", (8, 12, 3), dict(groups=4), 3 * 9),   # fan_in from weight.size(1)
    ("Conv2d", (12, 12, 3), dict(groups=12), 9),               # depthwise
]


@pytest.mark.parametrize("name,args,kwargs,fan_in", INIT_LAYERS,
                         ids=[f"{l[0]}{l[1]}" for l in INIT_LAYERS])
def test_default_init_is_torch_uniform(name, args, kwargs, fan_in):
    compiler.manual_seed(1234)
    layer = getattr(nn, name)(*args, **kwargs)
    bound = 1.0 / math.sqrt(fan_in)
    for param in (layer.weight, layer.bias):
        assert param.dtype == np.float32
        top = np.abs(param).max()
        assert top <= bound * (1 + 1e-6)
        # a uniform over the whole range: reaches near the bound, half the mass below bound/2
        assert top > bound * (0.9 if param.size > 100 else 0.5)
    w = layer.weight.ravel()
    assert abs(np.mean(np.abs(w) < bound / 2) - 0.5) < 0.1
    assert abs(w.std() - bound / math.sqrt(3)) < 0.15 * bound / math.sqrt(3)


@pytest.mark.parametrize("name,args,kwargs,fan_in", INIT_LAYERS,
                         ids=[f"{l[0]}{l[1]}" for l in INIT_LAYERS])
def test_init_bound_is_torchs(torch, name, args, kwargs, fan_in):
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert math.isclose(fan_in_bound(theirs), 1.0 / math.sqrt(fan_in))
    assert tuple(theirs.weight.shape) == getattr(nn, name)(*args, **kwargs).weight.shape


def test_batchnorm_init():
    bn = nn.BatchNorm2d(5)
    for value, expected in ((bn.weight, 1), (bn.bias, 0), (bn.running_mean, 0),
                            (bn.running_var, 1)):
        np.testing.assert_array_equal(value, np.full(5, expected, np.float32))
    assert bn.num_batches_tracked == 0


def test_manual_seed_reproduces_initialisation():
    def weights():
        return [v.copy() for v in nested_model(nn).state_dict().values()]

    compiler.manual_seed(7)
    a = weights()
    compiler.manual_seed(7)
    b = weights()
    compiler.manual_seed(8)
    c = weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


# --- 1. train / eval -----------------------------------------------------------------------------

def test_modules_start_in_train_mode_and_switch():
    model = nested_model(nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    model.train(False)
    assert not model.features.block.bn.training
    with pytest.raises(ValueError):
        model.train("yes")


@pytest.mark.parametrize("name", [n for n in REQUIRED_LAYERS if n not in ("Module",)])
def test_every_layer_starts_training(name):
    args = {"Conv2d": (1, 1, 1), "ConvTranspose2d": (1, 1, 1), "BatchNorm2d": (1,),
            "MaxPool2d": (2,), "AvgPool2d": (2,), "Linear": (1, 1), "PixelShuffle": (2,),
            "AdaptiveAvgPool2d": (1,), "Upsample": (None, 2)}.get(name, ())
    assert getattr(nn, name)(*args).training is True


# --- 2. shape errors name the layer and the shapes --------------------------------------------

def check_shape_error(model, shape, *words):
    for run in (lambda: compiler.trace(model, shape), lambda: compiler.compile(model, shape)):
        with pytest.raises(ShapeError) as info:
            run()
        for word in words:
            assert word in str(info.value), (word, str(info.value))


def test_conv_channel_mismatch_deep_in_sequential():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3),
                                          nn.Conv2d(8, 4, 3))

        def forward(self, x):
            return self.features(x)

    check_shape_error(Net(), (1, 3, 12, 12), "features.3", "Conv2d", "8", "16", "1x16x8x8")


def test_linear_in_features_mismatch_after_flatten():
    model = nn.Sequential(OrderedDict([
        ("body", nn.Conv2d(3, 4, 3)),
        ("head", nn.Sequential(nn.Flatten(), nn.Linear(100, 10)))]))
    check_shape_error(model, (2, 3, 8, 8), "head.1", "Linear", "in_features=100", "144", "2x144")


def test_add_of_mismatched_shapes():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.branch = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.branch(x) + x

    check_shape_error(Net(), (1, 3, 5, 5), "add", "1x4x5x5", "1x3x5x5")


def test_cat_mismatch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.Conv2d(3, 3, 3, stride=2)

        def forward(self, x):
            return compiler.cat([x, self.down(x)], dim=1)

    check_shape_error(Net(), (1, 3, 9, 9), "cat", "1x3x9x9", "1x3x4x4")


def test_kernel_larger_than_input():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 7))
    check_shape_error(model, (1, 3, 6, 6), "1 (Conv2d)", "7x7", "1x4x4x4")


def test_shape_error_inside_named_submodule_of_custom_module():
    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(5, 2)

        def forward(self, x):
            return self.proj(x)

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()

        def forward(self, x):
            return self.inner(x)

    check_shape_error(Outer(), (3, 4), "inner.proj", "in_features=5", "3x4")


# --- 2. compile() inputs ----------------------------------------------------------------------

class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 1, bias=False)

    def forward(self, x, y):
        return self.conv(x) + y


def test_compile_multi_input_with_list_of_shapes():
    model = TwoInputs()
    shapes = [(2, 3, 4, 4), (2, 5, 4, 4)]
    m = compiler.compile(model, shapes)
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal(s, dtype=np.float32) for s in shapes)
    expected = np.einsum("oc,nchw->nohw", model.conv.weight[:, :, 0, 0], x) + y
    np.testing.assert_allclose(m(x, y), expected, rtol=1e-5, atol=1e-5)
    assert m.input_shapes == shapes
    with pytest.raises(TypeError):
        m(x)


def test_compile_accepts_a_graph():
    model = small_model().eval()
    graph = compiler.trace(model, (1, 2, 5, 5))
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 5), dtype=np.float32)
    from_graph = compiler.compile(graph)
    np.testing.assert_allclose(from_graph(x), compiler.compile(model, (1, 2, 5, 5))(x),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(from_graph(x), compiler.interp.run(graph, x), rtol=1e-5,
                               atol=1e-5)
    assert list(from_graph.state_dict()) == list(model.state_dict())
    compiler.compile(graph, (1, 2, 5, 5))
    with pytest.raises(ValueError):
        compiler.compile(graph, (1, 2, 6, 6))


def test_compile_rejects_bad_arguments():
    with pytest.raises(TypeError):
        compiler.compile(object(), (1, 3, 4, 4))
    with pytest.raises(TypeError):
        compiler.compile(small_model())
    with pytest.raises((TypeError, ValueError)):
        compiler.compile(small_model(), (1, 2, 0, 5))
    with pytest.raises(ValueError):
        compiler.compile(small_model(), (1, 2, 5, 5), kernels="fastest")
    with pytest.raises(ValueError):
        compiler.compile(small_model(), (1, 2, 5, 5), threads=0)


def test_calling_a_module_outside_compile_explains():
    with pytest.raises(TypeError, match="compile"):
        small_model()(np.zeros((1, 2, 5, 5), np.float32))


def test_print_graph_lists_qualified_names_and_shapes():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 36, 10))

        def forward(self, x):
            return self.head(self.features(x))

    text = str(compiler.trace(Net(), (2, 3, 6, 6)))
    lines = text.splitlines()
    assert "2x3x6x6" in lines[0]
    for name, kind, shape in (("features.0", "Conv2d", "2x8x6x6"), ("features.1", "ReLU",
                                                                   "2x8x6x6"),
                              ("head.0", "Flatten", "2x288"), ("head.1", "Linear", "2x10")):
        assert any(name in l and kind in l and l.rstrip().endswith(shape) for l in lines), name
    assert repr(compiler.trace(Net(), (2, 3, 6, 6))) == text
