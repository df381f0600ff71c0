from ..frameworks import Case

CASES = [
    Case("relu", "nn.ReLU()", (2, 3, 5, 4)),
    Case("relu_nan", "nn.ReLU()", (2, 3, 5, 4), data="nan"),
    Case("relu_inplace_residual", "Add(nn.ReLU(inplace=True))", (1, 4, 3, 3)),
    Case("add_inputs", "AddInputs()", [(2, 3, 4, 5), (2, 3, 4, 5)]),
]
