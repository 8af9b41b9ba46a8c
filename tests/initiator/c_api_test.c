/* The C API (nvmf/host.h) exercised from C against a spawned `nvmf target` ($NVMF_BIN) on loopback: defaults,
 * connect failures, identity, namespaces, asynchronous and synchronous I/O with data checked, vectored I/O,
 * queue-full, argument errors, status text, and the order of teardown. Compiled as C11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <nvmf/host.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NQN "nqn.2024-01.io.nvmf.test:c-api"
#define NS_BYTES (16u << 20)
#define BLOCK 512u

static int passed, failed;
#define CHECK(cond)                                                        \
  do {                                                                     \
    if (cond) {                                                            \
      ++passed;                                                            \
    } else {                                                               \
      ++failed;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

static pid_t target_pid = -1;
static char target_dir[64];

static void stop_target(void) {
  if (target_pid > 0) {
    kill(target_pid, SIGTERM);
    waitpid(target_pid, NULL, 0);
    target_pid = -1;
  }
  const char *files[] = {"ready", "target.log", "ns.img"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; ++i) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", target_dir, files[i]);
    unlink(path);
  }
  rmdir(target_dir);
}

/* A crash: SIGKILL, no orderly close of the connections. */
static void kill_target(void) {
  if (target_pid > 0) {
    kill(target_pid, SIGKILL);
    waitpid(target_pid, NULL, 0);
    target_pid = -1;
  }
}

/* Start `nvmf target` with one 16 MiB file namespace; on `port` when it is set, else on an ephemeral port,
 * which then lands in `port`. The file outlives a restart. */
static int start_target(char *port, size_t len) {
  const char *bin = getenv("NVMF_BIN");
  if (!bin) {
    fprintf(stderr, "NVMF_BIN is not set\n");
    return -1;
  }
  char ready[128], log[128], ns[128], listen[64];
  if (!target_dir[0]) {
    strcpy(target_dir, "/tmp/nvmf-capi-XXXXXX");
    if (!mkdtemp(target_dir)) return -1;
    snprintf(ns, sizeof ns, "%s/ns.img", target_dir);
    FILE *f = fopen(ns, "w");
    if (!f || ftruncate(fileno(f), NS_BYTES) != 0) return -1;
    fclose(f);
  }
  snprintf(ready, sizeof ready, "%s/ready", target_dir);
  unlink(ready);
  snprintf(log, sizeof log, "%s/target.log", target_dir);
  snprintf(ns, sizeof ns, "file:%s/ns.img", target_dir);
  snprintf(listen, sizeof listen, "tcp:127.0.0.1:%s", port[0] ? port : "0");
  target_pid = fork();
  if (target_pid < 0) return -1;
  if (target_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    if (!freopen(log, "w", stderr)) _exit(126);
    execl(bin, bin, "target", "--listen", listen, "--discovery-port", "0", "--cores", "0",
          "--subsystem", NQN, "--serial", "CAPI0001", "--model", "c api model", "--namespace", ns,
          "--ready-file", ready, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500; ++i) { /* 10 s */
    FILE *f = fopen(ready, "r");
    if (f) {
      char line[128] = {0};
      int ok = fgets(line, sizeof line, f) != NULL;
      fclose(f);
      char *colon = ok ? strrchr(line, ':') : NULL;
      if (colon && colon[1]) {
        snprintf(port, len, "%s", colon + 1);
        port[strcspn(port, "\r\n ")] = '\0';
        return 0;
      }
    }
    if (waitpid(target_pid, NULL, WNOHANG) == target_pid) {
      target_pid = -1;
      return -1;
    }
    usleep(20000);
  }
  return -1;
}

struct done {
  int calls;
  int status;
};

static void on_done(void *arg, int status) {
  struct done *d = arg;
  ++d->calls;
  d->status = status;
}

/* Poll until `d` has `calls` completions or 5 s passed. */
static int wait_for(nvmf_qpair *qp, struct done *d, int calls) {
  for (int i = 0; i < 500 && d->calls < calls; ++i)
    if (nvmf_qpair_poll(qp, 10) < 0) break;
  return d->calls == calls;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 9));
}

static void test_defaults(void) {
  struct nvmf_ctrl_opts o;
  memset(&o, 0xab, sizeof o);
  nvmf_ctrl_opts_init(&o, sizeof o);
  CHECK(o.opts_size == sizeof o);
  CHECK(strcmp(o.transport, "tcp") == 0);
  CHECK(o.io_timeout_ms == 30000);
  CHECK(o.reconnect_delay_s == 10);
  CHECK(o.ctrl_loss_tmo_s == 600);
  CHECK(o.fast_io_fail_tmo_s == -1);
  CHECK(o.subnqn == NULL && o.trsvcid == NULL);
  CHECK(o.admin_thread);
}

static void test_connect_failures(const char *port) {
  struct nvmf_ctrl_opts o;
  nvmf_ctrl_opts_init(&o, sizeof o);
  nvmf_ctrl *ctrl = (nvmf_ctrl *)1;
  char err[256] = "";
  CHECK(nvmf_ctrl_connect(&o, &ctrl, err, sizeof err) == -EINVAL); /* no subsystem NQN */
  CHECK(ctrl == NULL);

  o.subnqn = NQN;
  o.trsvcid = "1"; /* nothing listens on port 1 */
  time_t start = time(NULL);
  int rc = nvmf_ctrl_connect(&o, &ctrl, err, sizeof err);
  CHECK(rc != 0);
  CHECK(ctrl == NULL);
  CHECK(strlen(err) > 0);
  CHECK(time(NULL) - start < 5);

  o.trsvcid = port;
  o.subnqn = "nqn.2024-01.io.nvmf.test:nobody";
  err[0] = '\0';
  rc = nvmf_ctrl_connect(&o, &ctrl, err, sizeof err);
  CHECK(rc > 0); /* an NVMe status: the Connect was refused */
  CHECK(strstr(err, "Connect") != NULL);
  CHECK(strlen(nvmf_strerror(rc)) > 0);
}

static void test_io(nvmf_ctrl *ctrl) {
  nvmf_ns *ns = nvmf_ctrl_get_ns(ctrl, nvmf_ctrl_first_nsid(ctrl));
  CHECK(ns != NULL);
  if (!ns) return;
  CHECK(nvmf_ns_get_id(ns) == 1);
  CHECK(nvmf_ns_get_block_size(ns) == BLOCK);
  CHECK(nvmf_ns_get_size(ns) == NS_BYTES);
  CHECK(nvmf_ns_get_num_blocks(ns) == NS_BYTES / BLOCK);
  CHECK(nvmf_ns_is_active(ns));
  CHECK(nvmf_ctrl_next_nsid(ctrl, 1) == 0);
  CHECK(nvmf_ctrl_get_ns(ctrl, 7) == NULL);

  char err[256] = "";
  nvmf_qpair *qp = nvmf_qpair_create(ctrl, 8, err, sizeof err);
  CHECK(qp != NULL);
  if (!qp) {
    fprintf(stderr, "qpair: %s\n", err);
    return;
  }
  CHECK(nvmf_qpair_depth(qp) == 8);
  CHECK(nvmf_qpair_create(ctrl, 8, err, sizeof err) == NULL); /* one queue granted, in use */

  /* Asynchronous write then read of 64 KiB, data compared. */
  const size_t bytes = 64 * 1024;
  unsigned char *out = aligned_alloc(4096, bytes), *in = aligned_alloc(4096, bytes);
  fill(out, bytes, 1);
  memset(in, 0, bytes);
  struct done d = {0, -1};
  CHECK(nvmf_qpair_register_buffer(qp, out, bytes) == 0);
  CHECK(nvmf_qpair_write(qp, ns, out, 100, bytes / BLOCK, NVMF_IO_FUA, on_done, &d) == 0);
  CHECK(nvmf_qpair_outstanding(qp) == 1);
  CHECK(wait_for(qp, &d, 1) && d.status == 0);
  d.calls = 0;
  CHECK(nvmf_qpair_read(qp, ns, in, 100, bytes / BLOCK, on_done, &d) == 0);
  CHECK(wait_for(qp, &d, 1) && d.status == 0);
  CHECK(memcmp(in, out, bytes) == 0);

  /* Statistics: one write and one read so far, their bytes, their latencies in the histogram. */
  struct nvmf_io_stats st;
  memset(&st, 0xff, sizeof st);
  st.stats_size = sizeof st;
  CHECK(nvmf_qpair_get_stats(qp, &st) == 0);
  CHECK(st.stats_size == sizeof st);
  CHECK(st.read_commands == 1 && st.write_commands == 1 && st.other_commands == 0);
  CHECK(st.bytes_read == bytes && st.bytes_written == bytes);
  CHECK(st.errors == 0 && st.outstanding == 0 && st.queues == 1);
  CHECK(st.latency_count == 2 && st.latency_sum_ns > 0);
  CHECK(st.latency_p50_ns > 0 && st.latency_p50_ns <= st.latency_p99_ns && st.latency_p99_ns <= st.latency_p999_ns);
  uint64_t in_buckets = 0;
  for (unsigned i = 0; i < NVMF_IO_STATS_LATENCY_BUCKETS; ++i) in_buckets += st.latency_buckets[i];
  CHECK(in_buckets == 2);
  CHECK(nvmf_io_stats_bucket_upper_ns(8) == 9 && nvmf_io_stats_bucket_upper_ns(NVMF_IO_STATS_LATENCY_BUCKETS - 1) == UINT64_MAX);
  st.stats_size = 8; /* older than the first version: refused */
  CHECK(nvmf_qpair_get_stats(qp, &st) == -EINVAL);
  CHECK(nvmf_qpair_get_stats(qp, NULL) == -EINVAL);

  /* Vectored: two pieces written, read back into three. */
  struct iovec wv[2] = {{out, 1024}, {out + 1024, 3072}};
  struct iovec rv[3] = {{in, 512}, {in + 512, 2048}, {in + 2560, 1536}};
  fill(out, 4096, 2);
  memset(in, 0, 4096);
  d.calls = 0;
  CHECK(nvmf_qpair_writev(qp, ns, wv, 2, 300, 8, 0, on_done, &d) == 0);
  CHECK(wait_for(qp, &d, 1) && d.status == 0);
  d.calls = 0;
  CHECK(nvmf_qpair_readv(qp, ns, rv, 3, 300, 8, on_done, &d) == 0);
  CHECK(wait_for(qp, &d, 1) && d.status == 0);
  CHECK(memcmp(in, out, 4096) == 0);

  /* Synchronous helpers, larger than one command's maximum transfer (split). */
  const uint32_t big_blocks = nvmf_ns_get_max_transfer_blocks(ns) * 2 + 3;
  /* C11 aligned_alloc wants the size a multiple of the alignment. */
  const size_t big_bytes = ((size_t)big_blocks * BLOCK + 4095) & ~(size_t)4095;
  unsigned char *big = aligned_alloc(4096, big_bytes);
  unsigned char *back = aligned_alloc(4096, big_bytes);
  fill(big, (size_t)big_blocks * BLOCK, 3);
  CHECK(nvmf_qpair_write_sync(qp, ns, big, 1000, big_blocks, 0) == 0);
  CHECK(nvmf_qpair_read_sync(qp, ns, back, 1000, big_blocks) == 0);
  CHECK(memcmp(big, back, (size_t)big_blocks * BLOCK) == 0);
  CHECK(nvmf_qpair_flush_sync(qp, ns) == 0);

  /* Write Zeroes leaves zeroes; Deallocate is accepted. */
  CHECK(nvmf_qpair_write_zeroes_sync(qp, ns, 1000, 4, 0) == 0);
  CHECK(nvmf_qpair_read_sync(qp, ns, back, 1000, 4) == 0);
  int zero = 1;
  for (size_t i = 0; i < 4 * BLOCK; ++i) zero &= back[i] == 0;
  CHECK(zero);
  struct nvmf_range range = {0, 8, 1008};
  CHECK(nvmf_qpair_deallocate_sync(qp, ns, &range, 1) == 0);
  d.calls = 0;
  CHECK(nvmf_qpair_write_zeroes(qp, ns, 0, 1, NVMF_IO_DEAC, on_done, &d) == 0);
  CHECK(wait_for(qp, &d, 1) && d.status == 0);
  d.calls = 0;
  CHECK(nvmf_qpair_flush(qp, ns, on_done, &d) == 0);
  CHECK(wait_for(qp, &d, 1) && d.status == 0);

  /* Argument errors are refused before the wire. */
  CHECK(nvmf_qpair_read(qp, ns, in, nvmf_ns_get_num_blocks(ns), 1, on_done, &d) == -EINVAL);
  CHECK(nvmf_qpair_read(qp, ns, in, 0, 1, NULL, &d) == -EINVAL);
  CHECK(nvmf_qpair_readv(qp, ns, rv, 3, 0, 9, on_done, &d) == -EINVAL); /* iovecs hold 8 blocks */

  /* Queue full at the depth, and every completion still arrives. */
  struct done many = {0, -1};
  int queued = 0, rc;
  while ((rc = nvmf_qpair_read(qp, ns, in, 0, 1, on_done, &many)) == 0) ++queued;
  CHECK(rc == -EAGAIN);
  CHECK(queued == 8);
  CHECK(wait_for(qp, &many, queued));
  CHECK(many.status == 0);

  struct nvmf_io_stats before_destroy;
  before_destroy.stats_size = sizeof before_destroy;
  CHECK(nvmf_qpair_get_stats(qp, &before_destroy) == 0);
  /* Refusals before the wire (above) are not commands: nothing failed on the wire. */
  CHECK(before_destroy.errors == 0 && before_destroy.outstanding == 0);
  CHECK(before_destroy.read_commands > st.read_commands && before_destroy.other_commands == 5);

  /* A controller with a queue pair still open refuses to go. */
  CHECK(nvmf_ctrl_disconnect(ctrl) == -EBUSY);
  nvmf_qpair_destroy(qp);
  /* The controller's totals keep what the destroyed queue pair did. */
  struct nvmf_io_stats total;
  total.stats_size = sizeof total;
  CHECK(nvmf_ctrl_get_stats(ctrl, &total) == 0);
  CHECK(total.queues == 0);
  CHECK(total.read_commands == before_destroy.read_commands && total.write_commands == before_destroy.write_commands);
  CHECK(total.other_commands == before_destroy.other_commands && total.errors == before_destroy.errors);
  CHECK(total.bytes_read == before_destroy.bytes_read && total.latency_count == before_destroy.latency_count);
  free(out);
  free(in);
  free(big);
  free(back);
}

struct events {
  int disconnected, reconnected, failed;
};

static void on_event(void *arg, nvmf_ctrl *ctrl, const struct nvmf_event *event) {
  struct events *e = arg;
  (void)ctrl;
  if (event->type == NVMF_EVENT_DISCONNECTED) ++e->disconnected;
  if (event->type == NVMF_EVENT_RECONNECTED) ++e->reconnected;
  if (event->type == NVMF_EVENT_FAILED) ++e->failed;
}

/* The target crashes and comes back on the same port and file: I/O submitted during the outage is held, sent
 * after the reconnect and completes; data written before the crash reads back. The library's admin thread
 * reconnects the controller, the queue pair reconnects itself in nvmf_qpair_poll. */
static void test_reconnect(const char *port_in) {
  char port[16];
  snprintf(port, sizeof port, "%s", port_in);
  struct nvmf_ctrl_opts o;
  nvmf_ctrl_opts_init(&o, sizeof o);
  o.trsvcid = port;
  o.subnqn = NQN;
  o.reconnect_delay_s = 1;
  o.ctrl_loss_tmo_s = 20;
  nvmf_ctrl *ctrl = NULL;
  char err[256] = "";
  CHECK(nvmf_ctrl_connect(&o, &ctrl, err, sizeof err) == 0);
  if (!ctrl) return;
  struct events ev = {0, 0, 0};
  nvmf_ctrl_set_event_cb(ctrl, on_event, &ev);
  nvmf_ns *ns = nvmf_ctrl_get_ns(ctrl, 1);
  nvmf_qpair *qp = nvmf_qpair_create(ctrl, 4, err, sizeof err);
  CHECK(ns && qp);
  if (!ns || !qp) return;
  unsigned char *out = aligned_alloc(4096, 8192), *in = aligned_alloc(4096, 8192);
  fill(out, 8192, 9);
  CHECK(nvmf_qpair_write_sync(qp, ns, out, 2000, 16, NVMF_IO_FUA) == 0);

  kill_target();
  struct done d = {0, -1};
  int rc = -1;
  for (int i = 0; i < 300 && rc != 0; ++i) { /* submissions are held, not refused, once the loss is seen */
    rc = nvmf_qpair_read(qp, ns, in, 2000, 16, on_done, &d);
    if (rc != 0) nvmf_qpair_poll(qp, 10);
  }
  CHECK(rc == 0);
  for (int i = 0; i < 100 && !ev.disconnected; ++i) nvmf_qpair_poll(qp, 10);
  CHECK(ev.disconnected == 1);
  CHECK(!nvmf_ctrl_is_connected(ctrl));
  CHECK(d.calls == 0);
  CHECK(start_target(port, sizeof port) == 0);
  CHECK(wait_for(qp, &d, 1));  /* 5 s: the reconnect comes within the 1 s delay (+1 if the first is early) */
  if (d.calls == 0) CHECK(wait_for(qp, &d, 1));
  CHECK(d.status == 0);
  CHECK(memcmp(in, out, 8192) == 0);
  CHECK(ev.reconnected == 1);
  CHECK(ev.failed == 0);
  CHECK(nvmf_ctrl_is_connected(ctrl));
  nvmf_qpair_destroy(qp);
  CHECK(nvmf_ctrl_disconnect(ctrl) == 0);
  free(out);
  free(in);
}

int main(void) {
  alarm(120); /* a hang fails the test instead of stalling the suite */
  char port[16] = "";
  if (start_target(port, sizeof port) != 0) {
    fprintf(stderr, "could not start nvmf target\n");
    stop_target();
    return 1;
  }
  test_defaults();
  test_connect_failures(port);

  struct nvmf_ctrl_opts o;
  nvmf_ctrl_opts_init(&o, sizeof o);
  o.trsvcid = port;
  o.subnqn = NQN;
  o.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
  o.keep_alive_tmo_ms = 2000;
  nvmf_ctrl *ctrl = NULL;
  char err[256] = "";
  int rc = nvmf_ctrl_connect(&o, &ctrl, err, sizeof err);
  CHECK(rc == 0 && ctrl != NULL);
  if (ctrl) {
    char text[64];
    nvmf_ctrl_get_serial(ctrl, text, sizeof text);
    CHECK(strcmp(text, "CAPI0001") == 0);
    nvmf_ctrl_get_model(ctrl, text, sizeof text);
    CHECK(strcmp(text, "c api model") == 0);
    char nqn[256];
    nvmf_ctrl_get_subnqn(ctrl, nqn, sizeof nqn);
    CHECK(strcmp(nqn, NQN) == 0);
    nvmf_ctrl_get_model(ctrl, text, 4); /* truncated, terminated */
    CHECK(strcmp(text, "c a") == 0);
    unsigned char id[4096];
    CHECK(nvmf_ctrl_identify(ctrl, id) == 0);
    CHECK(memcmp(id + 4, "CAPI0001", 8) == 0); /* SN at byte 4 */
    CHECK(nvmf_ctrl_get_io_queues(ctrl) == 1);
    CHECK(nvmf_ctrl_get_max_transfer(ctrl) >= 4096);
    CHECK(nvmf_ctrl_is_connected(ctrl));
    CHECK(!nvmf_ctrl_is_failed(ctrl));
    test_io(ctrl);
    /* Idle past the keep-alive timeout: the admin thread keeps the association up. */
    sleep(3);
    CHECK(nvmf_ctrl_is_connected(ctrl));
    CHECK(nvmf_ctrl_refresh_namespaces(ctrl) == 0);
    rc = nvmf_ctrl_disconnect(ctrl);
    if (rc != 0) fprintf(stderr, "disconnect: %d %s\n", rc, nvmf_strerror(rc));
    CHECK(rc == 0);
  } else {
    fprintf(stderr, "connect: %s (%s)\n", err, nvmf_strerror(rc));
  }
  test_reconnect(port);
  CHECK(strcmp(nvmf_strerror(0), "Success") == 0);
  CHECK(strstr(nvmf_strerror(-EAGAIN), "unavailable") != NULL);
  CHECK(strstr(nvmf_strerror(0x4002), "Invalid Field") != NULL); /* SCT 0 SC 2 with DNR */
  stop_target();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
