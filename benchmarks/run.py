"""smelt vs PyTorch eager vs ONNX Runtime on tests/nets.py's networks, in one command.

    python -m benchmarks.run [--quick] [--nets resnet18 espcn] [--batches 1 8] [--threads 1 2]

Each framework runs in its own worker process (benchmarks/worker.py) on the same weights
(initialised by torch.nn, BatchNorm statistics randomised, eval mode) and the same input.
Before timing, every pair of outputs must agree to --tolerance (max |a - b| / max |a|, |b|).
Then the workers take turns, round by round in rotating order, each running one timing batch
(back-to-back calls for Settings.batch_seconds) while the others wait idle on their pipe; a
short pause between batches lets OpenMP and ONNX Runtime threads stop spinning. Medians are
over all calls of all rounds. % peak compares smelt's GFLOP/s (m.plan.total_flops per call)
with the FMA peak that smelt's own generated kernel (compiler/peak.py) reaches in the same run.
The CPU time other processes take while a configuration is timed is recorded (other_load).

Writes benchmarks/results/<timestamp>.json and latest.json (settings, machine, versions,
every sample), a PNG chart of speed relative to PyTorch eager, and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import report, suite

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: frameworks whose threads come from libgomp, which honours OMP_PROC_BIND (and ignores a
#: proc_bind clause unless it or OMP_PLACES is set); ONNX Runtime has its own thread pool
OPENMP_FRAMEWORKS = ("smelt", "torch")
RECORDED_ENV = ("OMP_", "GOMP_", "KMP_", "MKL_", "SMELT_", "ORT_", "OPENBLAS_", "ONEDNN_",
                "ATEN_")
FRAMEWORK_MODULES = {"smelt": "compiler", "torch": "torch", "onnxruntime": "onnxruntime",
                     "openvino": "openvino"}
BUSY_LOAD = 0.25           # cores kept busy by other processes: above this, numbers are noisy
DEFINITIONS = {
    "median_ms": "median duration of all calls of all rounds (one call = one forward pass)",
    "smelt_speedup": "the framework's median / smelt's median (> 1: smelt is faster)",
    "speed_vs_torch": "PyTorch's median / the framework's median (the chart)",
    "gflops": "smelt's m.plan.total_flops / smelt's median (multiply-add = 2 FLOP; the direct "
              "algorithm's count: Winograd layers do fewer multiplies)",
    "pct_peak": "gflops / fma_peak_gflops at the same thread count (past 100 with Winograd)",
    "fma_peak_gflops": "best of the FMA-peak kernel's runs at the start and the end",
    "max_rel_diff": "max |a - b| / max(max |a|, max |b|) between two frameworks' outputs",
    "other_load": "cores other processes kept busy on average while the configuration was "
                  "timed (/proc/stat busy time minus this run's processes)",
}


@dataclass(frozen=True)
class Settings:
    rounds: int = 10                 # timing batches per framework and configuration
    batch_seconds: float = 0.2       # length of one timing batch (at least one call)
    max_calls: int = 100             # per timing batch
    warmup_seconds: float = 0.3      # of calls after loading, before the first round
    settle_seconds: float = 0.05     # idle pause between two timing batches
    profile_repeats: int = 20
    peak_seconds: float = 0.1        # per FMA peak run; best of `peak_repeats`, start and end
    peak_repeats: int = 5


QUICK = Settings(rounds=2, batch_seconds=0.05, max_calls=20, warmup_seconds=0.0,
                 settle_seconds=0.01, profile_repeats=3, peak_seconds=0.05, peak_repeats=3)


class BenchmarkError(RuntimeError):
    pass


class Worker:
    """One framework's worker process and its JSON-lines pipe; stderr goes to a log file."""

    def __init__(self, framework: str, env: dict, log: Path):
        self.framework, self.log = framework, log
        self.env = {k: v for k, v in env.items() if k.startswith(RECORDED_ENV)}
        with open(log, "w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.worker", framework], cwd=ROOT, env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
                bufsize=1)
        self.hello = self.reply()

    def send(self, op: str, **fields) -> None:
        self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.proc.stdin.flush()

    def reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise BenchmarkError(f"the {self.framework} worker exited "
                                 f"(code {self.proc.poll()}); its log:\n{self.log_tail()}")
        message = json.loads(line)
        if "error" in message:
            raise BenchmarkError(f"the {self.framework} worker failed:\n{message['error']}")
        return message

    def request(self, op: str, **fields) -> dict:
        self.send(op, **fields)
        return self.reply()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()


#: how each framework is held to an instruction set narrower than the host's (--isa):
#: smelt's own variable, oneDNN's (OpenVINO's CPU plugin and PyTorch's convolutions) and
#: ATen's vectorised kernels. ONNX Runtime has none: MLAS picks its kernels from cpuid.
ISA_ENV = {
    "avx2": {"smelt": {"SMELT_ISA": "avx2"},
             "torch": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
             "openvino": {"ONEDNN_MAX_CPU_ISA": "AVX2"}},
}


def harness_env(framework: str, proc_bind: str, isa: str | None = None) -> dict:
    """What the harness adds to a worker's environment: OMP_PROC_BIND for libgomp's users,
    and with `isa` what holds the framework to that instruction set."""
    env = dict(ISA_ENV[isa].get(framework, {})) if isa else {}
    if proc_bind != "none" and framework in OPENMP_FRAMEWORKS \
            and "OMP_PROC_BIND" not in os.environ:
        env["OMP_PROC_BIND"] = proc_bind
    return env


def available_frameworks(requested: list[str]) -> tuple[list[str], list[str]]:
    """The requested frameworks that can run here, and a note for each one skipped."""
    if "smelt" not in requested:
        raise SystemExit("--frameworks must include smelt (its FLOP counts drive the report)")
    chosen, notes = [], []
    for framework in suite.FRAMEWORKS:
        if framework not in requested:
            continue
        if importlib.util.find_spec(FRAMEWORK_MODULES[framework]) is None:
            notes.append(f"{framework} is not installed: skipped (pip install '.[bench]')")
        elif framework in ("onnxruntime", "openvino") and "torch" not in chosen:
            notes.append(f"{framework} needs PyTorch to convert the models: skipped")
        else:
            chosen.append(framework)
    return chosen, notes


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def check_outputs(outputs: dict[str, np.ndarray], tolerance: float, where: str) -> dict:
    """Every pair of frameworks' outputs; BenchmarkError naming the pairs beyond tolerance."""
    names = list(outputs)
    diffs = {f"{a}/{b}": suite.max_rel_diff(outputs[a], outputs[b])
             for i, a in enumerate(names) for b in names[i + 1:]}
    bad = {pair: d for pair, d in diffs.items() if not d <= tolerance}
    if bad:
        raise BenchmarkError(f"{where}: outputs disagree beyond {tolerance:g} (max |a - b| / "
                             "max |a|,|b|): " + ", ".join(f"{p} {d:.2e}" for p, d in bad.items()))
    return diffs


def measure(workers: dict[str, Worker], frameworks: list[str], cfg: Settings) -> dict:
    """Timing batches round by round, the frameworks' order rotating: samples per round (s)."""
    samples = {f: [] for f in frameworks}
    for r in range(cfg.rounds):
        for f in frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]:
            reply = workers[f].request("time", seconds=cfg.batch_seconds,
                                       max_calls=cfg.max_calls)
            samples[f].append(reply["samples"])
            time.sleep(cfg.settle_seconds)
    return samples


def summarise(net, batch, threads, shape, frameworks, loads, samples, diffs) -> dict:
    ms = {f: 1e3 * float(np.median([s for batch_ in samples[f] for s in batch_]))
          for f in frameworks}
    flops = loads["smelt"]["flops"]
    gflops = flops / ms["smelt"] / 1e6
    entry = {
        "net": net, "batch": batch, "threads": threads, "input_shape": list(shape),
        "gflop": flops / 1e9, "max_rel_diff": diffs,
        "frameworks": {f: {"median_ms": ms[f],
                           "min_ms": 1e3 * min(min(b) for b in samples[f]),
                           "calls": sum(len(b) for b in samples[f]),
                           "samples_ms": [[round(1e3 * s, 5) for s in b] for b in samples[f]],
                           "load": loads[f]} for f in frameworks},
        "smelt_speedup": {f: ms[f] / ms["smelt"] for f in frameworks if f != "smelt"},
        "gflops": gflops,
    }
    if "torch" in frameworks:
        entry["speed_vs_torch"] = {f: ms["torch"] / ms[f] for f in frameworks}
    return entry


class Harness:
    """The workers and the run's record: one method per step of the benchmark."""

    def __init__(self, args, cfg: Settings, frameworks: list[str], tmp: Path, record: dict):
        self.args, self.cfg, self.frameworks, self.tmp = args, cfg, frameworks, tmp
        self.record = record
        self.workers: dict[str, Worker] = {}

    def start(self) -> None:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        for f in self.frameworks:
            added = harness_env(f, self.args.proc_bind, self.args.isa)
            env = {**os.environ, "PYTHONPATH": path, **added}
            self.workers[f] = w = Worker(f, env, self.tmp / f"{f}.log")
            self.record["versions"].update(w.hello["versions"])
            self.record["worker_env"][f] = w.env
            self.record["harness_env"][f] = added

    def close(self) -> None:
        for w in self.workers.values():
            w.close()

    def measure_peak(self, when: str) -> None:
        cfg = self.cfg
        reply = self.workers["smelt"].request("peak", threads=self.args.threads,
                                              seconds=cfg.peak_seconds, repeats=cfg.peak_repeats)
        self.record.setdefault("fma_peak_runs", {})[when] = reply["gflops"]
        self.record["fma_peak_kernel"] = reply["kernel"]
        progress(f"FMA peak at the {when} (GFLOP/s): " + ", ".join(
            f"{t} thread{'s' if t != '1' else ''} {g:.1f}" for t, g in reply["gflops"].items()))

    def run(self) -> None:
        args = self.args
        weights_by = "torch" if "torch" in self.frameworks else "smelt"
        self.record["weights_from"] = weights_by
        self.measure_peak("start")
        for net in args.nets:
            weights = self.tmp / f"{net}.npz"
            self.workers[weights_by].request("weights", net=net, small=args.small,
                                             seed=args.seed, path=str(weights))
            for batch in args.batches:
                x_path = self.tmp / f"{net}_b{batch}.npy"
                np.save(x_path, suite.make_input(net, batch, args.small, args.seed))
                common = dict(net=net, batch=batch, small=args.small, weights=str(weights),
                              input=str(x_path), onnx=str(self.tmp / f"{net}_b{batch}.onnx"))
                extra = {}
                if "onnxruntime" in self.frameworks:
                    extra = self.workers["torch"].request("export", path=common["onnx"],
                                                          **common)
                for threads in args.threads:
                    self.record["results"].append(self.configuration(threads, common, extra))
                    extra = {}
                    if net == args.profile and batch == min(args.batches) \
                            and threads == max(args.threads):
                        self.profile(net, batch, threads)
        self.measure_peak("end")

    def configuration(self, threads: int, common: dict, export_info: dict) -> dict:
        """Load (in parallel), check the outputs agree, time round by round, summarise."""
        shape = suite.input_shape(common["net"], common["batch"], common["small"])
        where = f"{common['net']} {'x'.join(map(str, shape))} threads={threads}"
        for f in self.frameworks:
            self.workers[f].send("load", threads=threads, output=str(self.tmp / f"out_{f}.npy"),
                                 warmup_seconds=self.cfg.warmup_seconds, **common)
        loads = {f: self.workers[f].reply()["info"] for f in self.frameworks}
        if "onnxruntime" in loads:
            loads["onnxruntime"].update(export_info)
        outputs = {f: np.load(self.tmp / f"out_{f}.npy") for f in self.frameworks}
        diffs = check_outputs(outputs, self.args.tolerance, where)
        before = self.cpu_snapshot()
        samples = measure(self.workers, self.frameworks, self.cfg)
        entry = summarise(common["net"], common["batch"], threads, shape, self.frameworks,
                          loads, samples, diffs)
        entry["other_load"] = self.other_load(before)
        progress(f"{where}: " + ", ".join(
            f"{suite.LABELS[f]} {entry['frameworks'][f]['median_ms']:.3f} ms"
            for f in self.frameworks) + (f" (other processes: {entry['other_load']:.1f} cores)"
                                         if entry["other_load"] > BUSY_LOAD else ""))
        return entry

    def cpu_snapshot(self) -> tuple[float, float, float]:
        """(wall clock, busy CPU seconds of the machine, CPU seconds of this run's processes)."""
        own = sum(os.times()[:4]) + sum(report.process_cpu_seconds(w.proc.pid)
                                        for w in self.workers.values())
        return time.perf_counter(), report.busy_cpu_seconds(), own

    def other_load(self, before: tuple[float, float, float]) -> float:
        """Cores that other processes kept busy on average since `before`: the noise."""
        wall, busy, own = (b - a for a, b in zip(before, self.cpu_snapshot()))
        return max(0.0, (busy - own) / wall) if wall > 0 else 0.0

    def profile(self, net: str, batch: int, threads: int) -> None:
        repeats = self.cfg.profile_repeats
        rows = self.workers["smelt"].request("profile", repeats=repeats)
        self.record["profile"] = {"net": net, "batch": batch, "threads": threads,
                                  "repeats": repeats, **rows}


def comma_list(kind):
    def parse(text: str):
        return [kind(part) for part in text.split(",") if part]
    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", type=comma_list(str),
                        default=[list(suite.DEFAULT_NETS)],
                        help=f"networks of tests/nets.py (default: {' '.join(suite.DEFAULT_NETS)})")
    parser.add_argument("--batches", nargs="+", type=comma_list(int), default=[[1, 8]],
                        help="batch sizes (default: 1 8)")
    parser.add_argument("--threads", nargs="+", type=comma_list(int), default=[[1, 2]],
                        help="thread counts (default: 1 2)")
    parser.add_argument("--frameworks", nargs="+", type=comma_list(str),
                        default=[list(suite.FRAMEWORKS)],
                        help="smelt and any of torch, onnxruntime, openvino (default: all; "
                             "those not installed are skipped)")
    parser.add_argument("--rounds", type=int, help=f"timing rounds (default {Settings.rounds}, "
                        f"--quick {QUICK.rounds})")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: few, short rounds, no warm-up")
    parser.add_argument("--small", action="store_true",
                        help="the networks at the tests' small widths and shapes")
    parser.add_argument("--profile", default="resnet18", metavar="NET",
                        help="print per-kernel times for this net (default resnet18; 'none')")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest relative difference allowed between outputs")
    parser.add_argument("--proc-bind", default="none", choices=("spread", "close", "none"),
                        help="OMP_PROC_BIND for the OpenMP-threaded workers, smelt and torch "
                             "alike (default none: every framework as it comes; measured on "
                             "2 cores, spread slowed both smelt and PyTorch)")
    parser.add_argument("--isa", choices=sorted(ISA_ENV),
                        help="emulate a narrower host: smelt, OpenVINO and PyTorch are held to "
                             "this instruction set (ONNX Runtime cannot be: MLAS reads cpuid, "
                             "so it keeps the host's, which the report says)")
    parser.add_argument("--seed", type=int, default=0, help="for weights and inputs")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help="where the JSON and the chart go (default: benchmarks/results)")
    parser.add_argument("--no-chart", action="store_true", help="write no PNG")
    args = parser.parse_args(argv)
    for name in ("nets", "batches", "threads", "frameworks"):
        setattr(args, name, list(dict.fromkeys(v for part in getattr(args, name) for v in part)))
    unknown = [n for n in args.nets if n not in suite.NETWORKS]
    if unknown:
        parser.error(f"unknown network(s) {', '.join(unknown)}; known: "
                     + ", ".join(suite.NETWORKS))
    unknown = [f for f in args.frameworks if f not in suite.FRAMEWORKS]
    if unknown:
        parser.error(f"unknown framework(s) {', '.join(unknown)}; known: "
                     + ", ".join(suite.FRAMEWORKS))
    if any(b < 1 for b in args.batches) or any(t < 1 for t in args.threads):
        parser.error("batches and threads must be positive")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be positive")
    if args.profile not in args.nets and args.profile != "none":
        progress(f"note: no per-kernel profile ({args.profile} is not among --nets)")
    return args


def finish(record: dict, started: datetime) -> None:
    """Duration, load, the FMA peak (best of the start and end runs: noise only lowers a
    peak) and every result's % of it."""
    record["duration_seconds"] = round((datetime.now(timezone.utc) - started).total_seconds(), 1)
    machine = record["machine"]
    try:
        machine["loadavg_end"] = list(os.getloadavg())
    except OSError:
        pass
    runs = record["fma_peak_runs"]
    peak = {t: max(r[t] for r in runs.values()) for t in runs["start"]}
    record["fma_peak_gflops"] = peak
    for entry in record["results"]:
        entry["pct_peak"] = 100 * entry["gflops"] / peak[str(entry["threads"])]
    noisy = [e for e in record["results"] if e["other_load"] > BUSY_LOAD]
    if noisy:
        worst = max(e["other_load"] for e in noisy)
        record["notes"].append(
            f"other processes kept up to {worst:.1f} cores busy while {len(noisy)} of "
            f"{len(record['results'])} configurations were timed (see other_load in the "
            "JSON): those numbers are noisy")


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = QUICK if args.quick else Settings()
    if args.rounds is not None:
        cfg = replace(cfg, rounds=args.rounds)
    frameworks, notes = available_frameworks(args.frameworks)
    if args.isa and "onnxruntime" in frameworks:
        notes.append(f"--isa {args.isa}: ONNX Runtime still uses this host's widest "
                     "instruction set (MLAS has no switch), so its times are a harder bar "
                     f"than on a real {args.isa} host")
    for note in notes:
        progress(f"note: {note}")
    started = datetime.now(timezone.utc)
    stamp = started.astimezone().strftime("%Y%m%d-%H%M%S")
    record = {
        "schema": 1, "started": started.isoformat(timespec="seconds"),
        "definitions": DEFINITIONS,
        "command": [os.path.basename(sys.executable), "-m", "benchmarks.run"] + (
            sys.argv[1:] if argv is None else list(argv)),
        "settings": {**asdict(cfg), "nets": args.nets, "batches": args.batches,
                     "threads": args.threads, "frameworks": frameworks, "small": args.small,
                     "quick": args.quick, "tolerance": args.tolerance, "seed": args.seed,
                     "proc_bind": args.proc_bind, "isa": args.isa},
        "notes": notes, "machine": report.machine_info(), "versions": {}, "worker_env": {},
        "harness_env": {},
        "results": [],
    }
    busy = report.busy_cpu_seconds()
    time.sleep(0.5)
    load = record["machine"]["other_load_start"] = (report.busy_cpu_seconds() - busy) / 0.5
    if load > BUSY_LOAD:
        progress(f"warning: other processes keep {load:.1f} cores busy: expect noise")
    with tempfile.TemporaryDirectory(prefix="smelt-bench-") as tmp:
        harness = Harness(args, cfg, frameworks, Path(tmp), record)
        try:
            harness.start()
            harness.run()
        except BenchmarkError as e:
            progress(f"\nBENCHMARK FAILED: {e}")
            return 1
        finally:
            harness.close()
    finish(record, started)
    paths = report.write_json(record, args.results_dir, stamp)
    if not args.no_chart:
        if "torch" not in frameworks:
            progress("note: no chart (it shows speed relative to PyTorch, which did not run)")
        elif importlib.util.find_spec("matplotlib") is None:
            progress("note: no chart (matplotlib is not installed: pip install '.[bench]')")
        else:
            paths += report.write_chart(record["results"], frameworks, args.results_dir, stamp)
    print_summary(record, frameworks, paths)
    return 0


def print_summary(record: dict, frameworks: list[str], paths: list[Path]) -> None:
    machine, peak = record["machine"], record["fma_peak_gflops"]
    print(f"## smelt benchmarks, {record['started']}\n")
    emulated = record["settings"].get("isa")
    isa = f"{machine['isa']} host emulating {emulated} (--isa)" if emulated else machine["isa"]
    print(f"{machine['cpu']}, {machine['physical_cores']} cores, {isa} "
          f"({' '.join(machine['flags'])}); " + ", ".join(
              f"{k} {v}" for k, v in record["versions"].items()
              if k in suite.FRAMEWORKS + ("numpy", "c_compiler_version")))
    print("FMA peak of smelt's generated kernel: " + ", ".join(
        f"{g:.1f} GFLOP/s on {t} thread{'s' if t != '1' else ''}" for t, g in peak.items()))
    env = {f: " ".join(f"{k}={v}" for k, v in e.items()) or "nothing"
           for f, e in record["harness_env"].items()}
    print("the harness set in the workers' environment: "
          + "; ".join(f"{f}: {e}" for f, e in env.items()))
    s = record["settings"]
    print(f"medians of {s['rounds']} rounds x {s['batch_seconds']} s timing batches per "
          f"framework, alternating; x torch / x ORT = their time / smelt's time; GFLOP counts "
          f"direct convolution's multiply-adds (Winograd layers do fewer: % peak can pass 100)\n")
    for note in record["notes"]:
        print(f"**note**: {note}\n")
    print(report.result_table(record["results"], frameworks))
    if "profile" in record:
        p = record["profile"]
        print(f"\n### per-kernel times: {p['net']}, batch {p['batch']}, {p['threads']} "
              f"thread{'s' if p['threads'] > 1 else ''} (median of {p['repeats']})\n")
        print(report.profile_table(p))
        if any(k.get("family") == "conv2d_winograd" for k in p["kernels"]):
            print("\n* Winograd F(2x2, 3x3): GFLOP/s of the direct algorithm's FLOPs")
    print("\nwrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    sys.exit(main())
