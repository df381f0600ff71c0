"""Regressions found by random differential testing against live PyTorch (and by the same
models built with AddressSanitizer): each is the smallest model, a spec as in tests/cases or
a small module written for both frameworks, that gave a wrong answer, a crash or a bad
memory access."""
import ctypes
import mmap
import os

import numpy as np
import pytest

import compiler
from compiler.target import VECTOR_FLOATS

from . import isas
from .children import run_in_child
from .frameworks import Case, build, case_inputs, namespace, randomize_batchnorm
from .parity import assert_close


def torch_and_smelt(case: Case, calls: int = 1, make=None, **options):
    """Live PyTorch and compiled smelt, same weights (BatchNorm statistics randomised), on
    `calls` successive inputs: ([torch outputs], [smelt outputs], torch module, CompiledModel).
    `make(nn, cat)` builds the model when the case's spec is not enough."""
    torch = pytest.importorskip("torch")
    if make is None:
        def make(nn, cat):
            return build(case.spec, namespace(nn, cat))
    module = make(torch.nn, torch.cat)
    randomize_batchnorm(module, np.random.default_rng(0))
    module.train(case.train)
    model = make(compiler.nn, compiler.cat)
    model.load_state_dict({k: v.numpy() for k, v in module.state_dict().items()})
    model.train(case.train)
    shape = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    m = compiler.compile(model, shape, **options)
    expected, got = [], []
    for call in range(calls):
        xs = case_inputs(Case(f"{case.id}/{call}", case.spec, case.shape, data=case.data))
        with torch.no_grad():
            expected.append(module(*[torch.from_numpy(x.copy()) for x in xs]).numpy())
        got.append(m(*xs))
    return expected, got, module, m


def check(case: Case, calls: int = 1, make=None, **options):
    expected, got, module, m = torch_and_smelt(case, calls, make, **options)
    for call, (y, want) in enumerate(zip(got, expected)):
        assert_close(y, want, case.rtol, case.atol, f"{case.id} call {call} vs live PyTorch")
    return module, m


# --- grouped convolutions whose groups are whole channel blocks (conv2d_blocked) ---------------
@pytest.mark.parametrize("isa", isas.RUNNABLE)
@pytest.mark.parametrize("spec", [
    "nn.Conv2d({c}, {c}, 1, groups=2)",                                # NCHW input (first layer)
    "nn.Conv2d({c}, {c}, 3, padding=1, groups=2, bias=False)",
    "nn.Sequential(nn.Conv2d({c}, {c}, 1), nn.Conv2d({c}, {c}, 3, groups=2))",   # blocked input
    "nn.Sequential(nn.Conv2d({c}, {c}, 1), nn.Conv2d({c}, {c2}, 3, padding=1, groups=2), "
    "nn.BatchNorm2d({c2}), nn.ReLU(), nn.Conv2d({c2}, {c}, 1))",
], ids=["nchw_in", "nchw_in_3x3", "blocked_in", "blocked_in_to_blocked"])
def test_grouped_conv_whole_blocks(spec, isa):
    v = VECTOR_FLOATS[isa]
    c = 2 * v                                    # two groups of exactly one block each
    check(Case("grouped_blocks", spec.format(c=c, c2=2 * c), (2, c, 5, 6)), isa=isa)


# --- a channel-blocked tensor returned through a Flatten ----------------------------------------
@pytest.mark.parametrize("spec, shape", [
    # conv 0's output is read by a convolution (so it stays blocked) and by the cat/add
    ("nn.Sequential(nn.Conv2d(3, 16, 1), Add(nn.MaxPool2d(3, 1, 1), nn.Conv2d(16, 16, 1)), "
     "nn.Flatten())", (2, 3, 5, 6)),
    ("nn.Sequential(nn.Conv2d(3, 16, 1), Cat(nn.ReLU(), nn.Conv2d(16, 16, 1)), nn.Flatten(2))",
     (2, 3, 5, 6)),
    ("nn.Sequential(nn.Conv2d(1, 1, 1), Cat(nn.Identity(), nn.Conv2d(1, 24, 5, padding=2)), "
     "nn.Flatten(0, -3))", (2, 1, 7, 7)),
], ids=["add_flatten", "cat_flatten2", "cat_flatten0"])
def test_blocked_tensor_flattened_into_the_output(spec, shape):
    check(Case("flat_out", spec, shape))


# --- in-place ops through views: torch changes the storage, so every view sees it -------------
def inplace_views(nn, cat):
    """Models whose in-place activation acts on one view of a tensor while another view of
    the same storage (a Flatten, or the tensor it flattens) is used afterwards."""

    class OnViewUseBase(nn.Module):
        def __init__(self):
            super().__init__()
            self.flat, self.act, self.conv = nn.Flatten(2), nn.ReLU(inplace=True), \
                nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            y = self.act(self.flat(x))      # changes x too
            return cat([self.conv(x).flatten(2), y], dim=1)

    class OnBaseUseView(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.flat = nn.Conv2d(3, 5, 1), nn.Flatten()
            self.act, self.fc = nn.ELU(0.5, inplace=True), nn.Linear(5 * 30, 7)

        def forward(self, x):
            x = self.conv(x)
            y = self.flat(x)                # a view, taken before the in-place op
            self.act(x)                     # changes y too
            return self.fc(y)

    return {"on_view_use_base": OnViewUseBase, "on_base_use_view": OnBaseUseView}


@pytest.mark.parametrize("name", ["on_view_use_base", "on_base_use_view", "add_flatten3"])
def test_inplace_op_seen_through_views(name):
    if name == "add_flatten3":
        check(Case(name, "Add(nn.Sequential(nn.Flatten(3), nn.ReLU(inplace=True)))",
                   (2, 3, 5, 6)))
        return
    check(Case(name, "", (2, 3, 5, 6)), make=lambda nn, cat: inplace_views(nn, cat)[name]())


# --- train-mode BatchNorm whose result is unused ------------------------------------------------
def unused_branch(nn, cat):
    class AuxHead(nn.Module):
        """An auxiliary branch computed, then dropped: torch still updates its statistics."""

        def __init__(self):
            super().__init__()
            self.aux = nn.Sequential(nn.Conv2d(4, 6, 3), nn.BatchNorm2d(6, momentum=None))
            self.bn, self.act = nn.BatchNorm2d(4), nn.ReLU()

        def forward(self, x):
            self.aux(x)
            return self.act(self.bn(x))

    return AuxHead()


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_train_batchnorm_with_unused_output_updates_its_statistics(fuse):
    case = Case("aux_head", "", (2, 4, 5, 6), train=True)
    expected, got, module, m = torch_and_smelt(case, 2, unused_branch, fuse=fuse)
    for y, want in zip(got, expected):
        assert_close(y, want, what="output")
    state = m.state_dict()
    for key, value in module.state_dict().items():
        assert_close(state[key], value.numpy(), 1e-4, 1e-5, f"state {key}")


# --- an add fused through a Flatten whose other operand is a flattened tensor -------------------
def flat_adds(nn, cat):
    class FlatAdd(nn.Module):
        def __init__(self, head=False):
            super().__init__()
            self.conv = nn.Conv2d(16, 16, 1)
            self.fc = nn.Linear(16 * 20, 5) if head else nn.Identity()

        def forward(self, x, y):
            return self.fc(self.conv(x).flatten(1) + y.flatten(1))

    class ReluFlatAdd(nn.Module):
        def __init__(self):
            super().__init__()
            self.act, self.flat = nn.ReLU(), nn.Flatten()

        def forward(self, x, y):
            return self.flat(self.act(x)) + self.flat(y)

    return {"conv": FlatAdd, "conv_linear": lambda: FlatAdd(head=True), "relu": ReluFlatAdd}


@pytest.mark.parametrize("isa", isas.RUNNABLE)
@pytest.mark.parametrize("name", ["conv", "conv_linear", "relu"])
def test_add_fused_through_flatten_with_a_flattened_operand(name, isa):
    check(Case(name, "", [(2, 16, 4, 5), (2, 16, 4, 5)]),
          make=lambda nn, cat: flat_adds(nn, cat)[name](), isa=isa)


# --- a blocked kernel's padded lanes never read an NCHW operand past its end --------------------
def guarded_copy(x: np.ndarray) -> np.ndarray:
    """A copy of `x` whose last byte is followed by an inaccessible page: reading past the end
    of the array is a segmentation fault, not a silent read of a neighbour."""
    page = mmap.PAGESIZE
    size = -(-x.nbytes // page) * page
    region = mmap.mmap(-1, size + page)
    base = np.frombuffer(region, np.uint8).ctypes.data
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mprotect(ctypes.c_void_p(base + size), page, 0) == 0   # PROT_NONE
    copy = np.frombuffer(region, np.float32, x.size, size - x.nbytes).reshape(x.shape)
    copy[...] = x
    return copy


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("isa", isas.RUNNABLE)
@pytest.mark.parametrize("groups", [1, 13], ids=["dense", "depthwise"])
def test_residual_nchw_operand_is_not_read_past_its_end(groups, isa):
    """A blocked convolution with a fused residual add of the (NCHW) model input: the padded
    lanes of its last channel block (13 channels in a block of 16 or 8) must not read the
    input's channels 13..15, which lie past the end of the caller's array."""
    spec = f"nn.Sequential(Add(nn.Conv2d(13, 13, 3, padding=1, groups={groups})), " \
           f"nn.Conv2d(13, 16, 3))"
    _, m = check(Case("residual_tail", spec, (1, 13, 7, 9)), isa=isa)
    x = case_inputs(Case("residual_tail/x", spec, (1, 13, 7, 9)))[0]
    want = m(x)
    assert run_in_child(lambda: np.array_equal(m(guarded_copy(x)), want)) == 0
