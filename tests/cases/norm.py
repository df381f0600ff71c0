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
]
