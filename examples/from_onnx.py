"""Compile an ONNX file as it is: check it, compile it, run it, compare with ONNX Runtime.

    pip install onnx                      # (and onnxruntime for the comparison)
    python examples/from_onnx.py [model.onnx] [--shape 1x3x224x224]

Without a file it compiles the SqueezeNet 1.0 that ships with the onnx package's tests (its
weights are constants, so every class comes out equally likely).
"""
import argparse
import os

import numpy as np

import compiler


def main():
    import onnx
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=os.path.join(
        os.path.dirname(onnx.__file__), "backend", "test", "data", "light",
        "light_squeezenet.onnx"))
    parser.add_argument("--shape", help="input shape, e.g. 8x3x224x224 (fixes symbolic dims)")
    args = parser.parse_args()
    shape = tuple(int(d) for d in args.shape.split("x")) if args.shape else None

    report = compiler.check(args.model, shape)     # every unsupported operator, at once
    print(report)
    if not report.ok:
        return
    m = compiler.compile(args.model, shape)        # the shape comes from the file if not given
    print(m.plan)                                  # kernels are named after the ONNX nodes

    x = np.random.default_rng(0).random(m.input_shapes[0], np.float32)
    y = m(x)
    print(f"output {y.shape}, argmax {int(np.argmax(y.reshape(y.shape[0], -1)[0]))}")
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    print(f"max abs difference from ONNX Runtime: {np.abs(y - expected).max():.3g}")


if __name__ == "__main__":
    main()
