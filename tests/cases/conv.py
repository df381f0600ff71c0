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

# ConvTranspose2d: every argument, tails, degenerate sizes, and fused chains
CASES += [
    Case("convT_basic", "nn.ConvTranspose2d(3, 5, 3)", (2, 3, 5, 4)),
    Case("convT_stride2_pad", "nn.ConvTranspose2d(4, 17, 3, stride=2, padding=1)", (1, 4, 5, 6)),
    Case("convT_outpad_stride", "nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, "
         "output_padding=1)", (2, 3, 4, 5)),
    Case("convT_outpad_dilation", "nn.ConvTranspose2d(3, 4, 3, dilation=3, output_padding=2)",
         (1, 3, 4, 5)),
    Case("convT_outpad_rect", "nn.ConvTranspose2d(2, 3, (3, 2), stride=(3, 2), padding=(1, 0), "
         "output_padding=(2, 1))", (1, 2, 3, 4)),
    Case("convT_groups", "nn.ConvTranspose2d(6, 9, 3, stride=2, padding=1, groups=3)",
         (2, 6, 4, 4)),
    Case("convT_depthwise", "nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1, groups=8)",
         (1, 8, 4, 3)),
    Case("convT_dilation", "nn.ConvTranspose2d(4, 3, 3, padding=2, dilation=2)", (1, 4, 5, 5)),
    Case("convT_dilation_stride", "nn.ConvTranspose2d(3, 5, (2, 3), stride=2, dilation=(3, 2), "
         "output_padding=1)", (1, 3, 3, 4)),
    Case("convT_nobias", "nn.ConvTranspose2d(5, 3, (2, 3), stride=(1, 2), bias=False)",
         (2, 5, 3, 4)),
    Case("convT_stride_gt_kernel", "nn.ConvTranspose2d(3, 4, 2, stride=3)", (1, 3, 4, 3)),
    Case("convT_kernel_eq_input", "nn.ConvTranspose2d(4, 3, (4, 3))", (2, 4, 4, 3)),
    Case("convT_1x1_input", "nn.ConvTranspose2d(5, 6, 4, stride=2, padding=1)", (3, 5, 1, 1)),
    Case("convT_1x1_kernel", "nn.ConvTranspose2d(16, 8, 1, stride=2)", (1, 16, 3, 3)),
    Case("convT_big_padding", "nn.ConvTranspose2d(3, 4, 3, stride=2, padding=3)", (1, 3, 6, 6)),
    Case("convT_nan", "nn.ConvTranspose2d(3, 4, 3, stride=2)", (1, 3, 4, 4), data="nan"),
    Case("convT_bn_relu", "nn.Sequential(nn.ConvTranspose2d(4, 3, 3, stride=2), nn.BatchNorm2d(3), "
         "nn.ReLU())", (2, 4, 4, 5)),
    Case("convT_groups_bn_leaky", "nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, "
         "bias=False), nn.BatchNorm2d(6), nn.LeakyReLU(0.1))", (1, 4, 3, 4)),
    Case("convT_residual", "Add(nn.ConvTranspose2d(4, 4, 3, padding=1))", (1, 4, 5, 5)),
    Case("convT_bn_train_relu", "nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2), "
         "nn.BatchNorm2d(4), nn.ReLU())", (2, 3, 3, 3), train=True),
]
