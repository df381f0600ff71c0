from ..frameworks import Case


def head(c: int, hw: tuple, out: int, batch: int, tail: str = "", bias: bool = True) -> tuple:
    """(spec, shape) of a classifier head: conv -> ReLU -> adaptive avg pool to `hw` -> Flatten
    -> Linear (+ `tail`). The conv makes the pooled tensor channel-blocked, so the Linear reads
    the flattened blocked buffer as it lies (weight columns permuted, padded channels zero)."""
    k = c * hw[0] * hw[1]
    linear = f"nn.Linear({k}, {out}{'' if bias else ', bias=False'})"
    spec = (f"nn.Sequential(nn.Conv2d(5, {c}, 3, padding=1), nn.ReLU(), "
            f"nn.AdaptiveAvgPool2d({hw}), nn.Flatten(), {linear}{tail})")
    return spec, (batch, 5, 6, 7)


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

    # the fast family: GEMV (batch 1-3) and register-tiled micro-GEMM (more rows), tails in
    # rows, in features and out features (none a multiple of 16)
    Case("linear_gemv_b1", "nn.Linear(150, 130)", (1, 150)),
    Case("linear_gemv_b2_nobias", "nn.Linear(45, 67, bias=False)", (2, 45)),
    Case("linear_gemv_b3_relu", "nn.Sequential(nn.Linear(19, 33), nn.ReLU())", (3, 19)),
    Case("linear_gemm_b5_elu", "nn.Sequential(nn.Linear(77, 45), nn.ELU())", (5, 77)),
    Case("linear_gemm_b8_nobias", "nn.Linear(40, 49, bias=False)", (8, 40)),
    Case("linear_gemm_rows_tail", "nn.Sequential(nn.Linear(50, 19), nn.Tanh())", (3, 7, 50)),
    Case("linear_gemm_residual", "Add(nn.Linear(23, 23))", (9, 23)),
    # rows x K large enough that the weight panel is walked in K chunks (partial sums wait in
    # the output rows, the epilogue runs after the last chunk)
    Case("linear_gemm_k_chunks", "nn.Sequential(nn.Linear(1400, 5), nn.Sigmoid())", (9, 1400)),
    Case("linear_gemm_extreme", "nn.Linear(21, 18)", (6, 21), data="extreme"),
    Case("linear_gemv_nan", "nn.Linear(21, 18)", (1, 21), data="nan"),
]

# Linear after conv -> avgpool -> Flatten: C = 16, 20, 33 (whole, partial and 3 blocks),
# pooled to 1x1 and 2x3, batch 1, 2, 5, 8
for _id, (_c, _hw, _out, _n, _tail, _bias) in {
    "c16_1x1_b1": (16, (1, 1), 10, 1, "", True),
    "c20_1x1_b2": (20, (1, 1), 37, 2, "", True),
    "c33_1x1_b5_nobias": (33, (1, 1), 17, 5, "", False),
    "c33_1x1_b8_sigmoid": (33, (1, 1), 50, 8, ", nn.Sigmoid()", True),
    "c16_2x3_b8_relu": (16, (2, 3), 21, 8, ", nn.ReLU()", True),
    "c20_2x3_b1_tanh": (20, (2, 3), 70, 1, ", nn.Tanh()", True),
    "c33_2x3_b2_nobias": (33, (2, 3), 33, 2, "", False),
    "c33_2x3_b5_softmax": (33, (2, 3), 19, 5, ", nn.Softmax(dim=1)", True),
}.items():
    CASES.append(Case(f"linear_blocked_{_id}", *head(_c, _hw, _out, _n, _tail, _bias)))

CASES += [
    # a residual add fused into the Linear: its operand is the flattened tensor itself, which
    # then needs NCHW (a reorder before the Flatten), while the Linear reads it as well
    Case("linear_blocked_residual",
         "nn.Sequential(nn.Conv2d(5, 20, 3, padding=1), nn.AdaptiveAvgPool2d((2, 3)), "
         "nn.Flatten(), Add(nn.Linear(120, 120)), nn.ReLU())", (5, 5, 6, 7)),
    # two heads on one pooled tensor, summed: the Linear output is the residual operand
    Case("linear_blocked_two_heads",
         "nn.Sequential(nn.Conv2d(5, 20, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), "
         "Add(nn.Linear(20, 13), nn.Linear(20, 13)))", (2, 5, 6, 7)),
]
