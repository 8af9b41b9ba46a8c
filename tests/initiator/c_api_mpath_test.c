/* The C API's multipath sets (nvmf_mpath_*) from C against two spawned `nvmf target` processes ($NVMF_BIN) that
 * export one file under one subsystem NQN (so the same namespace identifiers) on two loopback ports: argument
 * errors, asynchronous writes and reads with data checked spread over both paths, one target SIGKILLed under
 * I/O with no error reaching the application, then started again on its port and used again. Compiled as C11. */
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

#define NQN "nqn.2024-01.io.nvmf.test:c-api-mpath"
#define NS_BYTES (16u << 20)
#define BLOCK 512u
#define DEPTH 16u
#define IO_BLOCKS 8u

static int passed, failed;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      ++passed;                                                                \
    } else {                                                                   \
      ++failed;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

static char dir[64];

struct target {
  const char *name;
  pid_t pid;
  char port[16];
};
static struct target targets[2] = {{"a", -1, ""}, {"b", -1, ""}};

static void kill_target(struct target *t, int sig) {
  if (t->pid > 0) {
    kill(t->pid, sig);
    waitpid(t->pid, NULL, 0);
    t->pid = -1;
  }
}

static void cleanup(void) {
  char path[128];
  for (int i = 0; i < 2; ++i) {
    kill_target(&targets[i], SIGTERM);
    snprintf(path, sizeof path, "%s/%s.ready", dir, targets[i].name);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.log", dir, targets[i].name);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/ns.img", dir);
  unlink(path);
  rmdir(dir);
}

/* Start `nvmf target` on the shared file, on t->port when set (a restart), else on an ephemeral port. */
static int start_target(struct target *t) {
  const char *bin = getenv("NVMF_BIN");
  if (!bin) {
    fprintf(stderr, "NVMF_BIN is not set\n");
    return -1;
  }
  char ready[128], log[128], ns[128], listen[64];
  snprintf(ready, sizeof ready, "%s/%s.ready", dir, t->name);
  unlink(ready);
  snprintf(log, sizeof log, "%s/%s.log", dir, t->name);
  snprintf(ns, sizeof ns, "file:%s/ns.img", dir);
  snprintf(listen, sizeof listen, "tcp:127.0.0.1:%s", t->port[0] ? t->port : "0");
  t->pid = fork();
  if (t->pid < 0) return -1;
  if (t->pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    if (!freopen(log, "a", stderr)) _exit(126);
    execl(bin, bin, "target", "--listen", listen, "--discovery-port", "0", "--cores", "0", "--subsystem", NQN,
          "--namespace", ns, "--ready-file", ready, "--control-socket", "none", "--metrics", "none", (char *)NULL);
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
        snprintf(t->port, sizeof t->port, "%s", colon + 1);
        t->port[strcspn(t->port, "\r\n ")] = '\0';
        return 0;
      }
    }
    if (waitpid(t->pid, NULL, WNOHANG) == t->pid) {
      t->pid = -1;
      return -1;
    }
    usleep(20000);
  }
  return -1;
}

/* One command of a batch: its buffer and outcome. */
struct io {
  unsigned char buf[IO_BLOCKS * BLOCK];
  int done;
  int status;
};
static struct io ios[DEPTH];

static void on_done(void *arg, int status) {
  struct io *io = arg;
  io->done = 1;
  io->status = status;
}

static void fill(unsigned char *buf, uint64_t slba, unsigned round) {
  for (size_t i = 0; i < IO_BLOCKS * BLOCK; ++i) buf[i] = (unsigned char)(slba * 131u + i * 7u + round);
}

/* DEPTH writes of a pattern, then DEPTH reads checked against it, all asynchronous; slots `first`.. of the
 * namespace. Returns the number of commands that failed or read wrong data. */
static int write_then_read(nvmf_mpath_qpair *qp, uint32_t nsid, uint64_t first, unsigned round) {
  int bad = 0;
  for (int phase = 0; phase < 2; ++phase) {
    for (unsigned i = 0; i < DEPTH; ++i) {
      const uint64_t slba = (first + i) * IO_BLOCKS;
      ios[i].done = 0;
      ios[i].status = -1;
      int rc;
      if (phase == 0) {
        fill(ios[i].buf, slba, round);
        rc = nvmf_mpath_qpair_write(qp, nsid, ios[i].buf, slba, IO_BLOCKS, 0, on_done, &ios[i]);
      } else {
        memset(ios[i].buf, 0, sizeof ios[i].buf);
        rc = nvmf_mpath_qpair_read(qp, nsid, ios[i].buf, slba, IO_BLOCKS, on_done, &ios[i]);
      }
      if (rc != 0) {
        fprintf(stderr, "submit: %s\n", nvmf_strerror(rc));
        ios[i].done = 1;
        ++bad;
      }
    }
    for (int spins = 0; spins < 3000; ++spins) { /* 30 s at most */
      unsigned pending = 0;
      for (unsigned i = 0; i < DEPTH; ++i) pending += !ios[i].done;
      if (!pending) break;
      nvmf_mpath_qpair_poll(qp, 10);
    }
    for (unsigned i = 0; i < DEPTH; ++i) {
      if (!ios[i].done || ios[i].status != 0) {
        fprintf(stderr, "%s %u: %s\n", phase ? "read" : "write", i,
                ios[i].done ? nvmf_strerror(ios[i].status) : "never completed");
        ++bad;
        continue;
      }
      if (phase == 1) {
        unsigned char want[IO_BLOCKS * BLOCK];
        fill(want, (first + i) * IO_BLOCKS, round);
        if (memcmp(want, ios[i].buf, sizeof want) != 0) {
          fprintf(stderr, "read %u: data differs\n", i);
          ++bad;
        }
      }
    }
  }
  return bad;
}

/* Waits for one command; its status, or -ETIMEDOUT. */
static int wait_one(nvmf_mpath_qpair *qp, struct io *io) {
  for (int spins = 0; spins < 3000 && !io->done; ++spins) nvmf_mpath_qpair_poll(qp, 10);
  return io->done ? io->status : -ETIMEDOUT;
}

/* Flush, then Write Zeroes (with DEAC) over the first slot of `first`: it reads back as zeroes. */
static int flush_and_zero(nvmf_mpath_qpair *qp, uint32_t nsid, uint64_t first) {
  struct io *io = &ios[0];
  io->done = 0;
  int rc = nvmf_mpath_qpair_flush(qp, nsid, on_done, io);
  if (rc == 0) rc = wait_one(qp, io);
  if (rc != 0) return fprintf(stderr, "flush: %s\n", nvmf_strerror(rc)), 1;
  io->done = 0;
  rc = nvmf_mpath_qpair_write_zeroes(qp, nsid, first * IO_BLOCKS, IO_BLOCKS, NVMF_IO_DEAC, on_done, io);
  if (rc == 0) rc = wait_one(qp, io);
  if (rc != 0) return fprintf(stderr, "write zeroes: %s\n", nvmf_strerror(rc)), 1;
  io->done = 0;
  memset(io->buf, 0xa5, sizeof io->buf);
  rc = nvmf_mpath_qpair_read(qp, nsid, io->buf, first * IO_BLOCKS, IO_BLOCKS, on_done, io);
  if (rc == 0) rc = wait_one(qp, io);
  if (rc != 0) return fprintf(stderr, "read after write zeroes: %s\n", nvmf_strerror(rc)), 1;
  for (size_t i = 0; i < sizeof io->buf; ++i)
    if (io->buf[i]) return fprintf(stderr, "write zeroes: byte %zu reads %u\n", i, io->buf[i]), 1;
  return 0;
}

static void path_opts(struct nvmf_ctrl_opts *o, const char *port) {
  nvmf_ctrl_opts_init(o, sizeof *o);
  o->traddr = "127.0.0.1";
  o->trsvcid = port;
  o->subnqn = NQN;
  o->nr_io_queues = 2; /* the set's own queue and one queue pair */
  o->reconnect_delay_s = 1;
  o->ctrl_loss_tmo_s = 30;
}

int main(void) {
  strcpy(dir, "/tmp/nvmf-capi-mpath-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  char ns[128];
  snprintf(ns, sizeof ns, "%s/ns.img", dir);
  FILE *f = fopen(ns, "w");
  if (!f || ftruncate(fileno(f), NS_BYTES) != 0) return 1;
  fclose(f);
  if (start_target(&targets[0]) != 0 || start_target(&targets[1]) != 0) {
    fprintf(stderr, "nvmf target did not start (logs in %s)\n", dir);
    return 1;
  }

  struct nvmf_ctrl_opts paths[2];
  path_opts(&paths[0], targets[0].port);
  path_opts(&paths[1], targets[1].port);
  char err[256] = "";
  nvmf_mpath *set = NULL;
  CHECK(nvmf_mpath_connect(paths, 0, NVMF_PATH_ROUND_ROBIN, &set, err, sizeof err) == -EINVAL && !set);
  CHECK(nvmf_mpath_connect(paths, 2, (enum nvmf_path_policy)7, &set, err, sizeof err) == -EINVAL && !set);
  int rc = nvmf_mpath_connect(paths, 2, NVMF_PATH_LEAST_QUEUED, &set, err, sizeof err);
  CHECK(rc == 0 && set);
  if (!set) {
    fprintf(stderr, "connect: %s\n", err);
    cleanup();
    return 1;
  }
  CHECK(nvmf_mpath_get_path_count(set) == 2);
  CHECK(nvmf_mpath_path_is_connected(set, 0) && nvmf_mpath_path_is_connected(set, 1));
  const uint32_t nsid = nvmf_mpath_first_nsid(set);
  CHECK(nsid == 1);
  CHECK(nvmf_mpath_next_nsid(set, nsid) == 0);
  CHECK(nvmf_mpath_ns_get_block_size(set, nsid) == BLOCK);
  CHECK(nvmf_mpath_ns_get_num_blocks(set, nsid) == NS_BYTES / BLOCK);
  CHECK(nvmf_mpath_ns_get_block_size(set, 99) == 0);

  nvmf_mpath_qpair *qp = nvmf_mpath_qpair_create(set, DEPTH, err, sizeof err);
  CHECK(qp != NULL);
  if (!qp) {
    fprintf(stderr, "qpair: %s\n", err);
    nvmf_mpath_disconnect(set);
    cleanup();
    return 1;
  }
  CHECK(nvmf_mpath_qpair_read(qp, 99, ios[0].buf, 0, 1, on_done, &ios[0]) == -EINVAL);
  CHECK(nvmf_mpath_qpair_read(qp, nsid, ios[0].buf, 0, 1, NULL, NULL) == -EINVAL);

  /* Both paths carry I/O. */
  CHECK(write_then_read(qp, nsid, 0, 1) == 0);
  CHECK(flush_and_zero(qp, nsid, 0) == 0);
  CHECK(nvmf_mpath_qpair_get_path_commands(qp, 0) > 0);
  CHECK(nvmf_mpath_qpair_get_path_commands(qp, 1) > 0);
  CHECK(nvmf_mpath_qpair_outstanding(qp) == 0);

  /* Path 1's target crashes with writes in flight: every command still succeeds, through path 2. */
  for (unsigned i = 0; i < DEPTH; ++i) {
    fill(ios[i].buf, (DEPTH + i) * IO_BLOCKS, 2);
    ios[i].done = 0;
    CHECK(nvmf_mpath_qpair_write(qp, nsid, ios[i].buf, (DEPTH + i) * IO_BLOCKS, IO_BLOCKS, 0, on_done, &ios[i]) == 0);
  }
  kill_target(&targets[0], SIGKILL);
  for (int spins = 0; spins < 3000 && nvmf_mpath_qpair_outstanding(qp) > 0; ++spins) nvmf_mpath_qpair_poll(qp, 10);
  int bad = 0;
  for (unsigned i = 0; i < DEPTH; ++i) bad += !ios[i].done || ios[i].status != 0;
  CHECK(bad == 0);
  const uint64_t before = nvmf_mpath_qpair_get_path_commands(qp, 1);
  for (unsigned round = 3; round < 8; ++round) CHECK(write_then_read(qp, nsid, 2 * DEPTH, round) == 0);
  CHECK(nvmf_mpath_qpair_get_path_commands(qp, 1) >= before + 5 * 2 * DEPTH - DEPTH);
  printf("retried on another path: %llu\n", (unsigned long long)nvmf_mpath_qpair_get_retries(qp));

  /* Back on its port: the path reconnects (reconnect delay 1 s) and takes I/O again. */
  CHECK(start_target(&targets[0]) == 0);
  for (int i = 0; i < 1500 && !nvmf_mpath_path_is_connected(set, 0); ++i) nvmf_mpath_qpair_poll(qp, 10);
  CHECK(nvmf_mpath_path_is_connected(set, 0));
  const uint64_t path1_before = nvmf_mpath_qpair_get_path_commands(qp, 0);
  for (unsigned round = 8; round < 108 && nvmf_mpath_qpair_get_path_commands(qp, 0) == path1_before; ++round)
    CHECK(write_then_read(qp, nsid, 3 * DEPTH, round) == 0);
  CHECK(nvmf_mpath_qpair_get_path_commands(qp, 0) > path1_before);

  nvmf_mpath_qpair_destroy(qp);
  nvmf_mpath_disconnect(set);
  cleanup();
  printf("%d checks passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
