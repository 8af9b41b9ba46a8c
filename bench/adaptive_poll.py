#!/usr/bin/env python3
"""Adaptive polling against pure interrupt mode and busy-polling (issue 18's first goal), on loopback.

Three `nvmf target` processes on core 0 (one per mode: `--adaptive-poll 0`, the default adaptive window,
`--busy-poll`), each with a null namespace; `nvmf perf` on core 1 in the same mode as the target it drives. While
one target runs its case the others are stopped (SIGSTOP), so a polling target never steals the core.

  1. 4 KiB randread at QD 1, the three modes interleaved, repeated ROUNDS times; best of the rounds by IOPS, with
     the spread. Reported: mean and p99 latency, IOPS, target and perf CPU per I/O.
  2. The adaptive target idle (no host connected) for IDLE seconds: its CPU share.
  3. The adaptive target under `nvmf perf --rate-iops 1000` (QD 1) for RATE seconds: its CPU share, against the
     interrupt-mode target under the same load.

  bench/adaptive_poll.py [--build-dir DIR] [--time S] [--rounds N] [--idle S] [--rate-time S] [--json FILE]
"""
import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import run  # noqa: E402  (bench/run.py: Server, run_child, summarize)

MODES = {
    "interrupt": ["--adaptive-poll", "0"],
    "adaptive": [],
    "busy-poll": ["--busy-poll"],
}


def target_command(nvmf, port, ready, mode):
    return ["taskset", "-c", "0", nvmf, "target", "--listen", f"tcp:127.0.0.1:{port}", "--namespace", "null:1G",
            "--cores", "0", "--discovery-port", "0", "--control-socket", "none", "--ready-file", ready] + MODES[mode]


def perf_command(nvmf, port, seconds, mode, extra=()):
    return ["taskset", "-c", "1", nvmf, "perf", "--transport", "tcp", "-a", "127.0.0.1", "-s", str(port),
            "-n", run.SUBSYSTEM_NQN, "-q", "1", "-o", "4096", "-w", "randread", "-T", str(seconds),
            "--cores", "1", "--output-format", "json", "--quiet"] + MODES[mode] + list(extra)


def cpu_share(server, seconds, client_cmd=None):
    """The server's CPU share (of one core) over `seconds`, idle or while `client_cmd` runs; with the client's
    summary when there is one."""
    server.resume()
    before, start = server.cpu_seconds(), time.monotonic()
    summary = None
    if client_cmd:
        rc, out, err, _ = run.run_child(client_cmd, timeout=seconds + 60)
        if rc != 0:
            raise RuntimeError(f"perf failed ({rc}): {err.strip()[-600:]}")
        summary = run.summarize(json.loads(out))
    else:
        time.sleep(seconds)
    share = (server.cpu_seconds() - before) / (time.monotonic() - start)
    server.pause()
    return share, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", "build"))
    ap.add_argument("--time", type=float, default=5, help="seconds per QD 1 run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=float, default=10, help="seconds of the idle measurement")
    ap.add_argument("--rate-time", type=float, default=10, help="seconds of the 1,000 IOPS measurement")
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()
    nvmf = str(pathlib.Path(args.build_dir) / "utils" / "nvmf")
    work = tempfile.mkdtemp(prefix="nvmf-adaptive-")
    servers, ports = {}, {}
    try:
        for i, mode in enumerate(MODES):
            ports[mode] = 46000 + os.getpid() % 1000 * 4 + i
            ready = os.path.join(work, f"{mode}.ready")
            servers[mode] = run.Server(target_command(nvmf, ports[mode], ready, mode), f"target ({mode})",
                                       ready_file=ready)
            servers[mode].pause()

        runs = {m: [] for m in MODES}
        for r in range(args.rounds):
            order = list(MODES) if r % 2 == 0 else list(reversed(MODES))
            for mode in order:
                res = run.measure(servers[mode], perf_command(nvmf, ports[mode], args.time, mode), args.time)
                runs[mode].append(res)
                lat = res.get("latency_us", {}) if res.get("ok") else {}
                print(f"round {r + 1} {mode:10} " + (f"{res['iops']:>9,.0f} IOPS  mean {lat['mean']:.1f} us"
                                                    if res.get("ok") else f"FAILED {res.get('error')}"), flush=True)
        best = {m: run.best_of(runs[m]) for m in MODES}

        idle_share, _ = cpu_share(servers["adaptive"], args.idle)
        rate = {}
        for mode in ("interrupt", "adaptive"):
            share, summary = cpu_share(servers[mode], args.rate_time,
                                       perf_command(nvmf, ports[mode], args.rate_time, mode, ["--rate-iops", "1000"]))
            rate[mode] = {"cpu_share": share, "iops": summary["iops"]}

        print("\n| mode (target and perf) | IOPS | mean latency | p99 | target CPU per I/O | perf CPU per I/O | "
              "spread |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for mode in MODES:
            b = best[mode]
            if not b.get("ok"):
                print(f"| {mode} | failed: {b.get('error')} |")
                continue
            lat = b["latency_us"]
            print(f"| {mode} | {b['iops']:,.0f} | {lat['mean']:.1f} us | {run.fmt(lat['p99'], 1)} us | "
                  f"{b['server_cpu_s_per_mio']:.2f} us | {b['client_cpu_s_per_mio']:.2f} us | "
                  f"{b['spread_pct']:.0f} % |")
        if best["adaptive"].get("ok") and best["busy-poll"].get("ok"):
            a, p = best["adaptive"]["latency_us"]["mean"], best["busy-poll"]["latency_us"]["mean"]
            i = best["interrupt"]["latency_us"]["mean"] if best["interrupt"].get("ok") else float("nan")
            print(f"\nQD 1 mean latency: adaptive {a:.1f} us = {100 * a / p:.0f} % of busy-poll's {p:.1f} us "
                  f"(goal <= 120 %); interrupt {i:.1f} us = {100 * i / p:.0f} %")
        print(f"idle adaptive target: {100 * idle_share:.2f} % of a core over {args.idle:.0f} s (goal < 1 %)")
        for mode in ("interrupt", "adaptive"):
            print(f"target at {rate[mode]['iops']:,.0f} IOPS ({mode}): {100 * rate[mode]['cpu_share']:.1f} % of a core"
                  + (" (goal < 10 %)" if mode == "adaptive" else ""))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"runs": runs, "idle_share": idle_share, "rate": rate}, f, indent=1)
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    main()
