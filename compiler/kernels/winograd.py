"""Conv2d 3x3, stride 1, by Winograd's minimal filtering F(m x m, 3 x 3).

Direct convolution needs 9 multiplies per output pixel and input channel; F(2x2, 3x3) needs
16 per 2x2 tile, 4 per pixel (2.25x fewer), so it runs past the FMA ceiling that bounds the
direct kernels. Per output tile, with d the (m+2) x (m+2) input patch and g a 3x3 filter:

    Y = A^T [ (G g G^T) . (B^T d B) ] A          (Lavin & Gray, arXiv:1509.09308)

Summed over input channels, the elementwise product becomes (m+2)^2 independent GEMMs
(output channels x input channels x tiles), which run in the same register tiles as the
direct kernels' 1x1 case. G g G^T is computed here, once, in float64; B^T d B and A^T M A
have coefficients 0 and +-1 for m = 2, so they are additions in C.

Rounding differs from the direct sum: the input transform adds and subtracts neighbouring
pixels and the output transform sums nine products' partial sums. tests/test_winograd.py
measures the error against float64 on the test networks; compile(..., exact=True) never
picks this family.

Extreme inputs: the transforms would turn an infinite input into inf - inf = NaN where the
direct sum gives inf, and can overflow up to 9 times earlier than it. An input beyond
safe_input_limit (inf and NaN included), noticed while the rows are copied, makes the
kernel recompute the whole layer with the direct algorithm (the weights are kept in the
direct layout too), so such inputs give what conv2d_blocked gives, bit for bit.

A work item is a band of tile rows of one image: its input rows are copied into a
zero-bordered buffer (no bounds checks in the transform), transformed into `tiles`, and then,
for each group of output channel blocks, the GEMMs fill `products` and the output transform
(plus bias and the fused steps) stores the band's pixels. The buffers are thread-local
statics: per OpenMP thread, sized for this layer, never on the stack.
"""
from __future__ import annotations

import numpy as np

from .conv_blocked import pick_tile
from .family import Family, Layouts
from .spec import KernelSpec
from .tiling import balanced_widths, column_tiles, pack_weights, row_taps, tiles_blocks
from .util import padded_bias, parallel_if, plural

#: (A^T, G, B^T) per output tile size m, from Lavin & Gray (2015), section 4.
TRANSFORMS = {
    2: ([[1, 1, 1, 0],
         [0, 1, -1, -1]],
        [[1, 0, 0],
         [1 / 2, 1 / 2, 1 / 2],
         [1 / 2, -1 / 2, 1 / 2],
         [0, 0, 1]],
        [[1, 0, -1, 0],
         [0, 1, 1, 0],
         [0, -1, 1, 0],
         [0, 1, 0, -1]]),
    4: ([[1, 1, 1, 1, 1, 0],
         [0, 1, -1, 2, -2, 0],
         [0, 1, 1, 4, 4, 0],
         [0, 1, -1, 8, -8, 1]],
        [[1 / 4, 0, 0],
         [-1 / 6, -1 / 6, -1 / 6],
         [-1 / 6, 1 / 6, -1 / 6],
         [1 / 24, 1 / 12, 1 / 6],
         [1 / 24, -1 / 12, 1 / 6],
         [0, 0, 1]],
        [[4, 0, -5, 0, 1, 0],
         [0, -4, -4, 1, 1, 0],
         [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0],
         [0, 2, -1, -2, 1, 0],
         [0, 4, 0, -5, 0, 1]]),
}
#: the output tile size the family uses (4 is kept for measurements: 4x fewer multiplies,
#: but its transforms' coefficients up to 8 cost several bits of accuracy)
TILE = 2
#: Fewer channels than this on either side, and the GEMMs are too short to pay for the
#: transforms: the direct kernel runs the layer.
MIN_CHANNELS = 32
#: A work item's band holds at least this many tiles, and one more per this many bytes of
#: transformed weights: each weight vector the GEMMs load then feeds that many FMAs, and a
#: band streams the weights once. Measured with AVX2 code, one thread: 256 channels at 14x14
#: (4 MB) runs 1.59x direct with bands of 28 or 49 tiles, 1.47x with 16 and 1.24x with 7;
#: 128 channels at 28x28 (1 MB) 1.94x with 16, 1.85x with 28.
BAND_TILES = 16
BAND_WEIGHT_BYTES_PER_TILE = 64 * 1024
#: Weight-bound layers (few tiles, many channels) keep the direct kernel: the transformed
#: weights are (m+2)^2/9 times the size of the direct ones and stream once per band. Most
#: transformed-weight bytes per output tile of an image, per ISA. Measured on an Intel Xeon
#: (AVX-512 host), one thread, batch 1, 3x3 convolutions with ReLU, Winograd against direct:
#: 64 ch at 56x56 (5 KB per tile) 1.57x, 128 at 28x28 (21 KB) 1.76x, 256 at 14x14 (85 KB)
#: 1.26x, 512 at 7x7 (1 MB) 1.08x at batch 1 but 0.96x at batch 8; with AVX2 code the same
#: layers gain 1.91x, 1.95x, 1.46x and 1.18x (1.10x at batch 8).
MAX_WEIGHT_BYTES_PER_TILE = {"avx512": 256 * 1024, "avx2": 2 * 1024 * 1024,
                             "generic": 2 * 1024 * 1024}


def runs_winograd(node, target, layouts: Layouts) -> bool:
    """A 3x3 stride-1 undilated one-group convolution between blocked tensors, with enough
    channels on both sides and enough tiles per image to reuse its transformed weights."""
    op = node.op
    if not tiles_blocks(node, target) or node.anchor_arity != 1 or node.prologue \
            or node.store is not None:
        return False
    if not (layouts.ins[0].blocked and layouts.out.blocked):
        return False
    if tuple(op.kernel_size) != (3, 3) or op.stride != (1, 1) or op.dilation != (1, 1) \
            or op.groups != 1:
        return False
    if op.in_channels < MIN_CHANNELS or op.out_channels < MIN_CHANNELS:
        return False
    if not np.isfinite(op.params["weight"]).all():
        return False
    _, _, oh, ow = node.shape
    tiles = -(-oh // TILE) * -(-ow // TILE)
    alpha = TILE + 2
    weight_bytes = 4 * alpha * alpha * op.in_channels * op.out_channels
    return weight_bytes <= MAX_WEIGHT_BYTES_PER_TILE[target.isa] * tiles


def transform_lines(matrix, source: str, target: str, rows: int) -> list[str]:
    """C statements for T = M X M^T on vectors: X is `rows` x `rows` vectors named
    source<i>_<j>, T the len(M) x len(M) vectors target<a>_<b>, through the intermediate
    target<a>_<j>s. Zero coefficients are left out, +-1 become additions."""
    def combination(terms) -> str:
        text = ""
        # a positive term first: `b - a` rather than `-a + b`
        terms = sorted(terms, key=lambda term: term[0] <= 0)
        for coef, name in terms:
            if coef == 0:
                continue
            sign = "-" if coef < 0 else "+"
            magnitude = abs(coef)
            term = name if magnitude == 1 else f"{name} * {float(magnitude)!r}f"
            text += f" {sign} {term}" if text else (f"-{term}" if coef < 0 else term)
        return text or "(smelt_vf){0}"
    lines = []
    for a, row in enumerate(matrix):
        for j in range(rows):
            lines.append(f"const smelt_vf {target}{a}_{j}s = " + combination(
                [(c, f"{source}{i}_{j}") for i, c in enumerate(row)]) + ";")
    for a in range(len(matrix)):
        for b, row in enumerate(matrix):
            lines.append(f"const smelt_vf {target}{a}_{b} = " + combination(
                [(c, f"{target}{a}_{j}s") for j, c in enumerate(row)]) + ";")
    return lines


def transformed_weights(weight: np.ndarray, m: int, v: int) -> np.ndarray:
    """(OC, IC, 3, 3) -> [alpha^2][OCB][ICB][V_in][V_out]: G g G^T in float64, per position
    of the tile, as the GEMMs read it (zero-padded to whole blocks)."""
    _, g, _ = TRANSFORMS[m]
    g = np.asarray(g, np.float64)
    oc, ic = weight.shape[:2]
    ocb, icb = -(-oc // v), -(-ic // v)
    u = np.einsum("ai,ocij,bj->abco", g, weight.astype(np.float64), g)   # alpha, alpha, IC, OC
    alpha = m + 2
    padded = np.zeros((alpha * alpha, icb * v, ocb * v))
    padded[:, :ic, :oc] = u.reshape(alpha * alpha, ic, oc)
    return padded.reshape(alpha * alpha, icb, v, ocb, v).transpose(0, 3, 1, 2, 4)


def safe_input_limit(weight: np.ndarray) -> float:
    """The largest input magnitude at which no sum of the Winograd kernel can overflow: its
    partial sums are at most 81 * IC * max|g| * max|x| (|B^T d B| <= 4 max|d|, |G g G^T|
    <= 2.25 max|g|, nine products per output), 9 times the direct algorithm's bound. Within
    it both algorithms stay finite; beyond it (or for inf and NaN, whose transforms would turn
    inf - inf into NaN where the direct sum gives inf) the kernel runs the direct algorithm."""
    largest = float(np.abs(weight).max())
    if largest == 0.0:
        return float(np.finfo(np.float32).max)
    bound = float(np.finfo(np.float32).max) / (2 * 81 * weight.shape[1] * largest)
    return float(np.float32(min(bound, float(np.finfo(np.float32).max))))


def band_rows(tile_rows: int, tiles_per_row: int, weight_bytes: int, bands: int = 1) -> int:
    """Tile rows per band: about BAND_TILES tiles, or more for large weights, in at least
    `bands` bands balanced over the image."""
    wanted = max(BAND_TILES, weight_bytes // BAND_WEIGHT_BYTES_PER_TILE)
    rows = max(1, min(tile_rows, wanted // tiles_per_row))
    bands = max(-(-tile_rows // rows), min(bands, tile_rows))
    return -(-tile_rows // bands)


def conv2d_winograd(spec: KernelSpec, target) -> None:
    op = spec.node.op
    v, m = target.vector_floats, TILE
    alpha = m + 2
    a_t, _, b_t = TRANSFORMS[m]
    n, ic, h, w = spec.in_shapes[0]
    _, oc, oh, ow = spec.out_shape
    pt, _, pl, _ = op.padding
    icb, ocb = -(-ic // v), -(-oc // v)
    tile_rows, tiles_per_row = -(-oh // m), -(-ow // m)
    weight_bytes = 4 * alpha * alpha * icb * ocb * v * v
    rows_per_band = band_rows(tile_rows, tiles_per_row, weight_bytes)
    rb_oc, _ = pick_tile(target.isa, ocb, rows_per_band * tiles_per_row, kw=1)
    # work items: (image, band, part of the output channel groups). An odd number of few
    # items leaves a thread idle part of the time: two halves of the groups per band, or,
    # for one image in one band whose groups do not halve, two bands.
    halves = (ocb // rb_oc) % 2 == 0
    if n == 1 and -(-tile_rows // rows_per_band) == 1 and not halves:
        rows_per_band = band_rows(tile_rows, tiles_per_row, weight_bytes, bands=2)
    bands = -(-tile_rows // rows_per_band)
    band_tiles = rows_per_band * tiles_per_row
    rb_oc, rb_w = pick_tile(target.isa, ocb, band_tiles, kw=1)
    instances, runs = column_tiles(band_tiles, balanced_widths(band_tiles, rb_w),
                                   band_tiles, 1, 0, 1, 1)
    items = n * bands
    parts = 2 if items % 2 and items < 8 and (ocb // rb_oc) % 2 == 0 else 1
    spec.template = "conv2d_winograd.c.j2"
    spec.constant("weight", transformed_weights(op.params["weight"], m, v),
                  f"{alpha * alpha}x{ocb}x{icb}x{v}x{v}: G g G^T per tile position")
    spec.constant("bias", padded_bias(op, ocb * v), f"{oc} (+{ocb * v - oc} zero lanes)")
    spec.constant("direct_weight", pack_weights(op.params["weight"], 1, v, v, True),
                  f"{ocb}x{icb}x3x3x{v}x{v} packed, for inputs beyond the safe limit")
    kh_lo, kh_hi = row_taps(oh, h, 1, pt, 1, 3)
    spec.ctx = dict(
        v=v, m=m, alpha=alpha, n=n, h=h, w=w, pt=pt, pl=pl, oh=oh, ow=ow,
        in_blocks=icb, out_blocks=ocb, plane=h * w * v, image_floats=icb * h * w * v,
        bands=bands, band_rows=rows_per_band, tiles_per_row=tiles_per_row,
        band_tiles=band_tiles, row_floats=(tiles_per_row * m + 2) * v,
        # a band's last tile row, or a row's last tile, may reach past the output
        rows_overhang=bands * rows_per_band * m > oh, last_columns=ow - (tiles_per_row - 1) * m,
        tile_blocks=rb_oc, parts=parts, part_groups=ocb // rb_oc // parts,
        runs=[dict(first=start, count=count, width=instances[index][0])
              for index, start, count in runs],
        position_weights=ocb * icb * v * v, block_weights=icb * v * v,
        input_transform=transform_lines(b_t, "d", "x", alpha),
        # the direct algorithm, for inputs beyond the safe limit: taps per row and column
        limit=safe_input_limit(op.params["weight"]), kh_lo=kh_lo, kh_hi=kh_hi,
        kw_lo=row_taps(ow, w, 1, pl, 1, 3)[0], kw_hi=row_taps(ow, w, 1, pl, 1, 3)[1],
        output_transform=transform_lines(a_t, "p", "y", alpha),
        parallel=parallel_if(spec.flops) and items * parts > 1)
    spec.note = (f"Winograd F({m}x{m}, 3x3): {plural(bands, 'band')} of {band_tiles} tiles, "
                 f"GEMM tile {rb_w} tiles x {plural(rb_oc, 'block')} of {v}, "
                 f"{alpha * alpha} multiplies per {m * m} pixels (direct: {9 * m * m}), "
                 + (f"threads over (n, band{', half' if parts > 1 else ''})"
                    if spec.ctx["parallel"] else "one thread"))


CONV2D_WINOGRAD = Family("conv2d_winograd", runs_winograd, conv2d_winograd, exact=False)
