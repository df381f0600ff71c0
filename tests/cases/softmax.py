from ..frameworks import Case

CASES: list[Case] = [
    Case("softmax_2d_dim1", "nn.Softmax(dim=1)", (4, 10)),
    Case("softmax_1d", "nn.Softmax(dim=0)", (13,)),
    Case("softmax_3d_dim0", "nn.Softmax(dim=0)", (5, 3, 2)),
    Case("softmax_4d_dim1", "nn.Softmax(dim=1)", (2, 17, 3, 5)),
    Case("softmax_4d_dim2", "nn.Softmax(dim=2)", (2, 3, 7, 4)),
    Case("softmax_4d_dim3", "nn.Softmax(dim=3)", (1, 2, 3, 9)),
    Case("softmax_4d_dim_neg1", "nn.Softmax(dim=-1)", (2, 3, 4, 5)),
    Case("softmax_4d_dim_neg3", "nn.Softmax(dim=-3)", (2, 3, 4, 5)),
    Case("softmax_inner_tail", "nn.Softmax(dim=1)", (1, 3, 10, 10)),
    Case("softmax_size1_dim", "nn.Softmax(dim=1)", (3, 1, 2, 2)),
    Case("softmax_extreme", "nn.Softmax(dim=1)", (3, 12), data="extreme"),
    Case("softmax_extreme_dim1", "nn.Softmax(dim=1)", (2, 6, 3, 3), data="extreme"),
    Case("softmax_nan", "nn.Softmax(dim=-1)", (6, 5), data="nan"),
    Case("softmax_nan_dim1", "nn.Softmax(dim=1)", (2, 4, 3, 3), data="nan"),
    # -1e4 * -1e35 overflows to +inf: rows holding +inf become NaN, as in PyTorch
    Case("softmax_pos_inf", "nn.Sequential(nn.LeakyReLU(-1e35), nn.Softmax(dim=1))", (6, 2),
         data="extreme"),
    # a softmax over one -inf element (0/0) is NaN
    Case("softmax_neg_inf", "nn.Sequential(nn.LeakyReLU(1e35), nn.Softmax(dim=1))", (9, 1),
         data="extreme"),
    Case("softmax_after_conv", "nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.Softmax(dim=1))",
         (2, 3, 4, 4)),
    Case("softmax_after_linear", "nn.Sequential(nn.Linear(12, 10), nn.Softmax(dim=-1))", (3, 12)),
    Case("softmax_residual", "Add(nn.Softmax(dim=1))", (2, 4, 3, 3)),
    Case("softmax_bn_relu", "nn.Sequential(nn.Softmax(dim=2), nn.BatchNorm2d(4), nn.ReLU())",
         (2, 4, 3, 5)),

    # the vectorised family: rows of whole vectors plus a tail, rows shorter than a vector,
    # and every binade with +-inf (rows holding +inf become NaN)
    Case("softmax_long_rows", "nn.Softmax(dim=1)", (3, 1000)),
    Case("softmax_row_33", "nn.Softmax(dim=-1)", (4, 33)),
    Case("softmax_row_16", "nn.Softmax(dim=-1)", (5, 16)),
    Case("softmax_wide", "nn.Softmax(dim=1)", (6, 37), data="wide"),
    Case("softmax_wide_dim1", "nn.Softmax(dim=1)", (2, 20, 3, 3), data="wide"),
    Case("softmax_inner_blocks", "nn.Softmax(dim=1)", (2, 5, 9, 15)),
    Case("softmax_relu_epilogue", "nn.Sequential(nn.Softmax(dim=-1), nn.ReLU())", (4, 3, 40)),
]
