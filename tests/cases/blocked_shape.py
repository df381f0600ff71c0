"""Layer cases that run on channel-blocked tensors (a convolution in front).

Upsample (every mode, integer and non-integer scales) and Cat of convolution outputs on
NCHW[V]c tensors: a 1x1 `tail` convolution reads the result so the layout pass keeps it
blocked. Cats of 16+16 channels at batch 1 are zero-copy; at batch 2, or with slices that start
inside a block (8+8, 3+5 with V = 16), they run the blocked cat kernel when something other
than a convolution reads them (a convolution reads the pieces itself when fused).
"""
from ..frameworks import Case


def blocked(layers: str, c: int, tail: bool = True) -> str:
    """conv(3 -> c) -> layers -> conv(c -> 5): `layers` runs on a blocked tensor."""
    end = f", nn.Conv2d({c}, 5, 1)" if tail else ""
    return f"nn.Sequential(nn.Conv2d(3, {c}, 1), {layers}{end})"


def up(args: str) -> str:
    return f"nn.Upsample({args})"


def cat(*channels: int, after: str = "nn.Upsample(scale_factor=2), ") -> str:
    """cat of 1x1 convolutions of the input with `channels`, then `after` (by default a nearest
    upsampling, which reads the cat as it lies and mixes no channels), then a tail conv."""
    total = sum(channels)
    branches = ", ".join(f"nn.Conv2d(3, {c}, 1)" for c in channels)
    return f"nn.Sequential(Cat({branches}, dim=1), {after}nn.Conv2d({total}, 5, 1))"


CASES = [
    # Upsample, nearest and nearest-exact
    Case("blk_up_nearest_2_c20", blocked(up("scale_factor=2"), 20), (1, 3, 4, 5)),
    Case("blk_up_nearest_3_c16", blocked(up("scale_factor=3"), 16), (2, 3, 3, 4)),
    Case("blk_up_nearest_1_7_c17", blocked(up("scale_factor=1.7"), 17), (1, 3, 5, 6)),
    Case("blk_up_nearest_0_6_c33", blocked(up("scale_factor=0.6"), 33), (1, 3, 9, 10)),
    Case("blk_up_nearest_2_1_5_c8", blocked(up("scale_factor=(2, 1.5)"), 8), (2, 3, 4, 6)),
    Case("blk_up_nearest_size_c20", blocked(up("size=(7, 9)"), 20), (1, 3, 4, 5)),
    Case("blk_up_nearest_recompute_c17",
         blocked(up("scale_factor=1.7, recompute_scale_factor=True"), 17), (1, 3, 5, 6)),
    Case("blk_up_nearest_2_05_c16", blocked(up("scale_factor=2.05"), 16), (1, 3, 3, 5)),
    Case("blk_up_nearest_2_05_large_output_c16", blocked(up("scale_factor=2.05"), 16),
         (1, 3, 3, 64)),
    Case("blk_up_nearest_exact_1_7_c20", blocked(up("scale_factor=1.7, mode='nearest-exact'"), 20),
         (2, 3, 5, 6)),
    Case("blk_up_nearest_exact_0_6_c17", blocked(up("scale_factor=0.6, mode='nearest-exact'"), 17),
         (1, 3, 9, 10)),
    Case("blk_up_nearest_exact_size_c8", blocked(up("size=(7, 9), mode='nearest-exact'"), 8),
         (1, 3, 4, 5)),
    Case("blk_up_nearest_exact_large_output_c16",
         blocked(up("scale_factor=(1.3, 2.7), mode='nearest-exact'"), 16), (1, 3, 4, 50)),
    Case("blk_up_nearest_sigmoid_c17", blocked(up("scale_factor=2") + ", nn.Sigmoid()", 17),
         (1, 3, 3, 4)),
    Case("blk_up_nearest_bn_c20", blocked(up("scale_factor=1.5") + ", nn.BatchNorm2d(20)", 20),
         (2, 3, 4, 4)),
    # Upsample, bilinear
    Case("blk_up_bilinear_2_c20", blocked(up("scale_factor=2, mode='bilinear'"), 20),
         (1, 3, 4, 5)),
    Case("blk_up_bilinear_2_ac_c16",
         blocked(up("scale_factor=2, mode='bilinear', align_corners=True"), 16), (2, 3, 4, 5)),
    Case("blk_up_bilinear_1_7_c17", blocked(up("scale_factor=1.7, mode='bilinear'"), 17),
         (1, 3, 5, 6)),
    Case("blk_up_bilinear_1_7_ac_c33",
         blocked(up("scale_factor=1.7, mode='bilinear', align_corners=True"), 33), (1, 3, 5, 6)),
    Case("blk_up_bilinear_0_6_c8", blocked(up("scale_factor=0.6, mode='bilinear'"), 8),
         (2, 3, 9, 10)),
    Case("blk_up_bilinear_0_6_ac_c20",
         blocked(up("scale_factor=0.6, mode='bilinear', align_corners=True"), 20), (1, 3, 9, 10)),
    Case("blk_up_bilinear_2_1_5_c17", blocked(up("scale_factor=(2, 1.5), mode='bilinear'"), 17),
         (1, 3, 4, 6)),
    Case("blk_up_bilinear_size_c16", blocked(up("size=(7, 9), mode='bilinear'"), 16),
         (1, 3, 4, 5)),
    Case("blk_up_bilinear_size_ac_c20",
         blocked(up("size=(7, 9), mode='bilinear', align_corners=True"), 20), (1, 3, 4, 5)),
    Case("blk_up_bilinear_recompute_c17",
         blocked(up("scale_factor=1.7, mode='bilinear', recompute_scale_factor=True"), 17),
         (1, 3, 5, 6)),
    Case("blk_up_bilinear_same_size_c20", blocked(up("size=(4, 5), mode='bilinear'"), 20),
         (1, 3, 4, 5)),
    Case("blk_up_bilinear_large_output_c16", blocked(up("scale_factor=2.2, mode='bilinear'"), 16),
         (1, 3, 3, 64)),
    Case("blk_up_bilinear_nan_c17", blocked(up("scale_factor=1.5, mode='bilinear'"), 17),
         (1, 3, 4, 6), data="nan"),
    Case("blk_up_bilinear_relu_c20",
         blocked(up("scale_factor=2, mode='bilinear'") + ", nn.ReLU()", 20), (2, 3, 3, 4)),
    Case("blk_up_bilinear_tanh_c32",
         blocked(up("scale_factor=1.5, mode='bilinear'") + ", nn.Tanh()", 32), (2, 3, 4, 3)),
    Case("blk_up_bilinear_sigmoid_c17",
         blocked(up("scale_factor=2, mode='bilinear'") + ", nn.Sigmoid()", 17), (1, 3, 3, 4)),
    Case("blk_up_bilinear_residual_c20",
         blocked("Add(" + up("scale_factor=1, mode='bilinear'") + ")", 20), (1, 3, 4, 5)),
    # Cat of convolution outputs: zero-copy (16+16 at batch 1) or the blocked cat kernel
    Case("blk_cat_16_16_b1", cat(16, 16), (1, 3, 4, 5)),
    Case("blk_cat_16_16_b2", cat(16, 16), (2, 3, 4, 5)),
    Case("blk_cat_8_8_b1", cat(8, 8), (1, 3, 4, 5)),
    Case("blk_cat_8_8_b2", cat(8, 8), (2, 3, 5, 4)),
    Case("blk_cat_3_5_b1", cat(3, 5), (1, 3, 4, 5)),
    Case("blk_cat_3_5_b2", cat(3, 5), (2, 3, 4, 5)),
    Case("blk_cat_8_16_17_b2", cat(8, 16, 17), (2, 3, 3, 5)),
    Case("blk_cat_16_3_20_b1", cat(16, 3, 20), (1, 3, 4, 3)),
    Case("blk_cat_20_33_b2", cat(20, 33), (2, 3, 3, 4)),
    # read by a max-pool, and straight by a convolution (fused: the conv reads the pieces)
    Case("blk_cat_8_8_pool_b1", cat(8, 8, after="nn.MaxPool2d(3, 1, 1), "), (1, 3, 5, 4)),
    Case("blk_cat_3_5_conv_b2", cat(3, 5, after=""), (2, 3, 4, 5)),
    Case("blk_cat_8_16_17_conv_b1", cat(8, 16, 17, after=""), (1, 3, 4, 3)),
    Case("blk_cat_8_8_bn_relu", cat(8, 8, after="nn.BatchNorm2d(16), nn.ReLU(), "), (2, 3, 4, 5)),
    # a graph input in the cat: BN + ReLU cannot move into the producers, they run over the cat
    Case("blk_cat_input_bn_relu_b2", "nn.Sequential(Cat(nn.Conv2d(3, 8, 1), nn.Identity(), "
         "dim=1), nn.BatchNorm2d(11), nn.ReLU(), nn.Conv2d(11, 5, 1))", (2, 3, 4, 5)),
    # the cat's result is the residual operand of a convolution's epilogue
    Case("blk_cat_into_residual_b2",
         "nn.Sequential(Add(Cat(nn.Conv2d(3, 8, 1), nn.Conv2d(3, 3, 1), dim=1), "
         "nn.Conv2d(3, 11, 1)), nn.BatchNorm2d(11), nn.ReLU(), nn.Conv2d(11, 5, 1))",
         (2, 3, 4, 5)),
    Case("blk_cat_pool_up_b1",
         "nn.Sequential(nn.Conv2d(3, 8, 1), Cat(nn.MaxPool2d(3, 1, 1), "
         "nn.Upsample(scale_factor=1, mode='bilinear'), nn.Conv2d(8, 5, 3, padding=1), dim=1), "
         "nn.Conv2d(21, 4, 1))", (1, 3, 5, 6)),
    Case("blk_cat_input_b1", "nn.Sequential(Cat(nn.Conv2d(3, 8, 1), nn.Identity(), dim=1), "
         "nn.Conv2d(11, 4, 1))", (1, 3, 4, 5)),
]
