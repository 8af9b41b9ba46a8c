#!/usr/bin/env python3
"""Soak: a `nvmf target` on loopback while nvmf-soak-host cycles many associations (64 by default, 4 I/O queues
each: connect, verified I/O, disconnect) for a given time and `nvmf target-ctl` adds and removes a namespace and
a host the whole time. Samples the target's RSS and open descriptors from /proc and reports them over time.

Passes when the host reports 0 verify errors and 0 unexpected statuses, every target-ctl change succeeded, the
target is still running, its descriptors are back to the idle count once the hosts are gone, and its RSS after
warm-up stayed flat (growth within the tolerance). Bounded: every wait has a timeout.
"""
import argparse, collections, json, re, os, shutil, signal, subprocess, sys, tempfile, threading, time

SUBNQN = "nqn.2024-01.io.nvmf.soak:subsystem"
HOSTNQN = "nqn.2024-01.io.nvmf.soak:host"
CHURN_HOSTNQN = "nqn.2024-01.io.nvmf.soak:churn-host"


def proc_figures(pid):
    """(RSS in KiB, open descriptors) of a process, from /proc."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


class Churn(threading.Thread):
    """Adds and removes a namespace (NSID 2) and an allowed host on the soaked subsystem until stopped."""

    def __init__(self, nvmf, socket):
        super().__init__(daemon=True)
        self.nvmf, self.socket = nvmf, socket
        self.stop = threading.Event()
        self.changes = 0
        self.errors = []

    def ctl(self, *args):
        r = subprocess.run([self.nvmf, "target-ctl", "--socket", self.socket, *args], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            self.errors.append(f"target-ctl {' '.join(args)}: {r.stderr.strip()}")
        else:
            self.changes += 1

    def run(self):
        while not self.stop.wait(0.5):
            self.ctl("add-ns", SUBNQN, "ram:1M", "--nsid", "2", "--block-size", "4096")
            self.ctl("add-host", SUBNQN, CHURN_HOSTNQN)
            if self.stop.wait(0.5):
                break
            self.ctl("remove-ns", SUBNQN, "2")
            self.ctl("remove-host", SUBNQN, CHURN_HOSTNQN)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nvmf", required=True, help="the nvmf binary")
    ap.add_argument("--soak-host", required=True, help="the nvmf-soak-host binary")
    ap.add_argument("--duration", type=float, default=600, help="seconds of soak (default 600)")
    ap.add_argument("--threads", type=int, default=8, help="host threads")
    ap.add_argument("--controllers", type=int, default=8, help="associations per host thread")
    ap.add_argument("--io-queues", type=int, default=4, help="I/O queues per association")
    ap.add_argument("--sample-interval", type=float, default=5, help="seconds between /proc samples")
    ap.add_argument("--warmup", type=float, default=None, help="seconds of warm-up (default: a quarter of the run)")
    ap.add_argument("--rss-tolerance-kib", type=int, default=4096,
                    help="allowed RSS growth after warm-up, KiB (default 4096)")
    ap.add_argument("--json", help="write the figures here as JSON")
    a = ap.parse_args()
    warmup = a.warmup if a.warmup is not None else a.duration / 4

    work = tempfile.mkdtemp(prefix="nvmf-soak-")
    ready, sock = os.path.join(work, "ready"), os.path.join(work, "ctl.sock")
    target_log = open(os.path.join(work, "target.log"), "w+")
    target = subprocess.Popen(
        [a.nvmf, "target", "--listen", "tcp:127.0.0.1:0", "--discovery-port", "0", "--subsystem", SUBNQN,
         "--namespace", "ram:64M", "--block-size", "4096", "--allow-host", HOSTNQN, "--ready-file", ready,
         "--control-socket", sock], stdout=target_log, stderr=subprocess.STDOUT)
    host = None
    host_log = open(os.path.join(work, "host.log"), "w+")  # a file, not a pipe: a full pipe would stall the host
    churn = Churn(a.nvmf, sock)
    failures = []
    samples = []  # (seconds since the hosts started, RSS KiB, fds)
    try:
        wait_for(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0 or target.poll() is not None, 10,
                 "the target to listen")
        if target.poll() is not None:
            raise RuntimeError("the target exited at start-up")
        port = open(ready).readline().strip().rsplit(":", 1)[1]
        idle_start = proc_figures(target.pid)

        start = time.monotonic()
        host = subprocess.Popen(
            [a.soak_host, "--trsvcid", port, "--subnqn", SUBNQN, "--hostnqn", HOSTNQN, "--threads", str(a.threads),
             "--controllers", str(a.controllers), "--io-queues", str(a.io_queues), "--duration", str(a.duration)],
            stdout=subprocess.PIPE, stderr=host_log, text=True)
        churn.start()
        next_sample = start
        while host.poll() is None:
            if time.monotonic() >= next_sample:
                samples.append((round(time.monotonic() - start, 1), *proc_figures(target.pid)))
                next_sample += a.sample_interval
            if target.poll() is not None:
                raise RuntimeError("the target exited during the soak")
            if time.monotonic() - start > a.duration + 120:
                raise RuntimeError("the soak host did not finish within duration + 120 s")
            time.sleep(0.1)
        churn.stop.set()
        churn.join(timeout=60)
        host_out, _ = host.communicate(timeout=10)
        if host.returncode != 0:
            failures.append(f"soak host exited {host.returncode}")
        counters = json.loads(host_out.strip().splitlines()[-1]) if host_out.strip() else {}
        # Quiet again: let the target close what the hosts left and the last control change settle.
        time.sleep(2)
        idle_end = proc_figures(target.pid)
        samples.append((round(time.monotonic() - start, 1), *idle_end))
    except Exception as e:  # noqa: BLE001 - every failure is reported with the target's log
        failures.append(str(e))
        counters, idle_start, idle_end = {}, locals().get("idle_start", (0, 0)), None
    finally:
        churn.stop.set()
        if host and host.poll() is None:
            host.kill()
            host.wait()
        if target.poll() is None:
            target.send_signal(signal.SIGTERM)
            try:
                target.wait(timeout=15)
            except subprocess.TimeoutExpired:
                target.kill()
                target.wait()
                failures.append("the target did not stop within 15 s of SIGTERM")

    failures += churn.errors
    # A clean soak (every association closed normally) leaves no warning in the host's log but one: a namespace
    # the churn removed between the host's Identify of the active list and of the namespace itself.
    host_log.seek(0)
    host_warnings = collections.Counter(
        re.sub(r'^.*msg="?(.*?)"?$', r"\1", line.strip()) for line in host_log if re.search(r"level=(warn|error)", line))
    unexpected = sum(n for m, n in host_warnings.items() if not re.match(r"skipping namespace \d+: inactive", m))
    if unexpected:
        failures.append(f"the host logged {unexpected} unexpected warnings or errors")
    after_warmup = [s for s in samples if s[0] >= warmup]
    rss_warm = after_warmup[0][1] if after_warmup else 0
    rss_peak_late = max((s[1] for s in after_warmup), default=0)
    if counters:
        if counters.get("verify_errors", 1) != 0:
            failures.append(f"{counters['verify_errors']} verify errors")
        if counters.get("unexpected_status", 1) != 0:
            failures.append(f"{counters['unexpected_status']} unexpected statuses")
    elif not failures:
        failures.append("the soak host printed no counters")
    if churn.changes == 0 and not churn.errors:
        failures.append("no target-ctl change was made")
    if idle_end is not None and idle_end[1] != idle_start[1]:
        failures.append(f"open descriptors idle {idle_start[1]} before the soak, {idle_end[1]} after it")
    if after_warmup and rss_peak_late - rss_warm > a.rss_tolerance_kib:
        failures.append(f"RSS grew {rss_peak_late - rss_warm} KiB after warm-up (tolerance {a.rss_tolerance_kib})")

    print(f"soak: {a.duration:g} s, {a.threads} threads x {a.controllers} associations x {a.io_queues} I/O queues")
    print(f"host: {json.dumps(counters)}")
    print(f"target-ctl changes: {churn.changes} ({len(churn.errors)} refused)")
    print(f"host warnings: {sum(host_warnings.values())}" + "".join(f"\n  {n} x {m}" for m, n in host_warnings.most_common(5)))
    print("   t(s)    RSS(KiB)  fds")
    print(f"   idle  {idle_start[0]:>10}  {idle_start[1]:>3}   (before the hosts)")
    for t, rss, fds in samples:
        print(f"{t:>7}  {rss:>10}  {fds:>3}")
    if idle_end is not None:
        print(f"RSS after warm-up ({warmup:g} s): {rss_warm} KiB, highest later {rss_peak_late} KiB; "
              f"idle RSS {idle_start[0]} KiB before, {idle_end[0]} KiB after; idle fds {idle_start[1]} before, "
              f"{idle_end[1]} after")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"counters": counters, "ctl_changes": churn.changes, "samples": samples,
                       "idle_start": idle_start, "idle_end": idle_end, "failures": failures}, f, indent=1)
    if failures:
        for name, log in (("host", host_log), ("target", target_log)):
            log.seek(0)
            print(f"---- {name} log (tail)\n" + "".join(log.readlines()[-30:]))
        for f in failures:
            print(f"FAIL: {f}")
        print(f"logs kept in {work}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
