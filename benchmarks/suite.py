"""What the benchmark measures: the networks, their input shapes, weights and inputs, and how
the frameworks' outputs are compared. Shared by the harness (run.py) and its workers."""
from __future__ import annotations

import zlib

import numpy as np

from tests.nets import NETWORKS

#: the networks of issue 4 at full size (tests/nets.py's `full_shape`), in report order
DEFAULT_NETS = ("resnet18", "vgg_cifar", "dcgan_generator", "espcn", "small_unet",
                "depthwise_separable")
FRAMEWORKS = ("smelt", "torch", "onnxruntime", "openvino")
LABELS = {"smelt": "smelt", "torch": "torch", "onnxruntime": "ORT", "openvino": "OV"}


def input_shape(name: str, batch: int, small: bool = False) -> tuple[int, ...]:
    """The network's benchmark input (its test input with `small`) with batch `batch`."""
    net = NETWORKS[name]
    return (batch,) + tuple((net.shape if small else net.full_shape)[1:])


def build(name: str, nn, cat, small: bool = False):
    """A fresh network in framework (nn, cat): full widths, or the tests' widths with `small`."""
    return NETWORKS[name].build(nn, cat, full=not small)


def make_input(name: str, batch: int, small: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), batch])
    return rng.standard_normal(input_shape(name, batch, small)).astype(np.float32)


def randomize_batchnorm(state: dict, rng: np.random.Generator) -> dict:
    """Give every BatchNorm of a state_dict (numpy arrays) non-trivial running statistics and
    affine parameters, so that folding them into the convolutions is not a no-op."""
    for key in [k for k in state if k.rsplit(".", 1)[-1] == "running_var"]:
        prefix = key[:-len("running_var")]
        c = state[key].shape[0]
        state[prefix + "running_mean"] = rng.standard_normal(c).astype(np.float32)
        state[prefix + "running_var"] = rng.uniform(0.5, 2, c).astype(np.float32)
        if prefix + "weight" in state:
            state[prefix + "weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        if prefix + "bias" in state:
            state[prefix + "bias"] = rng.standard_normal(c).astype(np.float32)
    return state


def make_weights(name: str, framework: str, small: bool, seed: int) -> dict:
    """The network's state_dict as numpy arrays: initialised by torch.nn when `framework` is
    "torch" (else by compiler.nn, for runs without PyTorch), BatchNorm randomised."""
    if framework == "torch":
        import torch
        torch.manual_seed(seed)
        module = build(name, torch.nn, torch.cat, small)
        state = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    else:
        import compiler
        compiler.manual_seed(seed)
        model = build(name, compiler.nn, compiler.cat, small)
        state = {k: np.array(v) for k, v in model.state_dict().items()}
    return randomize_batchnorm(state, np.random.default_rng(seed))


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| over the larger of the two outputs' largest magnitudes (inf on NaN or a
    shape mismatch)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), 1e-30)
    return float(np.abs(a - b).max(initial=0.0) / scale)
