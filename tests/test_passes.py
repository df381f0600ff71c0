"""The planner: each pass by structure (what landed in which kernel) and by numbers (fused ==
unfused == NumPy reference == PyTorch), including graphs where fusion must not happen."""
import shutil

import numpy as np
import pytest

import compiler
from compiler import interp, nn
from compiler.ops.base import Op
from compiler.passes.fuse_epilogues import fuse_epilogues
from compiler.planner import FUSING_PASSES, plan

from .nets import NETWORKS
from .parity import assert_close


def kernels_of(m):
    return [k.layers for k in m.kernels]


def check(model, shape, **options):
    """Compile fused and unfused; both must equal the NumPy reference. Returns the fused model."""
    model.eval()
    shapes = shape if isinstance(shape, list) else [shape]
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    fused = compiler.compile(model, shape, **options)
    unfused = compiler.compile(model, shape, fuse=False)
    expected = interp.run(compiler.trace(model, shape), *xs)
    got = fused(*xs)
    for a, b in zip(got if isinstance(got, tuple) else [got],
                    expected if isinstance(expected, tuple) else [expected]):
        assert_close(a, b)
    unfused_out = unfused(*xs)
    for a, b in zip(got if isinstance(got, tuple) else [got],
                    unfused_out if isinstance(unfused_out, tuple) else [unfused_out]):
        assert_close(a, b)
    return fused


def random_bn(c, seed=0):
    bn = nn.BatchNorm2d(c)
    rng = np.random.default_rng(seed)
    bn.running_mean[:] = rng.standard_normal(c)
    bn.running_var[:] = rng.uniform(0.5, 2, c)
    bn.weight[:] = rng.uniform(0.5, 1.5, c)
    bn.bias[:] = rng.standard_normal(c)
    return bn


class Fn(nn.Module):
    """A module whose forward is a function of its submodules, for one-off graphs."""

    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for name, m in modules.items():
            self.add_module(name, m)

    def forward(self, *xs):
        return self.fn(self, *xs)


# --- what fuses as elementwise can apply itself to one element in C --------------------------

def test_only_ops_with_a_c_expression_fuse_as_elementwise():
    import compiler.ops as ops
    from compiler.ops.eltwise import Elementwise
    classes = [getattr(ops, name) for name in ops.__all__ if isinstance(getattr(ops, name), type)]
    ops_ = [cls for cls in classes if issubclass(cls, Op) and cls is not Op]
    assert len(ops_) > 15
    for cls in ops_:
        assert cls.elementwise == issubclass(cls, Elementwise), cls
    # eval BatchNorm2d is elementwise too, but bn_to_affine turns it into a ChannelAffine
    assert "bn_to_affine" in [p.__name__ for p in FUSING_PASSES[:FUSING_PASSES.index(
        fuse_epilogues)]]


# --- fold_bn + fuse_epilogues -------------------------------------------------------------

def test_resnet_pattern_is_one_kernel():
    m = check(Fn(lambda s, x: s.relu(s.bn(s.conv(x)) + x),
                 conv=nn.Conv2d(4, 4, 3, padding=1), bn=random_bn(4), relu=nn.ReLU()),
              (1, 4, 6, 6))
    assert kernels_of(m) == [["conv", "bn", "add", "relu"]]


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "convT"])
def test_fold_bn_rounds_once_from_float64_on_large_weights(transposed):
    """Weights over run_balanced's threshold are folded on several threads: each folded weight
    is still float32(float64(w) * s), s = gamma / sqrt(var + eps) in float64."""
    from compiler.passes.fold_bn import fold_bn
    if transposed:                                 # weight (C_in, C_out/groups, kH, kW)
        convs = [nn.ConvTranspose2d(512, 512, 3, groups=2), nn.ConvTranspose2d(512, 8, 1)]
    else:                                          # weight (C_out, C_in/groups, kH, kW)
        convs = [nn.Conv2d(512, 384, 3), nn.Conv2d(384, 512, 1)]
    bns = [random_bn(c.out_channels, seed) for seed, c in enumerate(convs)]
    model = nn.Sequential(convs[0], bns[0], nn.ReLU(), convs[1], bns[1]).eval()
    folded = [n for n in fold_bn(compiler.trace(model, (1, 512, 5, 5))).nodes
              if n.op.kind.startswith("Conv")]
    assert folded[0].op.params["weight"].nbytes > 4 << 20
    for node, conv, bn in zip(folded, convs, bns):
        s = bn.weight.astype(np.float64) / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
        w = conv.weight.astype(np.float64)
        if transposed:
            g, ocg = conv.groups, w.shape[1]
            expected = (w.reshape(g, -1, ocg, *w.shape[2:]) *
                        s.reshape(g, 1, ocg, 1, 1)).reshape(w.shape)
        else:
            expected = w * s[:, None, None, None]
        np.testing.assert_array_equal(node.op.params["weight"], expected.astype(np.float32))


def test_run_balanced_runs_every_task_once_and_reraises():
    from runtime.arrays import run_balanced
    counts = [0] * 50
    tasks = [lambda i=i: counts.__setitem__(i, counts[i] + 1) for i in range(50)]
    run_balanced(tasks, [1 << 20] * 50)
    assert counts == [1] * 50

    def boom():
        raise ValueError("task failed")
    with pytest.raises(ValueError, match="task failed"):
        run_balanced([boom] + tasks, [64 << 20] + [1 << 20] * 50)


def test_bn_folds_into_conv_transpose():
    m = check(nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), random_bn(6),
                            nn.LeakyReLU(0.1)), (1, 4, 3, 3))
    assert kernels_of(m) == [["0", "1", "2"]]


def test_linear_absorbs_bias_add_and_activation_chain():
    m = check(Fn(lambda s, x, r: s.tanh(s.sig(s.fc(x) + r)), fc=nn.Linear(5, 3),
                 sig=nn.Sigmoid(), tanh=nn.Tanh()), [(2, 5), (2, 3)])
    assert kernels_of(m) == [["fc", "add", "sig", "tanh"]]


def test_no_fusion_across_a_tensor_read_twice():
    """y is read before and after the activation: relu must not overwrite it in the conv."""
    m = check(Fn(lambda s, x: (lambda y: s.relu(y) + y)(s.conv(x)),
                 conv=nn.Conv2d(3, 4, 3), relu=nn.ReLU()), (1, 3, 6, 6))
    assert kernels_of(m) == [["conv"], ["relu", "add"]]


def test_bn_not_folded_when_conv_output_is_read_elsewhere():
    m = check(Fn(lambda s, x: (lambda y: s.bn(y) + y)(s.conv(x)),
                 conv=nn.Conv2d(3, 4, 3), bn=random_bn(4)), (1, 3, 6, 6))
    assert kernels_of(m) == [["conv"], ["bn", "add"]]


def test_returned_tensor_is_not_fused_away():
    m = check(Fn(lambda s, x: (lambda y: (y, s.relu(y)))(s.conv(x)),
                 conv=nn.Conv2d(3, 4, 3), relu=nn.ReLU()), (1, 3, 6, 6))
    assert kernels_of(m) == [["conv"], ["relu"]]


def test_elementwise_fuses_into_pool_upsample_and_add():
    m = check(Fn(lambda s, x, r: s.relu(s.up(s.sig(s.pool(x))) + r),
                 pool=nn.MaxPool2d(2), sig=nn.Sigmoid(), up=nn.Upsample(scale_factor=2),
                 relu=nn.ReLU()), [(1, 3, 8, 8), (1, 3, 8, 8)])
    assert kernels_of(m) == [["pool", "sig"], ["up", "add", "relu"]]


def test_bn_without_conv_becomes_affine_in_neighbour():
    after_pool = check(nn.Sequential(nn.MaxPool2d(2), random_bn(3)), (1, 3, 6, 6))
    assert kernels_of(after_pool) == [["0", "1"]]
    after_add = check(Fn(lambda s, x, y: s.bn(x + y), bn=random_bn(3)),
                      [(1, 3, 4, 4), (1, 3, 4, 4)])
    assert kernels_of(after_add) == [["add", "bn"]]


def test_bn_at_the_input_is_the_conv_prologue():
    m = check(nn.Sequential(random_bn(3), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()),
              (2, 3, 5, 5))
    assert kernels_of(m) == [["0", "1", "2"]]
    assert m.kernels[0].ops == ["ChannelAffine", "Conv2d", "ReLU"]


def test_elementwise_through_a_flatten_view():
    m = check(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.ReLU()), (2, 3, 5, 5))
    assert kernels_of(m) == [["0", "2"]]


def test_dropout_after_flatten_is_not_fused_through_the_view():
    """Dropout's mask depends on the channel, which a view changes."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Dropout2d(0.5))
    model.train()
    m = compiler.compile(model, (2, 3, 5, 5))
    assert kernels_of(m) == [["0"], ["2"]]


# --- cat -------------------------------------------------------------------------------------

def test_cat_of_computed_tensors_has_no_copy_kernel():
    m = check(Fn(lambda s, x: s.head(compiler.cat([s.a(x), s.b(x)], dim=1)),
                 a=nn.Conv2d(3, 4, 1), b=nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU()),
                 head=nn.Conv2d(9, 2, 1)), (1, 3, 6, 6))
    # the producers write into the cat's slices, or (channels not on a block boundary)
    # the conv after it reads the pieces directly: no kernel copies
    assert kernels_of(m) in ([["a"], ["b.0", "b.1"], ["head"]],
                             [["a"], ["b.0", "b.1"], ["cat", "head"]])
    assert not any(k.ops in (["Copy"], ["Cat"]) for k in m.kernels)


def test_unet_skip_is_read_from_its_slice():
    """The skip tensor feeds a pool and a cat: it is written once, into the cat buffer."""
    m = check(Fn(lambda s, x: (lambda skip: s.out(compiler.cat([skip, s.up(s.pool(skip))],
                                                               dim=1)))(s.enc(x)),
                 enc=nn.Conv2d(3, 4, 3, padding=1), pool=nn.MaxPool2d(2),
                 up=nn.Upsample(scale_factor=2), out=nn.Conv2d(8, 2, 1)), (1, 3, 8, 8))
    assert len(m.kernels) == 4 and not any(k.ops in (["Copy"], ["Cat"]) for k in m.kernels)


def test_cat_of_an_input_or_a_repeated_tensor_copies_only_that_slice():
    m = check(Fn(lambda s, x: (lambda y: compiler.cat([x, y, y], dim=1))(s.conv(x)),
                 conv=nn.Conv2d(3, 3, 1)), (1, 3, 4, 4))
    assert sorted(k.ops[0] for k in m.kernels) == ["Conv2d", "Copy", "Copy"]
    assert all(k.node.slice_of is not None for k in m.plan.kernels)


def test_cat_with_batch_above_one_keeps_its_copy_kernel():
    """Slices of dim 1 are not contiguous when N > 1: a Cat kernel gathers them."""
    m = check(Fn(lambda s, x: compiler.cat([s.a(x), s.b(x)], dim=1),
                 a=nn.Conv2d(3, 2, 1), b=nn.Conv2d(3, 2, 1)), (2, 3, 4, 4))
    assert [k.ops for k in m.kernels] == [["Conv2d"], ["Conv2d"], ["Cat"]]


def test_bn_after_cat_distributes_into_the_producers():
    m = check(Fn(lambda s, x: s.relu(s.bn(compiler.cat([s.a(x), s.b(x)], dim=1))),
                 a=nn.Conv2d(3, 2, 3, padding=1), b=nn.MaxPool2d(3, 1, 1), bn=random_bn(5),
                 relu=nn.ReLU()), (1, 3, 5, 5))
    assert kernels_of(m) == [["a", "bn", "relu"], ["b", "bn", "relu"]]


def test_bn_after_cat_of_shared_tensors_runs_in_place():
    """The skip is read elsewhere, so the affine cannot move into its producer; it runs as
    its own kernel, over the cat buffer it is the last reader of."""
    m = check(Fn(lambda s, x: (lambda a: (s.bn(compiler.cat([a, s.b(x)], dim=1)), s.c(a)))(
        s.a(x)), a=nn.Conv2d(3, 2, 1), b=nn.Conv2d(3, 3, 1), c=nn.Conv2d(2, 2, 1),
        bn=random_bn(5)), (1, 3, 4, 4))
    affine = [k for k in m.plan.kernels if k.kinds == ["ChannelAffine"]]
    assert len(affine) == 1


def test_elementwise_kernel_runs_in_place_when_its_input_dies():
    model = Fn(lambda s, x: s.out(s.relu(compiler.cat([s.a(x), x], dim=1))),
               a=nn.Conv2d(3, 2, 1), relu=nn.ReLU(), out=nn.Conv2d(5, 2, 1))
    m = check(model, (1, 3, 4, 4))
    relu = [k for k in m.plan.kernels if k.kinds == ["ReLU"]]
    assert len(relu) == 1 and relu[0].inplace
    assert "restrict in0" not in relu[0].source.split("{")[0]


# --- store patterns --------------------------------------------------------------------------

def test_pixel_shuffle_is_the_convs_store_pattern():
    m = check(nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.PixelShuffle(2), nn.Tanh()),
              (2, 2, 5, 4))
    assert kernels_of(m) == [["0", "1", "2"]]
    assert m.kernels[0].out_shape == (2, 2, 10, 8)


def test_pixel_shuffle_stays_separate_when_a_step_needs_positions():
    m = check(Fn(lambda s, x, r: s.shuffle(s.conv(x)) + r, conv=nn.Conv2d(2, 8, 3, padding=1),
                 shuffle=nn.PixelShuffle(2)), [(1, 2, 4, 4), (1, 2, 8, 8)])
    assert kernels_of(m) == [["conv"], ["shuffle", "add"]]


# --- switches and whole networks ---------------------------------------------------------------

def test_fuse_false_runs_one_kernel_per_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), random_bn(4), nn.ReLU(), nn.MaxPool2d(2))
    m = check(model, (1, 3, 8, 8))
    unfused = compiler.compile(model, (1, 3, 8, 8), fuse=False)
    assert len(m.kernels) == 2 and len(unfused.kernels) == 4


def test_resnet18_is_23_kernels(resnet18_plan):
    assert len(resnet18_plan.kernels) <= 23


def test_resnet18_arena_is_at_most_twice_the_largest_kernel(resnet18_plan):
    largest = max(4 * (sum(int(np.prod(s)) for s in k.in_shapes) + int(np.prod(k.out_shape)))
                  for k in resnet18_plan.kernels)
    assert resnet18_plan.arena_bytes <= 2 * largest


def test_dcgan_generator_is_5_kernels():
    net = NETWORKS["dcgan_generator"]
    model = net.build(compiler.nn, compiler.cat, full=True).eval()
    assert len(plan(compiler.trace(model, net.full_shape)).kernels) == 5


def test_unet_cats_leave_no_copy_kernel():
    net = NETWORKS["small_unet"]
    model = net.build(compiler.nn, compiler.cat, full=True).eval()
    p = plan(compiler.trace(model, net.full_shape))
    assert not any(set(k.kinds) & {"Copy", "Cat"} for k in p.kernels)


# --- seeing the plan ------------------------------------------------------------------------

def test_plan_table_and_dot():
    m = compiler.compile(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(),
                                       nn.Linear(64, 2)).eval(), (1, 3, 6, 6))
    table = str(m.plan)
    for k in m.kernels:
        assert k.name in table
    assert "total" in table and "arena" in table and "MFLOP" in table
    assert m.plan.arena_bytes % 64 == 0
    dot = m.plan.to_dot()
    assert dot.startswith("digraph") and all(k.name in dot for k in m.kernels)
    assert "in0 -> k000" in dot and "k001_3 -> out0" in dot


def test_dot_escapes_hostile_names():
    model = nn.Sequential()
    model.add_module('a"b\\c', nn.Conv2d(3, 3, 1))
    dot = plan(compiler.trace(model.eval(), (1, 3, 2, 2))).to_dot()
    assert 'a\\"b\\\\c' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_save_svg(tmp_path):
    m = compiler.compile(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval(), (1, 3, 6, 6))
    path = m.plan.save_svg(tmp_path / "plan.svg")
    assert path.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_save_svg_says_what_is_missing(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    monkeypatch.setattr(shutil, "which", lambda program: None)
    m = compiler.compile(nn.Sequential(nn.Conv2d(3, 4, 3)).eval(), (1, 3, 6, 6))
    with pytest.raises(RuntimeError, match="Graphviz"):
        m.plan.save_svg(tmp_path / "plan.svg")
