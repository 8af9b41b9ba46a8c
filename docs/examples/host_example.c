/* A minimal nvmf-host application: connect, write a block, read it back, disconnect.
 *
 *   cc host_example.c $(pkg-config --cflags --libs nvmf-host) -o host_example
 *   ./host_example 127.0.0.1 4420 nqn.2024-01.io.nvmf:target
 */
#include <nvmf/host.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_write(void *arg, int status) { *(int *)arg = status; }

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s TRADDR TRSVCID SUBNQN\n", argv[0]);
    return 2;
  }
  struct nvmf_ctrl_opts opts;
  nvmf_ctrl_opts_init(&opts, sizeof opts);
  opts.traddr = argv[1];
  opts.trsvcid = argv[2];
  opts.subnqn = argv[3];
  opts.ctrl_loss_tmo_s = 30;

  nvmf_ctrl *ctrl;
  char err[256];
  int rc = nvmf_ctrl_connect(&opts, &ctrl, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "connect: %s\n", err);
    return 1;
  }
  char model[64];
  nvmf_ctrl_get_model(ctrl, model, sizeof model);
  nvmf_ns *ns = nvmf_ctrl_get_ns(ctrl, nvmf_ctrl_first_nsid(ctrl));
  if (!ns) {
    fprintf(stderr, "no active namespace\n");
    nvmf_ctrl_disconnect(ctrl);
    return 1;
  }
  printf("%s: namespace %u, %llu blocks of %u bytes\n", model, nvmf_ns_get_id(ns),
         (unsigned long long)nvmf_ns_get_num_blocks(ns), nvmf_ns_get_block_size(ns));

  nvmf_qpair *qp = nvmf_qpair_create(ctrl, 0, err, sizeof err); /* this thread's queue pair */
  if (!qp) {
    fprintf(stderr, "queue pair: %s\n", err);
    nvmf_ctrl_disconnect(ctrl);
    return 1;
  }
  size_t bs = nvmf_ns_get_block_size(ns);
  char *out = malloc(bs), *in = malloc(bs); /* any buffer will do: no alignment needed */
  memset(out, 0, bs);
  snprintf(out, bs, "hello from nvmf-host");

  /* Asynchronous write: submit, then poll until the callback ran. */
  int status = -1, done = 0;
  rc = nvmf_qpair_write(qp, ns, out, 0, 1, 0, on_write, &status);
  while (rc == 0 && status == -1 && (done = nvmf_qpair_poll(qp, 100)) >= 0) {
  }
  if (rc != 0 || status != 0 || done < 0) {
    fprintf(stderr, "write: %s\n", nvmf_strerror(rc ? rc : status ? status : done));
    return 1;
  }
  /* Synchronous read. */
  rc = nvmf_qpair_read_sync(qp, ns, in, 0, 1);
  if (rc != 0) {
    fprintf(stderr, "read: %s\n", nvmf_strerror(rc));
    return 1;
  }
  printf("read back: %s\n", in);
  int same = memcmp(in, out, bs) == 0;
  free(out);
  free(in);
  nvmf_qpair_destroy(qp);
  nvmf_ctrl_disconnect(ctrl);
  return same ? 0 : 1;
}
