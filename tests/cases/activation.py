"""Activations, the layers that vanish or become elementwise in eval mode (Identity, Dropout2d,
standalone BatchNorm2d), residual adds, and the in-place traps.

Every activation runs on three inputs: randn, "extreme" (+-1e4, where exp over/underflows)
and "nan" (NaN must propagate exactly as PyTorch propagates it); the exp-based ones also on
"wide" (every binade, +-inf) and "denormal" inputs. Ids start with "act_" so
`pytest -k act_` selects this family.
"""
from ..frameworks import Case

SHAPE = (2, 3, 5, 4)
DATA = ("randn", "extreme", "nan")

ACTIVATIONS = [
    ("relu", "nn.ReLU()"),
    ("leaky", "nn.LeakyReLU()"),
    ("leaky_0p2", "nn.LeakyReLU(0.2)"),
    ("leaky_neg0p5", "nn.LeakyReLU(negative_slope=-0.5)"),
    ("sigmoid", "nn.Sigmoid()"),
    ("tanh", "nn.Tanh()"),
    ("elu", "nn.ELU()"),
    ("elu_0p3", "nn.ELU(alpha=0.3)"),
    ("selu", "nn.SELU()"),
    ("hardswish", "nn.Hardswish()"),
    ("hardtanh", "nn.Hardtanh()"),
    ("hardtanh_0_2", "nn.Hardtanh(0.0, 2.5)"),
    ("relu6", "nn.ReLU6()"),
    ("hardsigmoid", "nn.Hardsigmoid()"),
    ("silu", "nn.SiLU()"),
]

CASES = [Case(f"act_{name}_{data}", spec, SHAPE, data=data)
         for name, spec in ACTIVATIONS for data in DATA]

# the exp family (smelt_expf/expm1f/sigmoid/tanh in common.h.j2) over magnitudes from every
# binade with +-inf, and on subnormal inputs (which must not be flushed: ELU(d) = d, tanh(d) = d)
CASES += [Case(f"act_{name}_{data}", spec, (1, 4, 16, 16) if data == "wide" else SHAPE,
               data=data)
          for name, spec in ACTIVATIONS
          if name in ("sigmoid", "tanh", "elu", "elu_0p3", "selu", "silu")
          for data in ("wide", "denormal")]

CASES += [
    # in-place variants: same numbers, and fusion must not be confused by the aliasing
    Case("act_relu_inplace", "nn.ReLU(inplace=True)", SHAPE),
    Case("act_elu_inplace_nan", "nn.ELU(0.5, inplace=True)", SHAPE, data="nan"),
    Case("act_tail_shape", "nn.Sigmoid()", (3, 7, 1, 13)),       # odd sizes: no vector tail bug
    Case("act_2d_input", "nn.Tanh()", (5, 11)),                  # rank 2 (N, C)

    # layers that vanish or turn into a copy / per-channel affine in eval mode
    Case("act_identity", "nn.Identity()", SHAPE),
    Case("act_identity_args", "nn.Identity(54, unused='x')", SHAPE),
    Case("act_identity_then_relu", "nn.Sequential(nn.Identity(), nn.ReLU())", SHAPE, data="nan"),
    Case("act_dropout2d_eval", "nn.Dropout2d(0.5)", SHAPE),
    Case("act_dropout2d_eval_chain",
         "nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout2d(0.3), nn.ReLU())", (2, 3, 6, 6)),
    Case("act_bn_at_input", "nn.BatchNorm2d(3)", SHAPE),
    Case("act_bn_at_input_relu", "nn.Sequential(nn.BatchNorm2d(3), nn.ReLU())", SHAPE, data="nan"),
    Case("act_bn_after_maxpool",
         "nn.Sequential(nn.MaxPool2d(2), nn.BatchNorm2d(3), nn.LeakyReLU(0.1))", (2, 3, 6, 8)),
    # the conv output is read twice, so the BN cannot fold and becomes an affine + add
    Case("act_bn_unfoldable",
         "nn.Sequential(nn.Conv2d(3, 4, 3), Add(nn.BatchNorm2d(4)), nn.Tanh())", (1, 3, 7, 6)),

    # conv + BN + activation chains (eval: one fused kernel)
    Case("act_conv_bn_elu", "nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.ELU())",
         (2, 3, 8, 7)),
    Case("act_conv_bn_selu_extreme",
         "nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5), nn.SELU())",
         (1, 3, 6, 6), data="extreme"),
    Case("act_conv_bn_sigmoid_nan",
         "nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Sigmoid())",
         (1, 2, 4, 5), data="nan"),
    Case("act_conv_chain_two_acts",
         "nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2), nn.Tanh(), nn.ELU(0.3))",
         (2, 3, 6, 5)),

    # residual adds
    Case("act_residual_conv_bn_relu",
         "nn.Sequential(Add(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))), "
         "nn.ReLU())", (2, 4, 6, 5)),
    Case("act_residual_both_branches",
         "Add(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.ReLU()), "
         "nn.Sequential(nn.Conv2d(3, 3, 1), nn.Sigmoid()))", (1, 3, 5, 5)),
    Case("act_add_inputs", "AddInputs()", [(2, 3, 4, 5), (2, 3, 4, 5)]),
    Case("act_add_inputs_nan", "AddInputs()", [(1, 2, 3, 3), (1, 2, 3, 3)], data="nan"),
    Case("act_add_inputs_extreme", "AddInputs()", [(1, 2, 3, 3), (1, 2, 3, 3)], data="extreme"),

    # in-place traps. PyTorch evaluates `a(x) + b(x)` left to right; an in-place `a` changes
    # x itself, so b then sees the activated tensor (and with b = Identity, x + x is relu+relu).
    Case("act_relu_inplace_residual", "Add(nn.ReLU(inplace=True))", (1, 4, 3, 3)),
    # reads x before the in-place op (sigmoid of the original) and after it (the relu'd x)
    Case("act_read_before_and_after_inplace", "Add(nn.Sigmoid(), nn.ReLU(inplace=True))",
         (2, 3, 4, 4)),
    Case("act_inplace_then_read", "Add(nn.ReLU(inplace=True), nn.Sigmoid())", (2, 3, 4, 4)),
    # two in-place ops on one tensor: a(x) and b(x) are the same object: 2 * elu(leaky(x))
    Case("act_two_inplace_same_tensor",
         "Add(nn.LeakyReLU(0.2, inplace=True), nn.ELU(inplace=True))", (1, 3, 4, 4)),
    # in-place on a conv output that a residual also reads
    Case("act_inplace_after_conv",
         "nn.Sequential(nn.Conv2d(3, 4, 3), Add(nn.ReLU(inplace=True), nn.Tanh()))",
         (1, 3, 6, 6)),
    # an out-of-place activation must leave x alone for the other branch
    Case("act_outofplace_then_read", "Add(nn.ReLU(), nn.Identity())", (1, 3, 4, 4), data="nan"),
    # cat sees the same tensor object three times, all after the in-place relu
    Case("act_inplace_cat", "Cat(nn.Identity(), nn.ReLU(inplace=True), nn.Identity())",
         (1, 2, 3, 3)),
]
