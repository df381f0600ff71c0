"""The benchmark's outputs: machine description, Markdown tables, the JSON record, the chart."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from .suite import LABELS

#: CPU features worth knowing when reading the numbers (the rest of /proc/cpuinfo is noise)
NOTABLE_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512cd", "avx512bw",
                 "avx512dq", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                 "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_sizes() -> dict:
    """cpu0's caches as the kernel reports them, e.g. {"L1d": "48K", "L2": "1024K"}."""
    sizes = {}
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(root.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        sizes[f"L{level}{suffix}"] = size
    return sizes


def machine_info() -> dict:
    from compiler.target import Target, cpu_flags, physical_cores
    flags = cpu_flags()
    info = {"cpu": cpu_model(), "physical_cores": physical_cores(),
            "logical_cpus": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)),
            "isa": Target.detect().isa, "flags": [f for f in NOTABLE_FLAGS if f in flags],
            "caches": cache_sizes(), "platform": platform.platform(),
            "python": platform.python_version()}
    try:
        info["loadavg_start"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def busy_cpu_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (steal included: a hypervisor's other
    guests take time from us, too); 0 where /proc/stat is missing."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and of its children it has waited for (e.g. a C compiler)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def fmt_ms(value: float) -> str:
    """Three significant digits below 100 ms (0.0312, 7.10, 47.8), one decimal above."""
    return f"{value:.1f}" if value >= 100 else f"{value:#.3g}"


def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value >= 1000 or digits == 0:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def result_table(results: list[dict], frameworks: list[str]) -> str:
    """| net | batch | threads | GFLOP | smelt ms | torch ms | ORT ms | x torch | x ORT | ..."""
    head = ["net", "batch", "threads", "GFLOP"] + [f"{LABELS[f]} ms" for f in frameworks]
    head += [f"x {LABELS[f]}" for f in frameworks if f != "smelt"]
    head += ["GFLOP/s", "% peak", "max rel diff"]
    rows = []
    for r in results:
        ms = {f: r["frameworks"][f]["median_ms"] for f in frameworks}
        row = [r["net"], str(r["batch"]), str(r["threads"]), fmt(r["gflop"], 3)]
        row += [fmt_ms(ms[f]) for f in frameworks]
        row += [fmt(r["smelt_speedup"].get(f)) + "x" for f in frameworks if f != "smelt"]
        diffs = r["max_rel_diff"].values()
        row += [fmt(r["gflops"], 1), fmt(r["pct_peak"], 1),
                f"{max(diffs):.1e}" if diffs else "-"]
        rows.append(row)
    return markdown(head, rows, right=range(1, len(head)))


def profile_table(profile: dict) -> str:
    kernels = profile["kernels"]
    total = sum(k["ms"] for k in kernels) or 1.0
    rows = []
    for i, k in enumerate(kernels):
        layers = ", ".join(k["layers"])
        winograd = "*" if k.get("family") == "conv2d_winograd" else ""
        rows.append([str(i), k["name"], layers if len(layers) <= 48 else layers[:45] + "...",
                     fmt_ms(k["ms"]), fmt(k["gflops"], 1) + winograd,
                     f"{100 * k['ms'] / total:.1f}"])
    rows.append(["", "total", f"{len(kernels)} kernels", fmt_ms(total), "", "100.0"])
    return markdown(["#", "kernel", "layers", "ms", "GFLOP/s", "% time"], rows,
                    right=(0, 3, 4, 5))


def markdown(head: list[str], rows: list[list[str]], right=()) -> str:
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    right = set(right)

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), rule] + [line(r) for r in rows])


def write_json(record: dict, results_dir: Path, stamp: str) -> list[Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=1) + "\n"
    paths = [results_dir / f"{stamp}.json", results_dir / "latest.json"]
    for path in paths:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return paths


def chart_threads(results: list[dict]) -> int:
    """The chart's thread count: 2 if measured, else the largest measured."""
    counts = {r["threads"] for r in results}
    return 2 if 2 in counts else max(counts)


def write_chart(results: list[dict], frameworks: list[str], results_dir: Path,
                stamp: str) -> list[Path]:
    """Bars of speed relative to PyTorch eager (torch ms / framework ms) per network, one panel
    per batch size, at 2 threads. Needs matplotlib and PyTorch results."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = chart_threads(results)
    shown = [f for f in frameworks if f != "torch"]
    batches = sorted({r["batch"] for r in results})
    nets = list(dict.fromkeys(r["net"] for r in results))
    fig, axes = plt.subplots(1, len(batches), figsize=(6.5 * len(batches), 4.8), squeeze=False)
    width = 0.8 / len(shown)
    for ax, batch in zip(axes[0], batches):
        by_net = {r["net"]: r for r in results if r["batch"] == batch and r["threads"] == threads}
        for j, f in enumerate(shown):
            xs = [i + (j - (len(shown) - 1) / 2) * width for i in range(len(nets))]
            speed = [by_net[n]["speed_vs_torch"][f] if n in by_net else 0.0 for n in nets]
            bars = ax.bar(xs, speed, width, label=LABELS[f])
            ax.bar_label(bars, labels=[f"{s:.2f}x" if s else "" for s in speed], fontsize=7,
                         padding=2)
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label="PyTorch eager")
        ax.set_yscale("log")
        ax.set_xticks(range(len(nets)), nets, rotation=25, ha="right")
        ax.set_ylabel("speed relative to PyTorch eager (higher is faster)")
        ax.set_title(f"batch {batch}, {threads} thread{'s' if threads > 1 else ''}")
        ax.legend(fontsize=8)
    fig.suptitle("smelt and ONNX Runtime vs PyTorch eager (median latency)")
    fig.tight_layout()
    paths = [results_dir / f"{stamp}.png", results_dir / "latest.png"]
    for path in paths:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return paths
