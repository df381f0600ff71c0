"""Layer cases that run on channel-blocked tensors (a convolution in front).

Depthwise Conv2d and ConvTranspose2d: a 1x1 convolution in front makes their input blocked and
a 1x1 `tail` convolution behind keeps their output blocked (without it they write NCHW, as at
the end of a network). Channel counts 16/24/32/17 (and 64) give full and partial blocks for
V = 16 and 8. A case's tags are the kernel families allowed to run those layers
(tests/test_blocked_conv.py checks it): the blocked ones, or the reference kernels where the
blocked families decline. Few output channels (C_out <= V/2) written to NCHW take the
dot-product ConvTranspose2d, and so do stride-1 Conv2d layers writing few channels to
NCHW (C_out <= V/4, or <= V/2 with at least four input blocks), rewritten as their flipped
transposes.
"""
from ..frameworks import Case

DW = ("depthwise_blocked",)
CT = ("conv_transpose2d_blocked", "conv_transpose2d_dot")     # which one: V and C_out decide
DOT = ("conv_transpose2d_dot",)
CONV_DOT = ("conv2d_dot",)          # Conv2d writing few channels to NCHW: dot products
CONV_BLOCKED = ("conv2d_blocked",)  # ... unless it is strided, or padded unevenly or wider
REF = ("conv2d_direct", "conv_transpose2d_direct")


def blocked(layers: str, cin: int, cout: int | None = None, tail: bool = True) -> str:
    """conv(3 -> cin) -> layers -> conv(cout -> 5): `layers` read (and write) blocked tensors."""
    end = f", nn.Conv2d({cout or cin}, 5, 1)" if tail else ""
    return f"nn.Sequential(nn.Conv2d(3, {cin}, 1), {layers}{end})"


def dw(c: int, k: int = 3, s: int = 1, p: int = 1, d: int = 1, bias: bool = True) -> str:
    return f"nn.Conv2d({c}, {c}, {k}, {s}, {p}, dilation={d}, groups={c}, bias={bias})"


def with_output_size(layer: str, size: tuple) -> str:
    """`layer` (a ConvTranspose2d) whose forward is called as forward(x, output_size=size)."""
    return ("type('SizedConvT', (nn.ConvTranspose2d,), {'forward': lambda self, x, "
            f"f=nn.ConvTranspose2d.forward: f(self, x, output_size={size})}})({layer})")


MOBILENET_BLOCK = (
    "nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU(), "
    "nn.Conv2d(32, 32, 3, 1, 1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU(), "
    "nn.Conv2d(32, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), "
    "nn.Conv2d(64, 64, 3, 2, 1, groups=64, bias=False), nn.BatchNorm2d(64), nn.ReLU(), "
    "nn.Conv2d(64, 24, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(), "
    "nn.Conv2d(24, 24, 5, 1, 2, groups=24, bias=False), nn.BatchNorm2d(24), nn.ReLU(), "
    "nn.Conv2d(24, 8, 1))")

CASES = [
    # depthwise: channels, kernel, stride, padding, dilation, batch, tile variants
    Case("blk_dw_c16_k3_s1_p1", blocked(dw(16), 16), (2, 3, 9, 11), tags=DW),
    Case("blk_dw_c24_k3_s2_p1", blocked(dw(24, s=2), 24), (1, 3, 11, 10), tags=DW),
    Case("blk_dw_c32_k5_s1_p2", blocked(dw(32, 5, p=2), 32), (1, 3, 12, 13), tags=DW),
    Case("blk_dw_c17_k3_s2_p0", blocked(dw(17, s=2, p=0), 17), (2, 3, 9, 9), tags=DW),
    Case("blk_dw_c16_k3_p2_dil2", blocked(dw(16, p=2, d=2), 16), (1, 3, 10, 9), tags=DW),
    Case("blk_dw_c24_k5_s2_p4_dil2", blocked(dw(24, 5, 2, 4, 2), 24), (1, 3, 13, 12), tags=DW),
    Case("blk_dw_c32_k5_p0", blocked(dw(32, 5, p=0), 32), (2, 3, 9, 8), tags=DW),
    Case("blk_dw_c17_k3_wide", blocked(dw(17, bias=False), 17), (1, 3, 5, 41), tags=DW),
    Case("blk_dw_c24_k5_s2_wide", blocked(dw(24, 5, 2, 2), 24), (1, 3, 6, 47), tags=DW),
    Case("blk_dw_c64_tiny_image", blocked(dw(64), 64), (2, 3, 4, 3), tags=DW),
    Case("blk_dw_c16_kernel_over_padding", blocked(dw(16, 3, 1, 2), 16), (1, 3, 1, 2), tags=DW),
    Case("blk_dw_c24_bn_relu",
         blocked(f"{dw(24, bias=False)}, nn.BatchNorm2d(24), nn.ReLU()", 24), (2, 3, 8, 7),
         tags=DW),
    Case("blk_dw_c17_bn_sigmoid_nchw_out",
         blocked(f"{dw(17, s=2)}, nn.BatchNorm2d(17), nn.Sigmoid()", 17, tail=False),
         (1, 3, 9, 8), tags=DW),
    Case("blk_dw_c24_nchw_out", blocked(dw(24, 5, 2, 2), 24, tail=False), (2, 3, 7, 9), tags=DW),
    Case("blk_dw_c24_residual", blocked(f"Add({dw(24)}), nn.ReLU()", 24), (1, 3, 7, 8), tags=DW),
    Case("blk_dw_c16_residual_nchw_operand",
         f"nn.Sequential(Add({dw(16)}), nn.ReLU(), nn.Conv2d(16, 5, 1))", (1, 16, 6, 7), tags=DW),
    Case("blk_dw_c17_residual_nchw_out", blocked(f"Add({dw(17, bias=False)})", 17, tail=False),
         (2, 3, 5, 6), tags=DW),
    # NCHW input and output beside a blocked residual operand (unfused: all NCHW, reference)
    Case("blk_dw_nchw_in_blocked_residual",
         f"Add({dw(17, s=2)}, nn.Conv2d(17, 17, 3, 2, 1))", (2, 17, 7, 6), tags=DW + REF),
    Case("blk_dw_nchw_in_prologue_blocked_residual",
         f"Add(nn.Sequential(nn.BatchNorm2d(16), {dw(16, 5, p=2)}), nn.Conv2d(16, 16, 1))",
         (1, 16, 6, 7), tags=DW + REF),
    Case("blk_dw_c17_nan", blocked(f"{dw(17)}, nn.ReLU()", 17), (1, 3, 7, 6), data="nan", tags=DW),
    Case("blk_dw_mobilenet_block", MOBILENET_BLOCK, (1, 3, 32, 30), rtol=1e-3, tags=DW),
    Case("blk_dw_c16_bn_train",
         blocked(f"{dw(16)}, nn.BatchNorm2d(16), nn.ReLU()", 16), (2, 3, 6, 7), train=True,
         tags=DW),
    Case("blk_dw_multiplier2", blocked("nn.Conv2d(16, 32, 3, 1, 1, groups=16)", 16, 32),
         (1, 3, 6, 5), tags=REF),

    # ConvTranspose2d behind a conv (blocked input): stride, kernel, padding, output_padding,
    # dilation, groups, bias, channel tails
    Case("blk_convT_k4_s2_p1", blocked("nn.ConvTranspose2d(16, 16, 4, 2, 1)", 16),
         (2, 3, 5, 6), tags=CT),
    Case("blk_convT_k3_s1_p1_c17_nchw_out",
         blocked("nn.ConvTranspose2d(16, 17, 3, 1, 1)", 16, tail=False), (1, 3, 6, 7), tags=CT),
    Case("blk_convT_k5_s3_p2_outpad2",
         blocked("nn.ConvTranspose2d(24, 24, 5, 3, 2, output_padding=2)", 24), (1, 3, 4, 5),
         tags=CT),
    Case("blk_convT_k2_s2_c32", blocked("nn.ConvTranspose2d(16, 32, 2, 2)", 16, 32),
         (1, 3, 4, 3), tags=CT),
    Case("blk_convT_k3_s3_gaps", blocked("nn.ConvTranspose2d(16, 17, 2, 3)", 16, 17),
         (1, 3, 3, 4), tags=CT),
    Case("blk_convT_outpad_dilation",
         blocked("nn.ConvTranspose2d(16, 16, 3, 2, 1, output_padding=1, dilation=2)", 16),
         (1, 3, 5, 4), tags=CT),
    Case("blk_convT_dil3_outpad2",
         blocked("nn.ConvTranspose2d(16, 8, 3, 1, 2, output_padding=2, dilation=3)", 16, 8),
         (1, 3, 5, 6), tags=CT),
    Case("blk_convT_s2_dil2_empty_phases",
         blocked("nn.ConvTranspose2d(17, 16, 3, 2, 0, dilation=2)", 17, 16), (2, 3, 4, 5),
         tags=CT),
    Case("blk_convT_rect", blocked("nn.ConvTranspose2d(16, 17, (3, 4), (2, 3), (1, 0), "
                                   "output_padding=(1, 2))", 16, 17), (1, 3, 4, 5), tags=CT),
    Case("blk_convT_groups2_c32",
         blocked("nn.ConvTranspose2d(32, 32, 3, 2, 1, groups=2, bias=False)", 32),
         (1, 3, 4, 5), tags=CT),
    Case("blk_convT_groups2_c24_declined",
         blocked("nn.ConvTranspose2d(24, 24, 3, 2, 1, groups=2)", 24), (1, 3, 4, 5), tags=REF),
    Case("blk_convT_c64_wide", blocked("nn.ConvTranspose2d(32, 64, 4, 2, 1)", 32, 64),
         (1, 3, 3, 17), tags=CT),
    Case("blk_convT_c17_bn_leaky",
         blocked("nn.ConvTranspose2d(16, 17, 3, 2, 1, bias=False), nn.BatchNorm2d(17), "
                 "nn.LeakyReLU(0.1)", 16, 17), (2, 3, 4, 4), tags=CT),
    Case("blk_convT_c3_tanh_nchw_out",
         blocked("nn.ConvTranspose2d(32, 3, 4, 2, 1, bias=False), nn.Tanh()", 32, tail=False),
         (1, 3, 5, 6), tags=CT),
    Case("blk_convT_residual", blocked("Add(nn.ConvTranspose2d(16, 16, 3, padding=1))", 16),
         (1, 3, 5, 5), tags=CT),
    Case("blk_convT_nan", blocked("nn.ConvTranspose2d(17, 16, 3, 2, 1), nn.ReLU()", 17, 16),
         (1, 3, 4, 4), data="nan", tags=CT),
    Case("blk_convT_output_size",
         blocked(with_output_size("16, 8, 3, stride=2, padding=1", (12, 10)), 16, 8),
         (1, 3, 6, 5), tags=CT),
    Case("blk_convT_output_size_nchw",
         blocked(with_output_size("16, 17, 4, stride=3, padding=1", (14, 18)), 16, tail=False),
         (2, 3, 5, 6), tags=CT),
    Case("blk_convT_dot_c1_s3_gaps", blocked("nn.ConvTranspose2d(16, 1, 2, 3)", 16, tail=False),
         (1, 3, 4, 5), tags=DOT),
    Case("blk_convT_dot_c4_dil2_sigmoid",
         blocked("nn.ConvTranspose2d(24, 4, 3, 2, 1, output_padding=1, dilation=2), nn.Sigmoid()",
                 24, tail=False), (2, 3, 5, 4), tags=DOT),
    Case("blk_convT_dot_c2_wide", blocked("nn.ConvTranspose2d(17, 2, 4, 2, 1)", 17, tail=False),
         (1, 3, 3, 40), tags=DOT),
    Case("blk_convT_dot_c3_k5_s1", blocked("nn.ConvTranspose2d(40, 3, 5, 1, 1, bias=False), "
                                           "nn.Tanh()", 40, tail=False), (1, 3, 6, 7), tags=DOT),
    Case("blk_convT_c4_residual_nchw_out",
         blocked("Add(nn.ConvTranspose2d(4, 4, 3, padding=1))", 4, tail=False), (1, 3, 5, 6),
         tags=CT),
    Case("blk_convT_bn_train",
         blocked("nn.ConvTranspose2d(16, 16, 3, 2), nn.BatchNorm2d(16), nn.ReLU()", 16),
         (2, 3, 3, 3), train=True, tags=CT),

    # ConvTranspose2d on a graph input: NCHW read directly (few channels, or one pixel), or
    # converted to blocks first
    Case("blk_convT_nchw_in_c5", "nn.Sequential(nn.ConvTranspose2d(5, 16, 3, 2, 1), "
         "nn.Conv2d(16, 5, 1))", (2, 5, 4, 6), tags=CT),
    Case("blk_convT_nchw_in_c12", "nn.Sequential(nn.ConvTranspose2d(12, 17, 3, 2), nn.ReLU(), "
         "nn.Conv2d(17, 5, 1))", (1, 12, 4, 3), tags=CT),
    Case("blk_convT_nchw_in_out", "nn.ConvTranspose2d(6, 17, 5, 3, 2, bias=False)", (1, 6, 3, 4),
         tags=CT),
    Case("blk_convT_dcgan_stages",
         "nn.Sequential(nn.ConvTranspose2d(100, 64, 4, 1, 0, bias=False), nn.BatchNorm2d(64), "
         "nn.ReLU(True), nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), "
         "nn.ReLU(True), nn.ConvTranspose2d(32, 3, 4, 2, 1, bias=False), nn.Tanh())",
         (2, 100, 1, 1), tags=CT),

    # Conv2d with few output channels at the end of a network: dot products over input blocks
    Case("blk_convdot_c32_to3_k5", blocked("nn.Conv2d(32, 3, 5, 1, 2)", 32, tail=False),
         (1, 3, 9, 11), tags=CONV_DOT),
    Case("blk_convdot_c17_to1_sigmoid",
         blocked("nn.Conv2d(17, 1, 3, 1, 1), nn.Sigmoid()", 17, tail=False), (2, 3, 7, 6),
         tags=CONV_DOT),
    Case("blk_convdot_c64_to8_dil2",
         blocked("nn.Conv2d(64, 8, 3, 1, 2, dilation=2)", 64, tail=False), (1, 3, 8, 9),
         tags=CONV_DOT),
    Case("blk_convdot_rect_c24_to2",
         blocked("nn.Conv2d(24, 2, (3, 5), 1, (0, 2), bias=False)", 24, tail=False),
         (1, 3, 6, 13), tags=CONV_DOT),
    Case("blk_convdot_1x1_c40_to4_bn_relu",
         blocked("nn.Conv2d(40, 4, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU()", 40,
                 tail=False), (2, 3, 5, 4), tags=CONV_DOT),
    Case("blk_convdot_residual_tanh",
         "nn.Sequential(Add(nn.Sequential(nn.Conv2d(3, 16, 1), nn.ReLU(), "
         "nn.Conv2d(16, 3, 3, 1, 1))), nn.Tanh())", (1, 3, 6, 7),
         tags=CONV_DOT),
    Case("blk_convdot_kernel_over_image", blocked("nn.Conv2d(16, 2, 5, 1, 2)", 16, tail=False),
         (1, 3, 2, 3), tags=CONV_DOT),
    Case("blk_convdot_nan", blocked("nn.Conv2d(17, 3, 3, 1, 1), nn.ReLU()", 17, tail=False),
         (1, 3, 5, 6), data="nan", tags=CONV_DOT),
    Case("blk_convdot_declined_stride2", blocked("nn.Conv2d(16, 3, 3, 2, 1)", 16, tail=False),
         (1, 3, 7, 8), tags=CONV_BLOCKED),
    Case("blk_convdot_declined_wide_padding",
         blocked("nn.Conv2d(16, 3, 3, 1, 3)", 16, tail=False), (1, 3, 4, 5), tags=CONV_BLOCKED),
    Case("blk_convdot_declined_same_even",
         blocked("nn.Conv2d(16, 3, 4, padding='same')", 16, tail=False), (1, 3, 5, 6),
         tags=CONV_BLOCKED),
]
