"""Size limits, all in one place (the thread count's are in runtime/threads.py).

Absurd sizes are refused before anything does work or allocates memory in proportion to
them: layer arguments when the layer is constructed, every tensor's shape as it is traced,
the arena and the parameter blob after planning. The bounds follow from the generated C and
from planning, not from any one machine, so a model compiles (or not) the same everywhere.
"""
from __future__ import annotations

import math

#: The generated C counts loops and indexes inside a tensor with `int` (sizes are literals).
INT_MAX = 2**31 - 1
#: Elements of one tensor, activation or parameter, with its channels padded to whole blocks
#: of the widest vector (BLOCK) as the blocked layout and packed weights store them: every
#: index inside it, and every loop bound, then fits a C `int`.
MAX_ELEMENTS = INT_MAX
#: Channels per block of the widest ISA (AVX-512): blocked tensors pad C to a multiple of it.
BLOCK = 16
#: Height and width of a feature map (the last two dimensions of a tensor of rank 3 or more),
#: and the arguments that set them (convolution padding, Upsample size and scale_factor,
#: AdaptiveAvgPool2d output_size): the planner and the C keep per-row and per-column tables
#: (tap ranges, source indices), so planning time and code size grow with them.
MAX_SPATIAL = 2**16
#: kernel_size, stride, dilation (per axis), pooling padding and PixelShuffle's factor: tiles
#: unroll over kernel columns and transposed convolutions plan a phase per stride step, so
#: planning time and code size grow with MAX_SPATIAL * MAX_KERNEL (2**24: seconds, not
#: hours). Image CNNs' kernels stay far below it (7, 11, 31).
MAX_KERNEL = 2**8
#: The parameter blob (every constant, packed): compile fills it in memory. 4 GiB holds any
#: CNN's weights several times over (VGG-16: 0.55 GiB).
MAX_PARAM_BYTES = 2**32
#: The arena of intermediate tensors, allocated per calling thread: past 64 GiB a call
#: could only fail to allocate it.
MAX_ARENA_BYTES = 2**36


def padded(channels: int) -> int:
    """`channels` rounded up to whole blocks, as blocked tensors and packed weights hold them."""
    return -(-channels // BLOCK) * BLOCK


def padded_numel(shape) -> int:
    """Elements of `shape` as stored, a 4-D tensor's channels padded to whole blocks."""
    if len(shape) == 4:
        n, c, h, w = shape
        shape = (n, padded(c), h, w)
    return math.prod(shape)


def shape_problem(shape) -> str | None:
    """Why a tensor of `shape` is too large to compile, or None."""
    if len(shape) >= 3 and max(shape[-2:]) > MAX_SPATIAL:
        return (f"its height and width must be at most {MAX_SPATIAL} (the planner and the "
                f"generated C keep per-row and per-column tables)")
    if padded_numel(shape) > MAX_ELEMENTS:
        return (f"it would have {padded_numel(shape)} elements (channels padded to blocks of "
                f"{BLOCK}); at most {MAX_ELEMENTS} are supported (a C int indexes them)")
    return None
