#!/usr/bin/env python3
"""The figures beside the main table (docs/performance.md): the target's CPU use when idle (interrupt-driven and
busy-polling), its resident memory idle and under 16 queues x QD 128, and how IOPS move with 1 or 2 target
reactors and 1, 2 or 4 host queues (threads). Uses the same process helpers as run.py.

    python3 bench/system_figures.py --build-dir build-release [--idle-seconds 10] [--time 3] [--repetitions 3]
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import run as bench  # noqa: E402


def rss_kib(pid):
    """VmRSS of `pid` (proc(5), /proc/PID/status), KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_target(nvmf, port, tmp, cores="0", poll=False, backend="null"):
    ready = os.path.join(tmp, f"ready-{port}")
    cmd = bench.target_command(nvmf, backend, port, ready, poll)
    cmd[2] = cores  # taskset -c CORES
    cmd[cmd.index("--cores") + 1] = cores
    return bench.Server(cmd, "nvmf target", ready_file=ready)


def idle_cpu(nvmf, port, tmp, poll, seconds):
    """CPU share of an idle target over `seconds` (utime + stime delta / wall time)."""
    t = start_target(nvmf, port, tmp, poll=poll)
    try:
        time.sleep(1)  # past start-up
        before, start = t.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        return 100.0 * (t.cpu_seconds() - before) / (time.monotonic() - start)
    finally:
        t.stop()


def perf_case(name, queues, qd):
    c = dict(next(x for x in bench.CASES if x["name"] == name))
    c["queue_depth"] = qd
    c["queues"] = queues
    return c


def perf_cmd(nvmf, port, c, seconds):
    cmd = bench.perf_command(nvmf, port, c, seconds, False)
    cmd += ["-P", str(c["queues"])]
    return cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build-release")
    ap.add_argument("--idle-seconds", type=float, default=10)
    ap.add_argument("--time", type=float, default=3)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--port", type=int, default=14600)
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "system-figures.json"))
    args = ap.parse_args()
    nvmf = str(pathlib.Path(args.build_dir) / "utils" / "nvmf")
    tmp = tempfile.mkdtemp(prefix="nvmf-sys-")
    out = {"command": " ".join(sys.argv), "kernel": os.uname().release}
    port = args.port

    # 1. Idle CPU: no connection, nothing to do.
    out["idle_cpu_percent"] = {}
    for poll in (False, True):
        port += 1
        out["idle_cpu_percent"]["poll" if poll else "interrupt"] = idle_cpu(nvmf, port, tmp, poll, args.idle_seconds)
        print(f"idle CPU ({'busy-poll' if poll else 'interrupt'}): "
              f"{out['idle_cpu_percent']['poll' if poll else 'interrupt']:.2f} %", flush=True)

    # 2. RSS idle, then during 16 queues x QD 128 4 KiB random reads (one host thread per queue, all on core 1).
    port += 1
    t = start_target(nvmf, port, tmp)
    try:
        time.sleep(0.5)
        idle = rss_kib(t.proc.pid)
        c = perf_case("4k-randread-qd128", 16, 128)
        t.resume()
        p = subprocess.Popen(perf_cmd(nvmf, port, c, max(args.time, 4)), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        peak = idle
        while p.poll() is None:
            peak = max(peak, rss_kib(t.proc.pid))
            time.sleep(0.1)
        stdout, stderr = p.communicate()
        s = bench.summarize(json.loads(stdout)) if p.returncode == 0 else {"error": stderr.decode()[-400:]}
        after = rss_kib(t.proc.pid)
        out["rss_kib"] = {"idle": idle, "peak_16x128": peak, "after_16x128": after,
                          "iops_16x128": s.get("iops"), "p99_us_16x128": s.get("latency_us", {}).get("p99")}
        print(f"target RSS: idle {idle} KiB, peak under 16 queues x QD128 {peak} KiB, after {after} KiB "
              f"({s.get('iops', 0):,.0f} IOPS)", flush=True)
    finally:
        t.stop()

    # 3. Scaling: 1 vs 2 target reactors, host with 1, 2, 4 queues (threads), 4 KiB random reads, QD 32 each.
    # Two vCPUs only: with 2 reactors the target shares core 1 with the host threads.
    out["scaling"] = []
    for cores in ("0", "0,1"):
        port += 1
        t = start_target(nvmf, port, tmp, cores=cores)
        t.pause()
        try:
            for queues in (1, 2, 4):
                c = perf_case("4k-randread-qd32", queues, 32)
                runs = [bench.measure(t, perf_cmd(nvmf, port, c, args.time), args.time)
                        for _ in range(args.repetitions)]
                best = bench.best_of(runs)
                out["scaling"].append({"target_cores": cores, "host_queues": queues, **{
                    k: best.get(k) for k in ("iops", "spread_pct", "server_cpu_s_per_mio", "client_cpu_s_per_mio")},
                    "p99_us": best.get("latency_us", {}).get("p99"), "error": best.get("error")})
                print(f"scaling: target cores {cores:<4} host queues {queues}: {best.get('iops', 0):>10,.0f} IOPS "
                      f"(spread {best.get('spread_pct', 0):.1f} %)", flush=True)
        finally:
            t.stop()

    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
