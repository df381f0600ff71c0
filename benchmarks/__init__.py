"""smelt's benchmark harness: smelt vs PyTorch eager vs ONNX Runtime on tests/nets.py's networks.

    pip install ".[bench]" && python -m benchmarks.run          # from the repository root

run.py drives one worker process per framework (worker.py) round by round, report.py writes the
table, JSON and chart, suite.py says what is measured (networks, shapes, weights, inputs).
"""
