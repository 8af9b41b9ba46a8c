#!/usr/bin/python3
"""The target's monitoring surfaces against a real `nvmf target` and `nvmf perf` on loopback.

The Prometheus endpoint is scraped before, during and after I/O and every scrape is parsed with the reference
parser (prometheus_client): counters move during I/O, the namespace and subsystem totals keep what the closed
queues did, histogram counts match the command counters, and paths other than /metrics, other methods and
oversized requests are refused. `nvmf target-ctl stats -o json` agrees with the endpoint, and `stats` and
`top` print their views. Every process is killed when the test ends and every wait is bounded.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # CI installs python3-prometheus-client (scripts/install-deps.sh): a missing one is a failure
    print("FAIL: python3-prometheus-client is not installed (scripts/install-deps.sh)")
    sys.exit(1)

NVMF = os.environ["NVMF_BIN"]
NQN = "nqn.2024-01.io.nvmf.test:metrics"
work = tempfile.mkdtemp(prefix="nvmf-metrics-")
procs = []


def fail(message):
    print("FAIL: " + message)
    for name in sorted(os.listdir(work)):
        if name.endswith(".log"):
            with open(os.path.join(work, name), errors="replace") as f:
                print("---- " + name + "\n" + "".join(f.readlines()[-30:]))
    sys.exit(1)


def check(cond, message):
    if not cond:
        fail(message)


def start_target():
    log = open(os.path.join(work, "target.log"), "w")
    ready = os.path.join(work, "ready")
    p = subprocess.Popen([NVMF, "target", "--listen", "tcp:127.0.0.1:0", "--discovery-port", "0", "--subsystem", NQN,
                          "--namespace", "ram:32M", "--namespace", "ram:16M", "--ready-file", ready,
                          "--control-socket", os.path.join(work, "ctl.sock"), "--metrics", "tcp:127.0.0.1:0"],
                         stdout=log, stderr=subprocess.STDOUT)
    procs.append(p)
    deadline = time.time() + 10
    while time.time() < deadline and not os.path.exists(ready):
        check(p.poll() is None, "nvmf target exited during start-up")
        time.sleep(0.1)
    check(os.path.exists(ready), "nvmf target did not listen within 10 s")
    with open(ready) as f:
        io_port = f.readline().strip().rsplit(":", 1)[1]
    with open(os.path.join(work, "target.log")) as f:
        m = re.search(r"metrics endpoint tcp:127\.0\.0\.1:(\d+) ready", f.read())
    check(m is not None, "the target did not log its metrics endpoint")
    return p, io_port, int(m.group(1))


def http(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body.decode()


def scrape(port):
    head, body = http(port, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
    check(head.startswith("HTTP/1.1 200"), "GET /metrics: " + head.splitlines()[0])
    check("text/plain; version=0.0.4" in head, "GET /metrics: content type")
    samples = {}
    families = {}
    for family in text_string_to_metric_families(body):
        families[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted({k: str(v) for k, v in labels.items()}.items()))), 0.0)


def total(samples, name, **labels):
    """Sum of the series of `name` whose labels include `labels`."""
    want = {k: str(v) for k, v in labels.items()}
    return sum(v for (n, l), v in samples.items() if n == name and want.items() <= dict(l).items())


def ctl(*args):
    r = subprocess.run([NVMF, "target-ctl", "--socket", os.path.join(work, "ctl.sock")] + list(args),
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "target-ctl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def main():
    target, io_port, mport = start_target()

    families, before = scrape(mport)
    for name, kind in [("nvmf_target_subsystem_commands", "counter"), ("nvmf_target_namespace_bytes", "counter"),
                       ("nvmf_target_namespace_latency_seconds", "histogram"),
                       ("nvmf_target_controller_errors", "counter"), ("nvmf_target_queue_in_flight_commands", "gauge")]:
        check(families.get(name) == kind, "family %s: expected %s, got %s" % (name, kind, families.get(name)))
    check(value(before, "nvmf_target_namespace_commands_total", subsystem=NQN, nsid=1, op="read") == 0,
          "reads counted before any I/O")

    # Random reads and writes for 3 s on namespace 1, two queues; scraped while it runs.
    perf_log = open(os.path.join(work, "perf.log"), "w")
    perf = subprocess.Popen([NVMF, "perf", "-a", "127.0.0.1", "-s", io_port, "-n", NQN, "-N", "1", "-q", "8", "-o",
                             "4096", "-w", "randrw", "-M", "50", "-T", "3", "-P", "2", "--quiet"],
                            stdout=perf_log, stderr=subprocess.STDOUT)
    procs.append(perf)
    time.sleep(1.2)
    _, during1 = scrape(mport)
    time.sleep(0.8)
    _, during2 = scrape(mport)
    check(perf.wait(timeout=30) == 0, "nvmf perf failed")

    reads1 = value(during1, "nvmf_target_namespace_commands_total", subsystem=NQN, nsid=1, op="read")
    reads2 = value(during2, "nvmf_target_namespace_commands_total", subsystem=NQN, nsid=1, op="read")
    writes1 = value(during1, "nvmf_target_namespace_commands_total", subsystem=NQN, nsid=1, op="write")
    writes2 = value(during2, "nvmf_target_namespace_commands_total", subsystem=NQN, nsid=1, op="write")
    check(0 < reads1 < reads2 and 0 < writes1 < writes2,
          "namespace counters did not move during I/O: reads %s -> %s, writes %s -> %s" % (reads1, reads2, writes1, writes2))
    check(total(during2, "nvmf_target_queue_commands_total", subsystem=NQN, op="read") > 0, "no per-queue series during I/O")
    check(len({dict(l)["qid"] for (n, l) in during2 if n == "nvmf_target_queue_in_flight_commands"}) == 2,
          "expected two live I/O queues during perf")
    check(value(during2, "nvmf_target_namespace_bytes_total", subsystem=NQN, nsid=1, op="write") == writes2 * 4096,
          "bytes written is not 4096 per write")

    # Afterwards the queues are closed: their series are gone, their counts are not.
    _, after = scrape(mport)
    reads = value(after, "nvmf_target_namespace_commands_total", subsystem=NQN, nsid=1, op="read")
    writes = value(after, "nvmf_target_namespace_commands_total", subsystem=NQN, nsid=1, op="write")
    check(reads >= reads2 and writes >= writes2, "namespace totals went backwards after the queues closed")
    check(total(after, "nvmf_target_queue_commands_total") == 0, "closed queues still listed")
    check(value(after, "nvmf_target_subsystem_commands_total", subsystem=NQN, op="read") == reads,
          "subsystem reads differ from the namespaces' sum")
    check(value(after, "nvmf_target_namespace_commands_total", subsystem=NQN, nsid=2, op="read") == 0,
          "namespace 2 saw reads it was not sent")
    count = value(after, "nvmf_target_namespace_latency_seconds_count", subsystem=NQN, nsid=1, op="read")
    inf = value(after, "nvmf_target_namespace_latency_seconds_bucket", subsystem=NQN, nsid=1, op="read", le="+Inf")
    check(count == reads and inf == reads, "latency histogram count %s / +Inf %s != reads %s" % (count, inf, reads))
    check(value(after, "nvmf_target_namespace_latency_seconds_sum", subsystem=NQN, nsid=1, op="read") > 0,
          "latency sum is 0")
    check(value(after, "nvmf_target_subsystem_in_flight_commands", subsystem=NQN) == 0, "commands left in flight")

    # The control socket's view agrees.
    stats = json.loads(ctl("stats", "-o", "json"))
    sub = [s for s in stats["subsystems"] if s["nqn"] == NQN][0]
    ns1 = [n for n in sub["namespaces"] if n["nsid"] == 1][0]
    check(ns1["ops"]["read"]["commands"] == reads and ns1["ops"]["write"]["commands"] == writes,
          "stats -o json disagrees with /metrics")
    check(0 < ns1["ops"]["read"]["latency"]["p50_us"] <= ns1["ops"]["read"]["latency"]["p99_us"],
          "stats -o json: read percentiles")
    text = ctl("stats")
    check(NQN in text and "ns 1" in text and "total" in text, "stats: unexpected output:\n" + text)
    top = ctl("top", "-n", "1", "-d", "0.2")
    check("read IOPS" in top and "ns 1" in top, "top: unexpected output:\n" + top)

    # Only GET /metrics.
    head, _ = http(mport, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
    check(head.startswith("HTTP/1.1 404"), "GET /other: " + head.splitlines()[0])
    head, _ = http(mport, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    check(head.startswith("HTTP/1.1 405"), "POST /metrics: " + head.splitlines()[0])
    head, _ = http(mport, b"GET /metrics HTTP/1.1\r\nX-Padding: " + b"a" * 9000 + b"\r\n\r\n")
    check(head.startswith("HTTP/1.1 431"), "oversized request: " + head.splitlines()[0])
    head, _ = http(mport, b"garbage\r\n\r\n")
    check(head.startswith("HTTP/1.1 400"), "malformed request: " + head.splitlines()[0])
    scrape(mport)  # still serving

    target.send_signal(signal.SIGTERM)
    check(target.wait(timeout=15) == 0, "nvmf target did not stop cleanly")
    print("PASS: metrics endpoint, stats and top")


try:
    main()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)
