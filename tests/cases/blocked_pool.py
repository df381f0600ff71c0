"""Layer cases that run on channel-blocked tensors (a convolution in front).

Pools on NCHW[V]c tensors: a 1x1 convolution makes the pool's input blocked and a 1x1 `tail`
convolution reads its output, so the layout pass keeps the pool blocked (a pool whose result is
returned directly runs in NCHW). Channel counts 8/16/17/20/33 give full and partial blocks for
V = 8 and 16; every argument edge of tests/cases/pool.py, NaN and fused epilogues.
"""
from ..frameworks import Case


def blocked(layers: str, c: int, tail: bool = True) -> str:
    """conv(3 -> c) -> layers -> conv(c -> 5): `layers` runs on a blocked tensor."""
    end = f", nn.Conv2d({c}, 5, 1)" if tail else ""
    return f"nn.Sequential(nn.Conv2d(3, {c}, 1), {layers}{end})"


CASES = [
    # MaxPool2d
    Case("blk_maxpool_k2_c16", blocked("nn.MaxPool2d(2)", 16), (2, 3, 8, 8)),
    Case("blk_maxpool_k3_s2_p1_ceil_c20", blocked("nn.MaxPool2d(3, 2, 1, ceil_mode=True)", 20),
         (1, 3, 9, 10)),
    Case("blk_maxpool_odd_floor_c8", blocked("nn.MaxPool2d(2)", 8), (2, 3, 7, 9)),
    Case("blk_maxpool_ceil_c17", blocked("nn.MaxPool2d(2, ceil_mode=True)", 17), (1, 3, 7, 9)),
    Case("blk_maxpool_ceil_pad_dropped_c17",
         blocked("nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)", 17), (1, 3, 5, 6)),
    Case("blk_maxpool_dilation_c8",
         blocked("nn.MaxPool2d(3, stride=1, padding=1, dilation=2)", 8), (2, 3, 7, 8)),
    Case("blk_maxpool_dilation_ceil_c33",
         blocked("nn.MaxPool2d(2, 2, padding=1, dilation=(2, 3), ceil_mode=True)", 33),
         (1, 3, 8, 9)),
    Case("blk_maxpool_stride_gt_kernel_c16", blocked("nn.MaxPool2d(2, stride=3)", 16),
         (1, 3, 8, 8)),
    Case("blk_maxpool_kernel_eq_input_c20", blocked("nn.MaxPool2d((5, 4))", 20), (2, 3, 5, 4)),
    Case("blk_maxpool_rect_c17", blocked("nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0))", 17),
         (1, 3, 7, 6)),
    Case("blk_maxpool_nan_c20", blocked("nn.MaxPool2d(3, 2, 1)", 20), (1, 3, 8, 8), data="nan"),
    Case("blk_maxpool_nan_dilation_c17", blocked("nn.MaxPool2d(2, 1, dilation=2)", 17),
         (2, 3, 6, 6), data="nan"),
    Case("blk_maxpool_extreme_c16", blocked("nn.MaxPool2d(2, 1, padding=1)", 16), (1, 3, 5, 5),
         data="extreme"),
    Case("blk_maxpool_bn_relu_c20",
         blocked("nn.MaxPool2d(3, 2, 1), nn.BatchNorm2d(20), nn.ReLU()", 20), (2, 3, 9, 9)),
    Case("blk_maxpool_relu_c16", blocked("nn.MaxPool2d(3, 1, 1), nn.ReLU()", 16), (1, 3, 6, 7)),
    Case("blk_maxpool_sigmoid_c17", blocked("nn.MaxPool2d(2), nn.Sigmoid()", 17), (1, 3, 6, 8)),
    # the stem of ResNet: conv + BN + ReLU, then max-pool 3x3/2
    Case("blk_maxpool_stem_c33",
         "nn.Sequential(nn.Conv2d(3, 33, 7, 2, 3), nn.BatchNorm2d(33), nn.ReLU(), "
         "nn.MaxPool2d(3, 2, 1), nn.Conv2d(33, 4, 3, padding=1))", (1, 3, 23, 19)),
    # AvgPool2d
    Case("blk_avgpool_k2_c16", blocked("nn.AvgPool2d(2)", 16), (2, 3, 8, 8)),
    Case("blk_avgpool_pad_c20", blocked("nn.AvgPool2d(3, 2, 1)", 20), (1, 3, 7, 7)),
    Case("blk_avgpool_pad_exclude_c17", blocked("nn.AvgPool2d(3, 2, 1, count_include_pad=False)",
                                                17), (2, 3, 7, 7)),
    Case("blk_avgpool_ceil_c8", blocked("nn.AvgPool2d(2, ceil_mode=True)", 8), (1, 3, 7, 9)),
    Case("blk_avgpool_ceil_exclude_c33",
         blocked("nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)", 33), (1, 3, 7, 9)),
    Case("blk_avgpool_ceil_pad_c20", blocked("nn.AvgPool2d(3, 2, 1, ceil_mode=True)", 20),
         (1, 3, 8, 10)),
    Case("blk_avgpool_ceil_pad_exclude_c20",
         blocked("nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)", 20),
         (2, 3, 8, 10)),
    Case("blk_avgpool_ceil_pad_dropped_c17",
         blocked("nn.AvgPool2d(2, 2, padding=1, ceil_mode=True)", 17), (1, 3, 5, 6)),
    Case("blk_avgpool_ceil_pad_dropped_exclude_c17",
         blocked("nn.AvgPool2d(2, 2, padding=1, ceil_mode=True, count_include_pad=False)", 17),
         (1, 3, 5, 6)),
    Case("blk_avgpool_divisor_override_c16",
         blocked("nn.AvgPool2d(3, 2, 1, divisor_override=5)", 16), (1, 3, 7, 7)),
    Case("blk_avgpool_divisor_override_ceil_c17",
         blocked("nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False, divisor_override=3)",
                 17), (2, 3, 5, 7)),
    Case("blk_avgpool_stride_gt_kernel_c20", blocked("nn.AvgPool2d(2, stride=3)", 20),
         (1, 3, 8, 8)),
    # a window covering the whole input: the global-sum path
    Case("blk_avgpool_kernel_eq_input_c20", blocked("nn.AvgPool2d((5, 4))", 20), (2, 3, 5, 4)),
    Case("blk_avgpool_rect_c33", blocked("nn.AvgPool2d((3, 1), stride=(1, 2), padding=(1, 0))", 33),
         (1, 3, 6, 7)),
    Case("blk_avgpool_nan_c17", blocked("nn.AvgPool2d(2, 1)", 17), (1, 3, 5, 5), data="nan"),
    Case("blk_avgpool_residual_c20", blocked("Add(nn.AvgPool2d(3, 1, 1))", 20), (2, 3, 6, 6)),
    Case("blk_avgpool_bn_relu_c17",
         blocked("nn.AvgPool2d(2), nn.BatchNorm2d(17), nn.ReLU()", 17), (2, 3, 6, 6)),
    # AdaptiveAvgPool2d
    Case("blk_adaptive_1_c20", blocked("nn.AdaptiveAvgPool2d(1)", 20), (2, 3, 5, 7)),
    Case("blk_adaptive_1_large_c33", blocked("nn.AdaptiveAvgPool2d((1, 1))", 33), (1, 3, 16, 16)),
    Case("blk_adaptive_1_odd_c16", blocked("nn.AdaptiveAvgPool2d(1)", 16), (1, 3, 7, 7)),
    Case("blk_adaptive_3_c17", blocked("nn.AdaptiveAvgPool2d(3)", 17), (2, 3, 7, 8)),
    Case("blk_adaptive_none_2_c16", blocked("nn.AdaptiveAvgPool2d((None, 2))", 16), (1, 3, 5, 7)),
    Case("blk_adaptive_7_from_5_c20", blocked("nn.AdaptiveAvgPool2d(7)", 20), (1, 3, 5, 5)),
    Case("blk_adaptive_rect_c8", blocked("nn.AdaptiveAvgPool2d((2, 3))", 8), (2, 3, 7, 8)),
    Case("blk_adaptive_overlap_c33", blocked("nn.AdaptiveAvgPool2d((4, 5))", 33), (1, 3, 9, 11)),
    Case("blk_adaptive_nan_c17", blocked("nn.AdaptiveAvgPool2d(3)", 17), (1, 3, 7, 7),
         data="nan"),
    Case("blk_adaptive_1_bn_relu_c20",
         blocked("nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(20), nn.ReLU()", 20), (2, 3, 6, 5)),
    Case("blk_adaptive_tanh_c17", blocked("nn.AdaptiveAvgPool2d(2), nn.Tanh()", 17), (2, 3, 5, 6)),
    Case("blk_up_area_c20", blocked("nn.Upsample(size=(3, 4), mode='area')", 20), (1, 3, 7, 9)),
    # AdaptiveMaxPool2d
    Case("blk_adaptivemax_1_c20", blocked("nn.AdaptiveMaxPool2d(1)", 20), (2, 3, 5, 7)),
    Case("blk_adaptivemax_overlap_c17", blocked("nn.AdaptiveMaxPool2d((4, 5))", 17),
         (1, 3, 9, 11)),
    Case("blk_adaptivemax_up_c16", blocked("nn.AdaptiveMaxPool2d(6)", 16), (1, 3, 4, 5)),
    Case("blk_adaptivemax_nan_c20", blocked("nn.AdaptiveMaxPool2d(3)", 20), (1, 3, 7, 7),
         data="nan"),
    Case("blk_adaptivemax_relu_c8", blocked("nn.AdaptiveMaxPool2d(2), nn.ReLU()", 8),
         (2, 3, 5, 6)),
]
