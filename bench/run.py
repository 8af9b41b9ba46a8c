#!/usr/bin/env python3
"""Benchmark driver behind bench/run.sh: `nvmf target` on one core, `nvmf perf` on another, and for every case the
io_uring TCP ceiling (nvmf-ceiling) with the same message sizes and queue depth on the same cores.

The machine is shared and noisy, so cases are interleaved (case A ours, case A ceiling, case B ours, ...), the
whole list is repeated, the best repetition counts and the spread between repetitions is reported with it.
CPU time is measured from outside, the same way for both: the server side (target, ceiling server) by
/proc/PID/stat utime+stime deltas, the client side (perf, ceiling client) by wait4()'s rusage of the child.
"""
import argparse
import datetime
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

# NVMe/TCP PDU sizes without digests (NVMe/TCP 1.0, section 3.6.2): a CapsuleCmd is the 8-byte common header plus
# the 64-byte SQE; C2HData's header is 8 + 16 bytes; a CapsuleResp is 8 + 16-byte CQE.
CAPSULE_CMD = 72
C2H_DATA_HEADER = 24
CAPSULE_RESP = 24


def read_shape(size):
    return {"request_size": CAPSULE_CMD, "response_size": C2H_DATA_HEADER + size}


def write_shape(size):
    return {"request_size": CAPSULE_CMD + size, "response_size": CAPSULE_RESP}


def case(name, pattern, size, qd, mix=None):
    c = {"name": name, "pattern": pattern, "io_size": size, "queue_depth": qd}
    if pattern in ("randread", "read"):
        c["shape"] = read_shape(size)
    elif pattern in ("randwrite", "write"):
        c["shape"] = write_shape(size)
    else:  # mixed: `mix` percent reads, the rest writes
        c["shape"] = read_shape(size)
        c["mix"] = {"percent": mix, "other": write_shape(size)}
    return c


CASES = [
    case("4k-randread-qd1", "randread", 4096, 1),
    case("4k-randread-qd32", "randread", 4096, 32),
    case("4k-randread-qd128", "randread", 4096, 128),
    case("4k-randwrite-qd1", "randwrite", 4096, 1),
    case("4k-randwrite-qd32", "randwrite", 4096, 32),
    case("4k-randwrite-qd128", "randwrite", 4096, 128),
    case("128k-read-qd16", "read", 131072, 16),
    case("128k-write-qd16", "write", 131072, 16),
    case("4k-randrw70-qd32", "randrw", 4096, 32, mix=70),
]

SUBSYSTEM_NQN = "nqn.2024-01.io.nvmf:target"  # the target's default subsystem (target/config.hpp)


# Interrupt mode is the pure one (no adaptive polling: the ceiling's interrupt mode sleeps at once as well);
# bench/adaptive_poll.py measures the adaptive default against both.
POLL_ARGS = {False: ["--adaptive-poll", "0"], True: ["--busy-poll"]}


# Backend names beyond the plain kinds (null, ram, ...): RAM namespaces with their memory options
# (docs/configuration.md): prefaulted at creation, and prefaulted in transparent huge pages.
RAM_SIZE = "1G"
NAMESPACE_SPECS = {"ram-prefault": f"ram:{RAM_SIZE},prefault", "ram-huge": f"ram:{RAM_SIZE},prefault,huge_pages"}


def target_command(nvmf, backend, port, ready_file, poll):
    cmd = ["taskset", "-c", "0", nvmf, "target", "--listen", f"tcp:127.0.0.1:{port}",
           "--namespace", NAMESPACE_SPECS.get(backend, f"{backend}:{RAM_SIZE}"), "--cores", "0", "--discovery-port", "0", "--ready-file", ready_file]
    return cmd + POLL_ARGS[poll]


def perf_command(nvmf, port, c, seconds, poll):
    cmd = ["taskset", "-c", "1", nvmf, "perf", "--transport", "tcp", "-a", "127.0.0.1", "-s", str(port),
           "-n", SUBSYSTEM_NQN, "-q", str(c["queue_depth"]), "-o", str(c["io_size"]), "-w", c["pattern"],
           "-T", str(seconds), "--cores", "1", "--output-format", "json", "--quiet"]
    if "mix" in c:
        cmd += ["-M", str(c["mix"]["percent"])]
    return cmd + POLL_ARGS[poll]


def ceiling_server_command(ceiling, port, poll, payload_memory=False):
    """nvmf-ceiling's server on core 0; with `payload_memory`, the ceiling of a RAM namespace of RAM_SIZE."""
    return (["taskset", "-c", "0", ceiling, "server", "--listen", f"127.0.0.1:{port}", "--cpu", "0"]
            + (["--payload-memory", RAM_SIZE] if payload_memory else []) + (["--poll"] if poll else []))


def select_cases(names):
    """The CASES named in a comma-separated list, in CASES order (all when empty); exits on an unknown name."""
    if not names:
        return CASES
    wanted = names.split(",")
    unknown = set(wanted) - {c["name"] for c in CASES}
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; known: {[c['name'] for c in CASES]}")
    return [c for c in CASES if c["name"] in wanted]


def progress(backend, rep, repetitions, case_name, who, r):
    """One line on stderr per measured run, so a long bench shows where it is and what failed."""
    print(f"[{backend} {rep + 1}/{repetitions}] {case_name:<20} {who} {fmt(r.get('iops'))} IOPS"
          + ("" if r["ok"] else f"  FAILED {r['error'][:200]}"), file=sys.stderr, flush=True)


def ceiling_client_command(ceiling, port, c, seconds, poll):
    s = c["shape"]
    cmd = ["taskset", "-c", "1", ceiling, "client", "--connect", f"127.0.0.1:{port}", "--cpu", "1",
           "--request-size", str(s["request_size"]), "--response-size", str(s["response_size"]),
           "--queue-depth", str(c["queue_depth"]), "--time", str(seconds), "--payload-size", str(c["io_size"]),
           "-o", "json"]
    if "mix" in c:
        o = c["mix"]["other"]
        cmd += ["--mix-percent", str(c["mix"]["percent"]), "--other-request-size", str(o["request_size"]),
                "--other-response-size", str(o["response_size"])]
    return cmd + (["--poll"] if poll else [])


def process_cpu_seconds(pid):
    """utime + stime of every thread of `pid` so far (proc(5): fields 14 and 15, in clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(cmd, timeout):
    """Run `cmd`; return (exit status, stdout, stderr, CPU seconds of the child from wait4)."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        deadline = time.monotonic() + timeout
        out = b""
        os.set_blocking(p.stdout.fileno(), False)
        while True:
            chunk = p.stdout.read()
            if chunk:
                out += chunk
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                rest = p.stdout.read()
                out += rest or b""
                p.returncode = os.waitstatus_to_exitcode(status)  # stop Popen from reaping it again
                break
            if time.monotonic() > deadline:
                p.kill()
                _, status, ru = os.wait4(p.pid, 0)
                p.returncode = -9
                break
            time.sleep(0.02)
        err.seek(0)
        return p.returncode, out.decode(errors="replace"), err.read().decode(errors="replace"), \
            ru.ru_utime + ru.ru_stime


class Server:
    """A long-running server process pinned to core 0 (the target or the ceiling server). It is stopped
    (SIGSTOP) while the other side's case runs, so that a polling server does not steal the core."""

    def __init__(self, cmd, name, ready_file=None, port=None):
        self.name = name
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self._ready(ready_file, port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} not ready after 30 s:\n{self.output()}")
            time.sleep(0.05)
        time.sleep(0.1)  # a server that lost the port to another process exits right after starting
        if self.proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {self.proc.returncode}:\n{self.output()}")
        self.paused = False

    @staticmethod
    def _ready(ready_file, port):
        if ready_file:
            return os.path.exists(ready_file)
        # The ceiling server listens before it prints; a listening socket shows in /proc/net/tcp as state 0A.
        hexport = f":{port:04X}"
        with open("/proc/net/tcp") as f:
            return any(l.split()[1].endswith(hexport) and l.split()[3] == "0A" for l in f.readlines()[1:])

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def pause(self):
        if not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False

    def cpu_seconds(self):
        return process_cpu_seconds(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.resume()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def summarize(doc):
    """The figures run.py needs, from nvmf perf's JSON (one phase per run) or nvmf-ceiling's."""
    part = doc["phases"][-1] if "phases" in doc else doc
    lat = part["latency_us"]
    return {
        "ios": part["ios"],
        "seconds": part["seconds"],
        "iops": part["iops"],
        "mibps": part["mib_per_second"],
        "latency_us": {k: lat.get(k) for k in ("mean", "min", "max", "p50", "p90", "p99", "p99_9")},
        "histogram": part.get("histogram", []),
    }


def measure(server, client_cmd, seconds):
    """One run of one client against `server`; returns the summary with CPU seconds per million I/O."""
    server.resume()
    if not server.alive():  # say why, rather than fail on its vanished /proc entry
        raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.output()}")
    before = server.cpu_seconds()
    rc, out, err, client_cpu = run_child(client_cmd, timeout=seconds + 60)
    server_cpu = server.cpu_seconds() - before
    server.pause()
    if rc != 0:
        return {"ok": False, "error": f"exit {rc}: {err.strip()[-800:]}"}
    try:
        s = summarize(json.loads(out))
    except (ValueError, KeyError, IndexError) as e:
        return {"ok": False, "error": f"unreadable JSON ({e}): {out[:400]}"}
    ios = max(s["ios"], 1)
    s.update(ok=True, client_cpu_s=client_cpu, server_cpu_s=server_cpu,
             client_cpu_s_per_mio=client_cpu * 1e6 / ios, server_cpu_s_per_mio=server_cpu * 1e6 / ios)
    return s


def best_of(runs):
    """The repetition with the highest IOPS, with the spread of IOPS across the good repetitions."""
    good = [r for r in runs if r.get("ok")]
    if not good:
        return {"ok": False, "error": runs[-1].get("error", "no run") if runs else "no run", "runs": runs}
    best = max(good, key=lambda r: r["iops"])
    iops = [r["iops"] for r in good]
    return dict(best, spread_pct=100.0 * (max(iops) - min(iops)) / max(iops), repetitions=len(good),
                failed_repetitions=len(runs) - len(good), runs_iops=iops)


def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def table(results, mode):
    head = (f"{'case':<20} {'backend':<12} {'IOPS':>10} {'MiB/s':>8} {'mean us':>8} {'p99 us':>8} "
            f"{'host s/M':>8} {'tgt s/M':>8} {'spread':>6} | {'ceil IOPS':>10} {'ceil p99':>8} "
            f"{'ceil cli':>8} {'ceil srv':>8} {'spread':>6} | {'ratio':>5} | {'mem ceil':>10} {'srv':>5} {'ratio':>5}")
    lines = [f"mode: {mode}; best of repetitions by IOPS; s/M = CPU seconds per million I/O; "
             "spread = (max-min)/max IOPS; mem ceil = the ceiling with payload memory (RAM backends)",
             head, "-" * len(head)]
    for r in results:
        o, c = r["ours"], r["ceiling"]
        ours = (f"{fmt(o['iops']):>10} {fmt(o['mibps'], 1):>8} {fmt(o['latency_us']['mean'], 1):>8} "
                f"{fmt(o['latency_us']['p99'], 1):>8} {fmt(o['client_cpu_s_per_mio'], 2):>8} "
                f"{fmt(o['server_cpu_s_per_mio'], 2):>8} {o['spread_pct']:>5.1f}%"
                if o.get("ok") else f"{'failed: ' + o['error'][:60]:<70}")
        ceil = (f"{fmt(c['iops']):>10} {fmt(c['latency_us']['p99'], 1):>8} "
                f"{fmt(c['client_cpu_s_per_mio'], 2):>8} {fmt(c['server_cpu_s_per_mio'], 2):>8} "
                f"{c['spread_pct']:>5.1f}%" if c.get("ok") else f"{'failed':<45}")
        ratio = f"{o['iops'] / c['iops']:>5.2f}" if o.get("ok") and c.get("ok") and c["iops"] else "    -"
        m = r.get("memory_ceiling")
        mem = (f"{fmt(m['iops']):>10} {fmt(m['server_cpu_s_per_mio'], 2):>5} "
               f"{(o['iops'] / m['iops'] if o.get('ok') and m['iops'] else 0):>5.2f}" if m and m.get("ok") else "")
        lines.append(f"{r['case']:<20} {r['backend']:<12} {ours} | {ceil} | {ratio} | {mem}")
    return "\n".join(lines)


def memory_cells(r):
    """The two markdown cells of the ceiling with payload memory: its IOPS and ours against it ('-' if none)."""
    m = r.get("memory_ceiling")
    if not m or not m.get("ok") or not m["iops"]:
        return "- | -"
    return f"{fmt(m['iops'])} | {r['ours']['iops'] / m['iops']:.2f}"


def tcp_settings():
    """The machine's TCP congestion control and default qdisc: with BBR and no fq qdisc the kernel paces every
    connection from an hrtimer, which on loopback costs both tools timer interrupts and makes runs vary more."""
    def read(path):
        try:
            return pathlib.Path(path).read_text().strip()
        except OSError:
            return "unknown"
    return {"congestion_control": read("/proc/sys/net/ipv4/tcp_congestion_control"),
            "default_qdisc": read("/proc/sys/net/core/default_qdisc")}


def markdown(results, mode):
    rows = ["| case | backend | IOPS | MiB/s | mean µs | p99 µs | host CPU s/M I/O | target CPU s/M I/O | spread "
            "| ceiling IOPS | ceiling p99 µs | ratio | ceiling with payload memory: IOPS | ratio to it |",
            "|" + "---|" * 14]
    for r in results:
        o, c = r["ours"], r["ceiling"]
        if not o.get("ok") or not c.get("ok"):
            rows.append(f"| {r['case']} | {r['backend']} | failed: {(o.get('error') or c.get('error'))[:80]} "
                        "|||||||||||| ")
            continue
        rows.append(f"| {r['case']} | {r['backend']} | {fmt(o['iops'])} | {fmt(o['mibps'], 1)} | "
                    f"{fmt(o['latency_us']['mean'], 1)} | {fmt(o['latency_us']['p99'], 1)} | "
                    f"{fmt(o['client_cpu_s_per_mio'], 2)} | {fmt(o['server_cpu_s_per_mio'], 2)} | "
                    f"{o['spread_pct']:.1f}% | {fmt(c['iops'])} | {fmt(c['latency_us']['p99'], 1)} | "
                    f"{o['iops'] / c['iops']:.2f} | " + memory_cells(r) + " |")
    return f"Mode: {mode}.\n\n" + "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build-release")
    ap.add_argument("--time", type=float, default=3.0, help="seconds per run (default 3)")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--backends", default="null,ram",
                    help="comma-separated: null, ram, or " + ", ".join(NAMESPACE_SPECS) + " (RAM memory options)")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--mode", choices=["interrupt", "poll"], default="interrupt")
    ap.add_argument("--target-port", type=int, default=14420, help="first pass; +3 per backend")
    ap.add_argument("--ceiling-port", type=int, default=14421,
                    help="first pass (RAM backends also use the next port); +3 per backend")
    ap.add_argument("--ceiling-only", action="store_true",
                    help="measure only the ceiling (no nvmf target or perf); for checking this machine")
    ap.add_argument("--results-dir", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()

    build = pathlib.Path(args.build_dir)
    nvmf, ceiling = str(build / "utils" / "nvmf"), str(build / "bench" / "nvmf-ceiling")
    cases = select_cases(args.cases)
    if os.cpu_count() < 2:
        sys.exit("needs two CPUs (target/server on 0, perf/client on 1)")
    poll = args.mode == "poll"
    backends = ["none"] if args.ceiling_only else args.backends.split(",")

    results = []
    for index, backend in enumerate(backends):
        # Fresh ports per pass: a server's last io_uring requests may hold its port briefly after it exits.
        target_port, ceiling_port = args.target_port + 3 * index, args.ceiling_port + 3 * index
        raw = {c["name"]: {"ours": [], "ceiling": [], "memory_ceiling": []} for c in cases}
        ready_dir = tempfile.TemporaryDirectory(prefix="nvmf-bench-")
        ready = os.path.join(ready_dir.name, "ready")
        target = None
        ceiling_server = Server(ceiling_server_command(ceiling, ceiling_port, poll), "nvmf-ceiling server",
                                port=ceiling_port)
        ceiling_server.pause()
        # A RAM namespace moves every payload to or from a random place in its memory, which the plain ceiling
        # (one hot buffer) never does: its bound is the ceiling with as much payload memory.
        memory_server = None
        if backend.startswith("ram"):
            memory_server = Server(ceiling_server_command(ceiling, ceiling_port + 1, poll, payload_memory=True),
                                   "nvmf-ceiling server", port=ceiling_port + 1)
            memory_server.pause()
        try:
            if not args.ceiling_only:
                target = Server(target_command(nvmf, backend, target_port, ready, poll), "nvmf target",
                                ready_file=ready)
                target.pause()
            for rep in range(args.repetitions):
                for c in cases:
                    if target:
                        r = measure(target, perf_command(nvmf, target_port, c, args.time, poll), args.time)
                        raw[c["name"]]["ours"].append(r)
                        progress(backend, rep, args.repetitions, c["name"], "ours   ", r)
                        if not target.alive():
                            raise RuntimeError(f"nvmf target died:\n{target.output()}")
                    r = measure(ceiling_server, ceiling_client_command(ceiling, ceiling_port, c, args.time,
                                                                       poll), args.time)
                    raw[c["name"]]["ceiling"].append(r)
                    progress(backend, rep, args.repetitions, c["name"], "ceiling", r)
                    if memory_server:
                        r = measure(memory_server, ceiling_client_command(ceiling, ceiling_port + 1, c, args.time,
                                                                          poll), args.time)
                        raw[c["name"]]["memory_ceiling"].append(r)
                        progress(backend, rep, args.repetitions, c["name"], f"ceiling, {RAM_SIZE} payload memory", r)
        finally:
            ceiling_server.stop()
            if memory_server:
                memory_server.stop()
            if target:
                target.stop()
            ready_dir.cleanup()
        for c in cases:
            ours = best_of(raw[c["name"]]["ours"]) if not args.ceiling_only else {"ok": False, "error": "skipped"}
            result = {"case": c["name"], "backend": backend, "workload": c,
                      "ours": ours, "ceiling": best_of(raw[c["name"]]["ceiling"])}
            if memory_server:
                result["memory_ceiling"] = best_of(raw[c["name"]]["memory_ceiling"])
            results.append(result)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    command = " ".join(sys.argv)
    doc = {"command": command, "date": stamp, "mode": args.mode, "time_s": args.time,
           "repetitions": args.repetitions, "kernel": os.uname().release, "cpus": os.cpu_count(),
           "tcp": tcp_settings(), "results": results}
    out_dir = pathlib.Path(args.results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp}-{args.mode}.json"
    path.write_text(json.dumps(doc, indent=1))
    (out_dir / f"latest-{args.mode}.json").write_text(json.dumps(doc, indent=1))
    (out_dir / f"latest-{args.mode}.md").write_text(markdown(results, args.mode))
    print(table(results, args.mode))
    print(f"TCP congestion control {doc['tcp']['congestion_control']}, default qdisc {doc['tcp']['default_qdisc']}")
    print(f"\nresults: {path} (markdown table: {out_dir / f'latest-{args.mode}.md'})")


if __name__ == "__main__":
    main()
