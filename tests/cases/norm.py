from ..frameworks import Case

CASES: list[Case] = [
    Case("bn_train", "nn.BatchNorm2d(5)", (2, 5, 4, 3), train=True),
    Case("bn_train_17", "nn.BatchNorm2d(17)", (3, 17, 3, 5), train=True),
    Case("bn_train_momentum_none", "nn.BatchNorm2d(4, momentum=None)", (2, 4, 3, 3), train=True),
    Case("bn_train_momentum_zero", "nn.BatchNorm2d(4, momentum=0.0)", (2, 4, 3, 3), train=True),
    Case("bn_train_eps_momentum", "nn.BatchNorm2d(3, eps=1e-3, momentum=0.3)", (2, 3, 5, 2),
         train=True),
    Case("bn_train_no_affine", "nn.BatchNorm2d(6, affine=False)", (2, 6, 3, 4), train=True),
    Case("bn_train_no_track", "nn.BatchNorm2d(4, track_running_stats=False)", (2, 4, 3, 3),
         train=True),
    Case("bn_eval_no_track", "nn.BatchNorm2d(4, track_running_stats=False)", (2, 4, 3, 3)),
    Case("bn_eval_no_track_no_affine", "nn.BatchNorm2d(3, affine=False, "
         "track_running_stats=False)", (3, 3, 2, 2)),
    Case("bn_train_1x1", "nn.BatchNorm2d(3)", (4, 3, 1, 1), train=True),
    Case("bn_train_batch1", "nn.BatchNorm2d(3)", (1, 3, 2, 1), train=True),
    Case("bn_train_nan", "nn.BatchNorm2d(5)", (2, 5, 3, 3), train=True, data="nan"),
    Case("bn_train_extreme", "nn.BatchNorm2d(4)", (2, 4, 3, 3), train=True, data="extreme"),
    Case("bn_train_relu", "nn.Sequential(nn.BatchNorm2d(6), nn.ReLU())", (2, 6, 3, 3),
         train=True),
    Case("bn_train_residual", "Add(nn.BatchNorm2d(4))", (2, 4, 3, 3), train=True),
    Case("conv_bn_train_relu", "nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU())",
         (2, 3, 5, 5), train=True),

    # LocalResponseNorm: windows clipped at both ends, even sizes, a window wider than the
    # channels, 3-D (N, C, L) input, more than one pixel tile (256), NaN and overflow
    Case("lrn_2", "nn.LocalResponseNorm(2)", (2, 5, 4, 3)),
    Case("lrn_alexnet", "nn.Sequential(nn.Conv2d(3, 12, 3), nn.ReLU(), "
         "nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))", (1, 3, 9, 9)),
    Case("lrn_wide_window", "nn.LocalResponseNorm(9, alpha=0.5, beta=0.3, k=0.5)", (1, 4, 3, 3)),
    Case("lrn_size1", "nn.LocalResponseNorm(1, alpha=1.0)", (1, 3, 2, 5)),
    Case("lrn_3d", "nn.LocalResponseNorm(4, alpha=0.1)", (2, 6, 7)),
    Case("lrn_tiles", "nn.LocalResponseNorm(3, alpha=0.01)", (1, 4, 20, 15)),
    Case("lrn_nan", "nn.LocalResponseNorm(3, alpha=0.1)", (1, 6, 4, 4), data="nan"),
    Case("lrn_extreme", "nn.LocalResponseNorm(3, alpha=1.0, beta=2.0)", (1, 6, 3, 3),
         data="extreme"),
    Case("lrn_sigmoid", "nn.Sequential(nn.LocalResponseNorm(3), nn.Sigmoid())", (2, 4, 3, 3)),
]
