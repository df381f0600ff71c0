"""Issue 10's ops as layer cases: tensor arithmetic (- * / with tensors, channel-wise operands
and numbers), spatial mean, view/reshape, squeeze-and-excitation, channel shuffle, chunk and
split along channels, bicubic upsampling, Dropout (eval), LocalResponseNorm is in norm.py and
AdaptiveMaxPool2d in pool.py. NaN and extreme data where the arithmetic can overflow; the
`blk_` rows put a convolution in front and behind, so the op runs on channel-blocked data.
"""
from ..frameworks import Case


def blocked(layers: str, c: int) -> str:
    """conv(3 -> c) -> layers -> conv(c -> 5): `layers` runs on a blocked tensor."""
    return f"nn.Sequential(nn.Conv2d(3, {c}, 1), {layers}, nn.Conv2d({c}, 5, 1))"


SHAPE = (2, 3, 5, 4)
PAIR = [SHAPE, SHAPE]

CASES = [
    # two tensors of one shape, every data kind
    *[Case(f"bin_{op}_inputs_{data}", f"BinaryInputs('{op}')", PAIR, data=data)
      for op in ("sub", "mul", "div") for data in ("randn", "nan", "extreme")],
    # a channel-wise second operand (N or 1, C or 1, 1, 1)
    Case("bin_mul_channelwise", "BinaryInputs('mul')", [SHAPE, (2, 3, 1, 1)]),
    Case("bin_sub_channelwise_batch1", "BinaryInputs('sub')", [SHAPE, (1, 3, 1, 1)]),
    Case("bin_div_per_image", "BinaryInputs('div')", [SHAPE, (2, 1, 1, 1)], data="nan"),
    # fused into the producer of the first operand only (a - b is not b - a)
    Case("bin_sub_conv_conv", "Binary('sub', nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1))",
         (1, 3, 6, 5)),
    Case("bin_sub_input_minus_conv", "Binary('sub', nn.Identity(), nn.Conv2d(3, 3, 1))",
         (1, 3, 4, 4)),
    Case("bin_div_conv_by_pool",
         "Binary('div', nn.Conv2d(3, 4, 1), nn.Sequential(nn.Conv2d(3, 4, 1), "
         "nn.AdaptiveAvgPool2d(1), nn.Sigmoid()))", (2, 3, 5, 5)),
    Case("blk_bin_mul_relu", blocked("Binary('mul', nn.ReLU(), nn.Tanh())", 20), (1, 3, 4, 5)),
    Case("blk_bin_sub_c17", blocked("Binary('sub', nn.Identity(), nn.Conv2d(17, 17, 1))", 17),
         (2, 3, 4, 3)),
    # squeeze-and-excitation: x * s, s = N x C x 1 x 1 computed from x
    Case("se_input", "SqueezeExcite(3, 2)", (2, 3, 6, 5)),
    Case("se_after_conv", "nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), SqueezeExcite(8))",
         (1, 3, 6, 6)),
    Case("blk_se_c20", blocked("SqueezeExcite(20, 8, nn.Hardsigmoid())", 20), (2, 3, 5, 5)),
    Case("blk_se_nan_c16", blocked("SqueezeExcite(16)", 16), (1, 3, 4, 4), data="nan"),
    # with numbers
    *[Case(f"scalar_{op}_{data}", f"Scalar('{op}', {value})", SHAPE, data=data)
      for op, value in (("add", 1.5), ("radd", -2.0), ("sub", 0.25), ("rsub", 1.0),
                        ("mul", -3.0), ("rmul", 0.5), ("div", 6.0), ("rdiv", 2.0),
                        ("neg", 0.0))
      for data in ("randn", "nan", "extreme")],
    Case("scalar_mul_conv", "Scalar('mul', 0.5, nn.Conv2d(3, 4, 3))", (1, 3, 5, 5)),
    Case("scalar_rdiv_sigmoid", "Scalar('rdiv', 1.0, nn.Sigmoid())", SHAPE),
    Case("blk_scalar_rsub_c20", blocked("Scalar('rsub', 1.0), nn.ReLU()", 20), (1, 3, 4, 4)),
    Case("scalar_mul_linear", "Scalar('mul', 2.0, nn.Linear(4, 6))", (3, 4)),
    # spatial mean
    Case("mean_keepdim", "Mean(keepdim=True)", (2, 3, 5, 7)),
    Case("mean_flat", "Mean()", (2, 3, 5, 7)),
    Case("mean_negative_dims", "Mean((-1, -2))", (2, 3, 4, 4)),
    Case("mean_view", "Mean(keepdim=True, shape=(2, -1))", (2, 3, 5, 7)),
    Case("mean_nan", "Mean()", (1, 4, 3, 3), data="nan"),
    Case("blk_mean_linear", "nn.Sequential(nn.Conv2d(3, 20, 1), Mean(), nn.Linear(20, 4))",
         (2, 3, 5, 5)),
    # view / reshape
    Case("view_flat_linear", "View(2, -1, m=nn.Linear(60, 7))", (2, 3, 4, 5)),
    Case("view_4d_conv", "View(2, 6, 2, 5, m=nn.Conv2d(6, 4, 1))", (2, 3, 4, 5)),
    Case("view_reshape_rows", "View(-1, 5, reshape=True, m=nn.Softmax(dim=1))", (2, 3, 4, 5)),
    Case("blk_view_linear", "nn.Sequential(nn.Conv2d(3, 20, 1), View(2, -1), "
         "nn.Linear(400, 3))", (2, 3, 4, 5)),
    Case("view_relu_inplace", "View(2, -1, m=nn.ReLU(inplace=True))", SHAPE, data="nan"),
    # channel shuffle (dim 1 whatever the rank, as torch)
    Case("shuffle_g2", "nn.ChannelShuffle(2)", (2, 8, 3, 3)),
    Case("shuffle_g3", "nn.ChannelShuffle(3)", (1, 12, 4, 5)),
    Case("shuffle_g1", "nn.ChannelShuffle(1)", (1, 4, 2, 2)),
    Case("shuffle_3d", "nn.ChannelShuffle(3)", (2, 6, 5)),
    Case("shuffle_relu", "nn.Sequential(nn.ChannelShuffle(2), nn.ReLU())", (1, 6, 3, 3),
         data="nan"),
    Case("blk_shuffle_c20", blocked("nn.ChannelShuffle(2)", 20), (2, 3, 4, 4)),
    Case("blk_shuffle_c32", blocked("nn.ChannelShuffle(4), nn.Sigmoid()", 32), (1, 3, 3, 3)),
    # chunk / split along channels
    Case("chunk_2", "Pieces(2, order=[1, 0])", (2, 6, 3, 3)),
    Case("chunk_3_uneven", "Pieces(3, nn.ReLU(), nn.Sigmoid(), nn.Tanh())", (1, 7, 2, 3)),
    Case("split_sizes", "Pieces(None, split=[2, 5, 1], order=[2, 0, 1])", (1, 8, 3, 2)),
    Case("split_int", "Pieces(None, nn.ReLU(), split=3)", (2, 7, 2, 2), data="nan"),
    Case("chunk_2d", "Pieces(2, nn.Tanh(), order=[1, 0])", (3, 10)),
    Case("blk_chunk_c32", blocked("Pieces(2, nn.Conv2d(16, 16, 1), order=[1, 0])", 32),
         (1, 3, 4, 4)),
    Case("blk_chunk_c40", blocked("Pieces(2, nn.Conv2d(20, 20, 1), order=[1, 0])", 40),
         (2, 3, 3, 3)),
    Case("blk_split_c24", blocked("Pieces(None, nn.ReLU(), split=[8, 16], order=[1, 0])", 24),
         (1, 3, 3, 4)),
    Case("shuffle_unit_c16", "ShuffleUnit(16)", (1, 16, 6, 6)),
    Case("shuffle_unit_c20", "ShuffleUnit(20)", (2, 20, 5, 5)),
    # bicubic upsampling: PyTorch's A = -0.75 kernel, border clamping, both align_corners
    Case("up_bicubic_x2", "nn.Upsample(scale_factor=2, mode='bicubic')", (1, 2, 5, 6)),
    Case("up_bicubic_x2_ac",
         "nn.Upsample(scale_factor=2, mode='bicubic', align_corners=True)", (1, 2, 5, 6)),
    Case("up_bicubic_size", "nn.Upsample(size=(7, 13), mode='bicubic')", (2, 3, 4, 5)),
    Case("up_bicubic_down",
         "nn.Upsample(size=(3, 2), mode='bicubic', align_corners=True)", (1, 2, 8, 9)),
    Case("up_bicubic_frac", "nn.Upsample(scale_factor=1.7, mode='bicubic')", (1, 2, 6, 6)),
    Case("up_bicubic_rect_ac", "nn.Upsample(scale_factor=(0.6, 2.5), mode='bicubic', "
         "align_corners=True)", (1, 2, 5, 4)),
    Case("up_bicubic_recompute", "nn.Upsample(scale_factor=1.3, mode='bicubic', "
         "recompute_scale_factor=True)", (1, 2, 7, 5)),
    Case("up_bicubic_1px", "nn.Upsample(size=(3, 4), mode='bicubic')", (1, 2, 1, 1)),
    Case("up_bicubic_nan", "nn.Upsample(scale_factor=2, mode='bicubic')", (1, 2, 4, 4),
         data="nan"),
    Case("up_bicubic_extreme", "nn.Upsample(scale_factor=3, mode='bicubic')", (1, 1, 4, 3),
         data="extreme"),
    Case("up_bicubic_relu", "nn.Sequential(nn.Upsample(scale_factor=2, mode='bicubic'), "
         "nn.ReLU())", (1, 2, 3, 3)),
    Case("blk_up_bicubic_c20", blocked("nn.Upsample(scale_factor=2, mode='bicubic')", 20),
         (1, 3, 3, 4)),
    # Dropout in eval mode is removed
    Case("dropout_eval", "nn.Dropout(0.5)", SHAPE),
    Case("dropout_eval_chain", "nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.3), nn.ReLU())",
         (2, 3, 6, 6)),
    # unbatched (C, H, W) input where torch takes one: the layers run on a batch of one
    Case("unbatched_conv_pool", "nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), "
         "nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.AdaptiveAvgPool2d(1))", (3, 8, 8)),
    Case("unbatched_se_shuffle", "nn.Sequential(nn.Conv2d(3, 20, 3, padding=1, "
         "padding_mode='reflect'), nn.Hardswish(), SqueezeExcite(20), nn.Conv2d(20, 4, 1), "
         "nn.PixelShuffle(2))", (3, 6, 7)),
    Case("unbatched_flatten_linear", "nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(0), "
         "nn.Linear(4 * 3 * 3, 5))", (3, 5, 5)),
    Case("unbatched_conv_transpose", "nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2), "
         "nn.Sigmoid(), Scalar('rsub', 1.0))", (3, 4, 4)),
    Case("unbatched_mean", "Mean((1, 2))", (3, 5, 4)),
    Case("unbatched_adaptivemax_softmax", "nn.Sequential(nn.Conv2d(3, 8, 1), "
         "nn.AdaptiveMaxPool2d(2), nn.Softmax(dim=0))", (3, 5, 5)),
    Case("unbatched_residual_nan", "Add(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), "
         "nn.AvgPool2d(3, 1, 1)))", (3, 6, 6), data="nan"),
]
