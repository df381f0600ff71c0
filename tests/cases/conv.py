from ..frameworks import Case

CASES = [
    Case("conv_basic", "nn.Conv2d(3, 8, 3, padding=1)", (2, 3, 9, 7)),
    Case("conv_nobias_stride2", "nn.Conv2d(5, 17, 3, stride=2, padding=1, bias=False)", (1, 5, 11, 10)),
    Case("conv_kernel_eq_input", "nn.Conv2d(4, 6, (5, 4))", (2, 4, 5, 4)),
    Case("conv_rect", "nn.Conv2d(3, 5, (3, 1), stride=(2, 1), padding=(0, 2))", (1, 3, 8, 6)),
    Case("conv_dilation", "nn.Conv2d(4, 4, 3, padding=2, dilation=2)", (1, 4, 10, 9)),
    Case("conv_groups", "nn.Conv2d(6, 9, 3, padding=1, groups=3)", (2, 6, 7, 7)),
    Case("conv_depthwise", "nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)", (1, 8, 9, 9)),
    Case("conv_same_odd", "nn.Conv2d(3, 4, 3, padding='same')", (1, 3, 6, 5)),
    Case("conv_same_even", "nn.Conv2d(3, 4, 4, padding='same', dilation=1)", (1, 3, 6, 5)),
    Case("conv_same_even_dilated", "nn.Conv2d(2, 3, (2, 4), padding='same', dilation=(3, 1))", (1, 2, 7, 6)),
    Case("conv_valid", "nn.Conv2d(3, 4, 3, padding='valid')", (1, 3, 6, 5)),
    Case("conv_1x1", "nn.Conv2d(16, 24, 1)", (2, 16, 5, 5)),
    Case("conv_reflect", "nn.Conv2d(3, 4, 3, padding=1, padding_mode='reflect')", (1, 3, 6, 5)),
    Case("conv_replicate", "nn.Conv2d(3, 4, 3, padding=2, padding_mode='replicate')", (1, 3, 6, 5)),
    Case("conv_circular", "nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode='circular')", (1, 3, 6, 5)),
    Case("conv_nan", "nn.Conv2d(3, 4, 3, padding=1)", (1, 3, 5, 5), data="nan"),
]
