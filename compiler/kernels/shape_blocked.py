"""Upsample and Cat on channel-blocked (NCHW[V]c) tensors: one vector of V channels per pixel.

- upsample_blocked.c.j2: nearest / nearest-exact copy the source pixel's vector, bilinear blends
  four vectors with PyTorch's float32 weights in its order; the index and weight tables are the
  NCHW kernels' (compiler/kernels/shape.py). Work item = (n, channel block, output row).
- cat_blocked.c.j2: channel concatenation when the zero-copy pass cannot place the inputs
  (batch > 1, or a slice that starts inside a block). Output-stationary over (n, output block,
  row); output blocks that are whole blocks of one input copy vectors, blocks that straddle
  inputs are gathered lane by lane. Padded lanes are written as zero.
"""
from __future__ import annotations

from .spec import KernelSpec
from .family import Family, Layouts
from .pool_blocked import all_blocked
from .shape import bilinear_tables, nearest_tables
from .util import parallel_if

UPSAMPLE_MODES = ("nearest", "nearest-exact", "bilinear")


def runs_upsample_blocked(node, target, layouts: Layouts) -> bool:
    return node.op.mode in UPSAMPLE_MODES and all_blocked(node, target, layouts)


def upsample_blocked(spec: KernelSpec, target) -> None:
    op, v = spec.node.op, spec.out_layout.v
    n, c, h, w = spec.in_shapes[0]
    oh, ow = spec.out_shape[2:]
    cb = -(-c // v)
    if op.mode == "bilinear":
        tables = bilinear_tables(op, (h, w), (oh, ow))
        how = f"bilinear (align_corners={op.align_corners}), 4 vector taps with weight tables"
    else:
        rows, cols = nearest_tables(op, (h, w), (oh, ow))
        tables = dict(rows=rows, cols=cols)
        how = f"{op.mode}, one vector copy per pixel from index tables"
    moved = 4 * n * cb * v * (h * w + oh * ow)                        # bytes
    spec.template = "upsample_blocked.c.j2"
    spec.ctx = dict(mode="bilinear" if op.mode == "bilinear" else "nearest", v=v, n=n,
                    cb=cb, oh=oh, ow=ow, **tables,
                    parallel=bool(parallel_if(max(spec.flops, moved))) and n * cb * oh > 1)
    spec.note = f"{spec.out_layout}, {how}; threads over (n, channel block, output row)"


def runs_cat_blocked(node, target, layouts: Layouts) -> bool:
    return node.op.dim == 1 and all_blocked(node, target, layouts)


def cat_segments(channels: list[int], v: int) -> list[dict]:
    """The output channel blocks of a cat of inputs with `channels`, as segments [start, end)
    of blocks: "vector" runs copy whole blocks src.. of one input (output block ob reads its
    block ob - shift); "lanes" blocks list the pieces (input, src_cb, src_lane, dst lane,
    count, channel) they gather, and how many lanes hold channels (the rest are the output's
    padding). Each has a comment for the C."""
    total = sum(channels)
    starts = [sum(channels[:i]) for i in range(len(channels))]
    segments: list[dict] = []
    for b in range(-(-total // v)):
        lo, hi = b * v, min(b * v + v, total)
        pieces = []
        for i, (start, count) in enumerate(zip(starts, channels)):
            s, e = max(lo, start), min(hi, start + count)
            while s < e:                      # split where the input's blocks end
                src_cb, src_lane = divmod(s - start, v)
                take = min(e - s, v - src_lane)
                pieces.append(dict(input=i, src_cb=src_cb, src_lane=src_lane, dst=s - lo,
                                   count=take, channel=s - start))
                s += take
        whole = len(pieces) == 1 and pieces[0]["src_lane"] == 0 and pieces[0]["dst"] == 0 \
            and hi == lo + pieces[0]["count"]       # lanes past it: padding of both tensors
        if whole:
            p, last = pieces[0], segments[-1] if segments else None
            if last and last["kind"] == "vector" and last["input"] == p["input"] and \
                    last["src"] + (b - last["start"]) == p["src_cb"]:
                last["end"] = b + 1
            else:
                segments.append(dict(kind="vector", start=b, end=b + 1, input=p["input"],
                                     src=p["src_cb"], shift=b - p["src_cb"]))
        else:
            segments.append(dict(kind="lanes", start=b, end=b + 1, pieces=pieces,
                                 filled=hi - lo))
    for seg in segments:
        seg["comment"] = segment_comment(seg, v)
    return segments


def segment_comment(seg: dict, v: int) -> list[str]:
    """What a segment copies, as comment lines for the C: which input blocks, or which lanes
    from where."""
    if seg["kind"] == "vector":
        blocks = seg["end"] - seg["start"]
        return [f"output {span('block', seg['start'], blocks)}: "
                f"{span('block', seg['src'], blocks)} of in{seg['input']}"]
    lines = [f"output block {seg['start']}, lane by lane:"]
    lines += [f"{span('lane', p['dst'], p['count'])} from in{p['input']} "
              f"{span('channel', p['channel'], p['count'])}," for p in seg["pieces"]]
    if seg["filled"] < v:
        lines.append(f"{span('lane', seg['filled'], v - seg['filled'])} zero")
    else:
        lines[-1] = lines[-1].rstrip(",")
    return lines


def span(noun: str, first: int, count: int) -> str:
    """"lane 3" or "lanes 3..7"."""
    return f"{noun} {first}" if count == 1 else f"{noun}s {first}..{first + count - 1}"


def cat_blocked(spec: KernelSpec, target) -> None:
    v = spec.out_layout.v
    n, c, h, w = spec.out_shape
    channels = [s[1] for s in spec.in_shapes[:spec.anchor_arity]]
    segments = cat_segments(channels, v)
    cb = -(-c // v)
    spec.template = "cat_blocked.c.j2"
    spec.ctx = dict(v=v, n=n, cb=cb, h=h, w=w, segments=segments,
                    parallel=bool(parallel_if(8 * n * cb * v * h * w)) and n * cb * h > 1)
    gathered = sum(s["kind"] == "lanes" for s in segments)
    spec.note = (f"{spec.out_layout}, channels {'+'.join(map(str, channels))}: "
                 f"{cb - gathered} block(s) copied as vectors, {gathered} gathered lane by lane; "
                 "threads over (n, output block, row)")


UPSAMPLE_BLOCKED = Family("upsample_blocked", runs_upsample_blocked, upsample_blocked)
CAT_BLOCKED = Family("cat_blocked", runs_cat_blocked, cat_blocked)
