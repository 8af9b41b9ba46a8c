#!/usr/bin/env python3
"""Two builds of the toolkit side by side, for a change's before and after: for each case, `nvmf perf` of build A
against `nvmf target` of build A, the same with build B, then the ceiling (nvmf-ceiling of build B); the list is
repeated and each keeps its best repetition, as bench/run.py does. Same cores, options and measurement as
bench/run.py (whose functions it uses); RAM backends are measured against the ceiling with payload memory.

  python3 bench/compare_builds.py --a /tmp/before/build --b build-release [--backends null,ram-prefault]
      [--cases 4k-randread-qd128,4k-randwrite-qd128] [--time 3] [--repetitions 3] [--mode interrupt|poll]
"""
import argparse
import os
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import run  # noqa: E402  (bench/run.py: cases, servers, measurement)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="build directory of the 'before' build (needs utils/nvmf)")
    ap.add_argument("--b", required=True, help="build directory of the 'after' build (also bench/nvmf-ceiling)")
    ap.add_argument("--backends", default="null")
    ap.add_argument("--cases", default="4k-randread-qd128,4k-randwrite-qd128")
    ap.add_argument("--time", type=float, default=3.0)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--mode", choices=["interrupt", "poll"], default="interrupt")
    ap.add_argument("--port", type=int, default=14520, help="first port; 3 per backend")
    args = ap.parse_args()
    cases = run.select_cases(args.cases)
    poll = args.mode == "poll"
    builds = {"A": str(pathlib.Path(args.a) / "utils" / "nvmf"), "B": str(pathlib.Path(args.b) / "utils" / "nvmf")}
    ceiling = str(pathlib.Path(args.b) / "bench" / "nvmf-ceiling")
    for path in list(builds.values()) + [ceiling]:
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: build it first")

    rows = []
    for index, backend in enumerate(args.backends.split(",")):
        ports = {"A": args.port + 3 * index, "B": args.port + 3 * index + 1, "ceiling": args.port + 3 * index + 2}
        raw = {(c["name"], who): [] for c in cases for who in ("A", "B", "ceiling")}
        tmp = tempfile.TemporaryDirectory(prefix="nvmf-compare-")
        servers = {}
        try:
            for who, nvmf in builds.items():
                ready = os.path.join(tmp.name, f"ready-{who}")
                servers[who] = run.Server(run.target_command(nvmf, backend, ports[who], ready, poll),
                                          f"nvmf target ({who})", ready_file=ready)
                servers[who].pause()
            memory = backend.startswith("ram")
            servers["ceiling"] = run.Server(run.ceiling_server_command(ceiling, ports["ceiling"], poll, memory),
                                            "nvmf-ceiling server", port=ports["ceiling"])
            servers["ceiling"].pause()
            for rep in range(args.repetitions):
                for c in cases:
                    for who, nvmf in builds.items():
                        r = run.measure(servers[who], run.perf_command(nvmf, ports[who], c, args.time, poll),
                                        args.time)
                        raw[(c["name"], who)].append(r)
                        run.progress(backend, rep, args.repetitions, c["name"], f"{who:<7}", r)
                    r = run.measure(servers["ceiling"], run.ceiling_client_command(ceiling, ports["ceiling"], c,
                                                                                   args.time, poll), args.time)
                    raw[(c["name"], "ceiling")].append(r)
                    run.progress(backend, rep, args.repetitions, c["name"], "ceiling", r)
        finally:
            for s in servers.values():
                s.stop()
            tmp.cleanup()
        for c in cases:
            best = {who: run.best_of(raw[(c["name"], who)]) for who in ("A", "B", "ceiling")}
            rows.append((c["name"], backend, best, memory))

    print(f"mode: {args.mode}; best of {args.repetitions} by IOPS; s/M = CPU seconds per million I/O; A = {args.a}, "
          f"B = {args.b}; TCP congestion control {run.tcp_settings()['congestion_control']}")
    print(f"{'case':<20} {'backend':<14} {'build':<8} {'IOPS':>10} {'host s/M':>8} {'tgt s/M':>8} {'spread':>6} "
          f"{'ratio':>6}")
    for name, backend, best, memory in rows:
        ceil = best["ceiling"]
        for who in ("A", "B", "ceiling"):
            r = best[who]
            label = "ceil+mem" if who == "ceiling" and memory else who  # the ceiling with payload memory
            if not r.get("ok"):
                print(f"{name:<20} {backend[:14]:<14} {label:<8} failed: {r.get('error', '')[:80]}")
                continue
            ratio = f"{r['iops'] / ceil['iops']:6.2f}" if ceil.get("ok") and ceil["iops"] else "     -"
            print(f"{name:<20} {backend[:14]:<14} {label:<8} {run.fmt(r['iops']):>10} "
                  f"{run.fmt(r['client_cpu_s_per_mio'], 2):>8} {run.fmt(r['server_cpu_s_per_mio'], 2):>8} "
                  f"{r['spread_pct']:5.1f}% {ratio}")


if __name__ == "__main__":
    main()
