#!/usr/bin/env python3
"""Page faults per I/O of a RAM namespace, sparse against prefaulted (and prefaulted in huge pages): for each
repetition, each namespace spec gets a fresh `nvmf target` (core 0), `nvmf perf` (core 1) writes, then reads,
4 KiB at random over the whole 1 GiB at QD 128, and the target's minor faults (/proc/PID/stat field 10), CPU time
and the time from start to ready (what prefaulting costs at creation) are read from outside. Specs are
interleaved across repetitions; the best repetition by IOPS is printed with the spread. Uses bench/run.py's
process helpers.

  python3 bench/ram_page_faults.py --build-dir build --time 3 --repetitions 3
"""
import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import run  # noqa: E402  (bench/run.py: Server, measure, perf_command, CASES)

SPECS = ["ram:1G", "ram:1G,prefault", "ram:1G,prefault,huge_pages"]
CASES = ["4k-randwrite-qd128", "4k-randread-qd128"]  # writes first: on a sparse namespace they take the faults


def minor_faults(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])  # field 10 (minflt), after pid and comm


def one_target(nvmf, spec, port, seconds):
    with tempfile.TemporaryDirectory(prefix="nvmf-faults-") as d:
        ready = os.path.join(d, "ready")
        cmd = ["taskset", "-c", "0", nvmf, "target", "--listen", f"tcp:127.0.0.1:{port}", "--namespace", spec,
               "--cores", "0", "--discovery-port", "0", "--control-socket", "none", "--ready-file", ready,
               "--adaptive-poll", "0"]
        started = time.monotonic()
        target = run.Server(cmd, "nvmf target", ready_file=ready)
        ready_s = time.monotonic() - started
        out = {"ready_s": ready_s}
        try:
            target.pause()
            for name in CASES:
                c = next(x for x in run.CASES if x["name"] == name)
                before = minor_faults(target.proc.pid)
                r = run.measure(target, run.perf_command(nvmf, port, c, seconds, False), seconds)
                if not r["ok"]:
                    raise RuntimeError(f"{spec} {name}: {r['error']}")
                r["faults_per_io"] = (minor_faults(target.proc.pid) - before) / max(r["ios"], 1)
                out[name] = r
        finally:
            target.stop()
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build-release")
    ap.add_argument("--time", type=float, default=3.0)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--port", type=int, default=14480, help="first target port; one more per target")
    args = ap.parse_args()
    nvmf = str(pathlib.Path(args.build_dir) / "utils" / "nvmf")
    runs = {s: [] for s in SPECS}
    port = args.port
    for rep in range(args.repetitions):
        for spec in SPECS:
            r = one_target(nvmf, spec, port, args.time)
            port += 1  # a fresh port: the last target's io_uring requests may hold its port briefly
            runs[spec].append(r)
            print(f"[{rep + 1}/{args.repetitions}] {spec:<28} ready {r['ready_s']:.2f} s  " +
                  "  ".join(f"{n} {r[n]['iops']:,.0f} IOPS {r[n]['faults_per_io']:.3f} faults/I/O" for n in CASES),
                  file=sys.stderr, flush=True)
    print("| namespace | case | IOPS (best) | spread | target faults / I/O | target CPU s / M I/O | start to ready s |")
    print("|---|---|---|---|---|---|---|")
    for spec in SPECS:
        for name in CASES:
            rs = [r[name] for r in runs[spec]]
            best = max(rs, key=lambda r: r["iops"])
            spread = (best["iops"] - min(r["iops"] for r in rs)) / best["iops"] * 100
            ready = min(r["ready_s"] for r in runs[spec])
            print(f"| `{spec}` | {name} | {best['iops']:,.0f} | {spread:.0f}% | {best['faults_per_io']:.3f} | "
                  f"{best['server_cpu_s_per_mio']:.2f} | {ready:.2f} |")


if __name__ == "__main__":
    main()
