"""Batch inference beyond one process: map a compiled model over a large stack of images with
Dask (dask.distributed), and check the result against one process doing it all.

    pip install ".[dask]"
    python examples/dask_batch.py                        # a LocalCluster of worker processes
    python examples/dask_batch.py tcp://scheduler:8786   # a running cluster (dask scheduler)

The model is compiled once, here. Dask pickles it to the workers (weights, state and C source
travel, see runtime/pickling.py), once per worker process, not per task; each worker loads the
binary from its machine's smelt cache, or builds it there from the source the first time.
"""
from __future__ import annotations

import sys

import numpy as np

import compiler
from compiler import nn


def classifier() -> nn.Module:
    """A small residual classifier for 3x32x32 images, in eval mode."""
    compiler.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
                         nn.Softmax(dim=1)).eval()


def predict(images: np.ndarray, model) -> np.ndarray:
    """One block of images (a multiple of the model's batch) through the model, on a worker."""
    batch = model.input_shapes[0][0]
    return np.concatenate([model(images[i:i + batch]) for i in range(0, len(images), batch)])


def classify(client, model, images, block: int | None = None,
             timeout: float | None = None) -> np.ndarray:
    """`model` mapped over `images` on the workers of `client`; the stacked outputs. `images`
    is a dask array (each block along the first axis is a task) or a numpy array (cut into
    tasks of `block` images); blocks hold a multiple of the model's batch."""
    import dask
    import dask.array as da
    if not isinstance(images, da.Array):
        images = da.from_array(images, chunks=(block,) + images.shape[1:])
    # a Delayed model is one task: shipped once to each worker that needs it, not per block
    shared = dask.delayed(model, pure=True)
    classes = model.output_shapes[0][1]
    blocks = images.map_blocks(predict, shared, dtype=np.float32, drop_axis=[2, 3],
                               chunks=(images.chunks[0], (classes,)))
    return client.compute(blocks).result(timeout)


def main(argv: list[str]) -> None:
    import dask.array as da
    from dask.distributed import Client, LocalCluster
    batch, block, count = 8, 64, 4096
    m = compiler.compile(classifier(), (batch, 3, 32, 32), threads=1)
    # the stack is made where it is used, block by block, as da.from_zarr or da.from_npy_stack
    # would read one from storage; the client never holds it
    images = da.random.default_rng(0).standard_normal((count, 3, 32, 32), dtype=np.float32,
                                                      chunks=(block, 3, 32, 32))
    if argv:
        client = Client(argv[0])
    else:
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True))
    with client:
        print(f"{count} images on {len(client.scheduler_info()['workers'])} workers")
        distributed = classify(client, m, images, block)
    alone = predict(images.compute(), m)
    assert np.array_equal(distributed, alone), "the workers disagree with this process"
    print(f"predictions {distributed.shape}, equal to one process's")


if __name__ == "__main__":
    main(sys.argv[1:])
