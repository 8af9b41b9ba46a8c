#!/usr/bin/env python3
"""fio with our ioengine (utils/fio, libnvmf-fio.so) against `nvmf perf`, on the same `nvmf target`.

The target runs pinned to core 0 with a 1 GiB RAM namespace; each client runs pinned to core 1: `nvmf perf -w
randread -o 4096 -q QD` and fio with bench/fio/nvmf-randread.fio at the same depth, one thread, one queue pair.
Cases are interleaved (perf, fio, fio, perf, ... alternating the order each repetition, so neither always runs on
a warmer machine), the best repetition by IOPS counts, and the spread (max - min) / max is reported with it, as in
bench/run.py. The ratio fio / perf compares fio's submission pattern and per-I/O work with perf's over the same host library.
CPU time is taken from outside as in run.py: the target's from /proc/PID/stat, the client's from wait4().
"""
import argparse
import datetime
import json
import os
import pathlib
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import run  # noqa: E402  (bench/run.py: Server, run_child, perf_command, summarize, best_of)

JOB_FILE = pathlib.Path(__file__).parent / "fio" / "nvmf-randread.fio"


def fio_command(fio):
    return ["taskset", "-c", "1", fio, str(JOB_FILE), "--output-format=json"]


def fio_env(engine, port, qd, seconds):
    return dict(os.environ, NVMF_FIO_ENGINE=str(engine), NVMF_SUBNQN=run.SUBSYSTEM_NQN, NVMF_TRADDR="127.0.0.1",
                NVMF_TRSVCID=str(port), NVMF_IODEPTH=str(qd), NVMF_NUMJOBS="1", NVMF_RUNTIME=str(int(seconds)))


def summarize_fio(doc):
    """The same figures as run.summarize, from fio's JSON (completion latency: submission to completion)."""
    job = doc["jobs"][0]
    if job["error"]:
        raise ValueError(f"fio job error {job['error']}")
    rd = job["read"]
    clat = rd["clat_ns"]
    pct = clat.get("percentile", {})
    us = lambda ns: None if ns is None else ns / 1000.0  # noqa: E731
    return {"ios": rd["total_ios"], "seconds": rd["runtime"] / 1000.0, "iops": rd["iops"],
            "mibps": rd["bw"] / 1024.0,
            "latency_us": {"mean": us(clat["mean"]), "min": us(clat["min"]), "max": us(clat["max"]),
                           "p50": us(pct.get("50.000000")), "p99": us(pct.get("99.000000")),
                           "p99_9": us(pct.get("99.900000"))}}


def measure(server, cmd, seconds, parse, env=None):
    server.resume()
    before = server.cpu_seconds()
    saved = dict(os.environ)
    if env:
        os.environ.clear()
        os.environ.update(env)
    try:
        rc, out, err, client_cpu = run.run_child(cmd, timeout=seconds + 60)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    server_cpu = server.cpu_seconds() - before
    server.pause()
    if rc != 0:
        return {"ok": False, "error": f"exit {rc}: {(err or out).strip()[-800:]}"}
    try:
        s = parse(json.loads(out[out.index("{"):]))
    except (ValueError, KeyError, IndexError) as e:
        return {"ok": False, "error": f"unreadable JSON ({e}): {out[:400]}"}
    ios = max(s["ios"], 1)
    s.update(ok=True, client_cpu_s_per_mio=client_cpu * 1e6 / ios, server_cpu_s_per_mio=server_cpu * 1e6 / ios)
    return s


def row(name, tool, r):
    if not r.get("ok"):
        return f"| {name} | {tool} | failed: {r.get('error', '')[:80]} ||||||"
    lat = r["latency_us"]
    return (f"| {name} | {tool} | {run.fmt(r['iops'])} | {run.fmt(lat['mean'], 1)} | {run.fmt(lat['p99'], 1)} | "
            f"{run.fmt(r['client_cpu_s_per_mio'], 2)} | {run.fmt(r['server_cpu_s_per_mio'], 2)} | "
            f"{r['spread_pct']:.1f}% |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build-release")
    ap.add_argument("--time", type=int, default=5, help="seconds per run (default 5)")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--depths", default="1,32", help="queue depths (default 1,32)")
    ap.add_argument("--target-port", type=int, default=14440)
    ap.add_argument("--results-dir", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()

    build = pathlib.Path(args.build_dir)
    nvmf, engine = str(build / "utils" / "nvmf"), (build / "utils" / "fio" / "libnvmf-fio.so").resolve()
    fio = shutil.which("fio")
    if not fio:
        sys.exit("fio is not installed")
    if not engine.exists():
        sys.exit(f"{engine} missing: fetch fio's source (scripts/fetch-fio-source.sh) and rebuild {build}")
    if os.cpu_count() < 2:
        sys.exit("needs two CPUs (target on 0, client on 1)")
    depths = [int(d) for d in args.depths.split(",")]

    raw = {qd: {"perf": [], "fio": []} for qd in depths}
    with tempfile.TemporaryDirectory(prefix="nvmf-fio-bench-") as tmp:
        ready = os.path.join(tmp, "ready")
        target = run.Server(run.target_command(nvmf, "ram", args.target_port, ready, False), "nvmf target",
                            ready_file=ready)
        target.pause()
        try:
            for rep in range(args.repetitions):
                for qd in depths:
                    c = run.case(f"4k-randread-qd{qd}", "randread", 4096, qd)
                    order = ["perf", "fio"] if rep % 2 == 0 else ["fio", "perf"]
                    for tool in order:
                        if tool == "perf":
                            # Both clients in their default polling mode (the fio engine's host library is
                            # adaptive): drop run.py's pure-interrupt flag from perf.
                            cmd = run.perf_command(nvmf, args.target_port, c, args.time, False)
                            cmd = cmd[:-len(run.POLL_ARGS[False])]
                            r = measure(target, cmd, args.time, run.summarize)
                        else:
                            r = measure(target, fio_command(fio), args.time, summarize_fio,
                                        fio_env(engine, args.target_port, qd, args.time))
                        raw[qd][tool].append(r)
                        print(f"[{rep + 1}/{args.repetitions}] qd{qd:<3} {tool:<4} {run.fmt(r.get('iops'))} IOPS"
                              + ("" if r["ok"] else f"  FAILED {r['error'][:300]}"), file=sys.stderr, flush=True)
                        if not target.alive():
                            raise RuntimeError(f"nvmf target died:\n{target.output()}")
        finally:
            target.stop()

    results = []
    lines = ["| case | client | IOPS | mean µs | p99 µs | client CPU s/M I/O | target CPU s/M I/O | spread |",
             "|" + "---|" * 8]
    for qd in depths:
        perf, fio_r = run.best_of(raw[qd]["perf"]), run.best_of(raw[qd]["fio"])
        ratio = fio_r["iops"] / perf["iops"] if perf.get("ok") and fio_r.get("ok") and perf["iops"] else None
        name = f"4k-randread-qd{qd}"
        results.append({"case": name, "perf": perf, "fio": fio_r, "fio_over_perf": ratio})
        lines += [row(name, "nvmf perf", perf), row(name, "fio + nvmf engine", fio_r)]
    summary = "\n".join(lines) + "\n\n" + "\n".join(
        f"- {r['case']}: fio / perf = {r['fio_over_perf']:.2f}" if r["fio_over_perf"] else f"- {r['case']}: failed"
        for r in results) + "\n"

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    doc = {"command": " ".join(sys.argv), "date": stamp, "time_s": args.time, "repetitions": args.repetitions,
           "kernel": os.uname().release, "cpus": os.cpu_count(), "fio": run.run_child([fio, "--version"], 10)[1].strip(),
           "results": results}
    out_dir = pathlib.Path(args.results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stamp}-fio.json").write_text(json.dumps(doc, indent=1))
    (out_dir / "latest-fio.json").write_text(json.dumps(doc, indent=1))
    (out_dir / "latest-fio.md").write_text(summary)
    print(summary)
    print(f"results: {out_dir / f'{stamp}-fio.json'}")


if __name__ == "__main__":
    main()
