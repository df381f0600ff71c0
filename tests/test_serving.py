"""Serving beyond one process (API.md section 6): examples/dask_batch.py maps a compiled model
over a stack of images on a dask.distributed LocalCluster of worker processes, and its results
equal one process's."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import compiler

distributed = pytest.importorskip("distributed")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def example():
    import sys
    sys.path.insert(0, str(EXAMPLES))
    try:
        import dask_batch
    finally:
        sys.path.remove(str(EXAMPLES))
    return dask_batch


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        client.upload_file(str(EXAMPLES / "dask_batch.py"))     # the workers import it
        yield client


def test_dask_batch_equals_one_process(example, client):
    import dask.array as da
    m = compiler.compile(example.classifier(), (4, 3, 16, 16), threads=1)
    images = np.random.default_rng(0).standard_normal((96, 3, 16, 16), dtype=np.float32)
    expected = example.predict(images, m)
    assert expected.shape == (96, 10)
    assert np.array_equal(example.classify(client, m, images, 16, timeout=60), expected)
    # a lazy dask array made on the workers, in blocks of another size
    lazy = da.from_array(images, chunks=(32, 3, 16, 16))
    assert np.array_equal(example.classify(client, m, lazy, 32, timeout=60), expected)
    # both workers ran blocks, each from its own copy of the model
    assert len(client.scheduler_info()["workers"]) == 2
