from ..frameworks import Case

CASES: list[Case] = [
    Case("linear_2d", "nn.Linear(20, 17)", (3, 20)),
    Case("linear_1d", "nn.Linear(7, 5)", (7,)),
    Case("linear_3d", "nn.Linear(9, 6)", (2, 3, 9)),
    Case("linear_4d", "nn.Linear(5, 11)", (2, 3, 2, 5)),
    Case("linear_nobias", "nn.Linear(13, 70, bias=False)", (2, 13)),
    Case("linear_wide_tail", "nn.Linear(33, 130)", (1, 33)),
    Case("linear_1to1", "nn.Linear(1, 1)", (4, 1)),
    Case("linear_long_k", "nn.Linear(300, 3)", (2, 300)),
    Case("linear_nan", "nn.Linear(6, 4)", (3, 6), data="nan"),
    Case("linear_extreme", "nn.Linear(6, 4)", (3, 6), data="extreme"),
    Case("linear_relu", "nn.Sequential(nn.Linear(16, 24), nn.ReLU())", (4, 16)),
    Case("linear_sigmoid", "nn.Sequential(nn.Linear(10, 3), nn.Sigmoid())", (2, 10)),
    Case("linear_flatten_relu", "nn.Sequential(nn.Flatten(), nn.Linear(48, 10), nn.ReLU())",
         (2, 3, 4, 4)),
    Case("linear_residual", "Add(nn.Linear(8, 8))", (3, 8)),
    # eval BatchNorm2d on a 4-D Linear output: a per-channel affine on dim 1 in the epilogue
    Case("linear_4d_bn", "nn.Sequential(nn.Linear(5, 6), nn.BatchNorm2d(3))", (2, 3, 4, 5)),
    Case("linear_4d_bn_train", "nn.Sequential(nn.Linear(5, 6), nn.BatchNorm2d(3), nn.Tanh())",
         (2, 3, 4, 5), train=True),
]
