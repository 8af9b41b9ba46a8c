/*
 * fio external ioengine over libnvmf-host's C API (include/nvmf/host.h).
 *
 *   [global]
 *   ioengine=external:/path/to/libnvmf-fio.so   (ioengine= first: the options below belong to it)
 *   thread=1
 *   subnqn=nqn.2014-08.org.example:ram0
 *   traddr=127.0.0.1
 *   filename=nvmf                                (a label: the namespace comes from nsid=)
 *
 * The model is SPDK's fio plugin: one controller per distinct connection in the fio process (nvmf_fio_ctrl.c),
 * or with comma-separated lists in traddr=/trsvcid= one multipath set over those paths (reads and writes only),
 * one I/O queue pair per fio thread, created, used and destroyed on that thread as host.h requires. fio's I/O
 * buffers go to the queue as they are (no copy); completions are collected by the library's callbacks while
 * getevents polls the queue pair. Built against the source of the installed fio (scripts/fetch-fio-source.sh):
 * fio checks only FIO_IOOPS_VERSION when it loads an engine, while struct thread_data and struct io_u differ
 * between releases.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fio.h"
#include "optgroup.h"

#include "nvmf/host.h"
#include "nvmf_fio_ctrl.h"

_Static_assert(FIO_IOOPS_VERSION == 31, "written against fio 3.33's engine ABI: review the ops before bumping");

/* Engine options (td->eo). The leading pointer keeps every option's offset non-zero, which fio's parser treats
 * as "no storage" (fio's skeleton_external.c does the same). */
struct nvmf_fio_options {
  void *pad;
  char *transport;
  char *traddr;
  char *trsvcid;
  char *subnqn;
  char *hostnqn;
  unsigned int nsid;
  unsigned int hdr_digest;
  unsigned int data_digest;
  unsigned int fua;
  unsigned int nr_io_queues;
  char *dhchap_secret;
  char *dhchap_ctrl_secret;
  char *tls_key;
  char *policy;
};

/* Per io_u: what the completion needs, and the Dataset Management range of a trim (it must outlive the call). */
struct nvmf_fio_request {
  struct io_u *io_u;
  struct nvmf_fio_thread *thread;
  int status; /* host.h status: 0, negative errno or positive NVMe status */
  struct nvmf_range range;
};

/* Per fio thread (td->io_ops_data). */
struct nvmf_fio_thread {
  nvmf_ctrl *ctrl; /* one path, or */
  nvmf_ns *ns;
  nvmf_qpair *qp;
  nvmf_mpath *set; /* several paths */
  nvmf_mpath_qpair *mqp;
  uint32_t nsid;
  uint32_t max_transfer_blocks;
  uint32_t block_size;
  uint32_t write_flags;
  /* Completed io_us, oldest first: a ring of iodepth entries. getevents hands fio `returned` of them from
   * `head`; fio takes them all with event() before it queues or reaps again (io_u_queued_complete), so the next
   * queue, commit or getevents drops them, and the ring never holds more than the iodepth io_us there are. */
  struct io_u **done;
  unsigned int done_cap;
  unsigned int done_head;
  unsigned int done_count;
  unsigned int returned;
};

static struct fio_option options[] = {
    {
        .name = "transport",
        .lname = "NVMe-oF transport",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, transport),
        .def = "tcp",
        .help = "NVMe-oF transport: tcp, rdma, ofi or ofi:PROVIDER (libfabric)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "traddr",
        .lname = "Target address",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, traddr),
        .def = "127.0.0.1",
        .help = "Target address (IPv4 or IPv6); a comma-separated list: several paths to the subsystem",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "trsvcid",
        .lname = "Target port",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, trsvcid),
        .help = "Target port (default 4420); a comma-separated list: several paths (the n-th with the n-th traddr)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "subnqn",
        .lname = "Subsystem NQN",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, subnqn),
        .help = "NQN of the NVM subsystem (required)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "hostnqn",
        .lname = "Host NQN",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, hostnqn),
        .help = "Host NQN (default /etc/nvme/hostnqn, else generated)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "dhchap_secret",
        .lname = "DH-HMAC-CHAP host secret",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, dhchap_secret),
        .help = "DH-HMAC-CHAP host secret DHHC-1:HH:...: (nvme-cli -S)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "dhchap_ctrl_secret",
        .lname = "DH-HMAC-CHAP controller secret",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, dhchap_ctrl_secret),
        .help = "DH-HMAC-CHAP controller secret, for bidirectional authentication (nvme-cli -C)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "policy",
        .lname = "Path policy",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, policy),
        .def = "round-robin",
        .help = "Several paths: round-robin or least-queued among the paths in the best ANA state",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "nsid",
        .lname = "Namespace ID",
        .type = FIO_OPT_INT,
        .off1 = offsetof(struct nvmf_fio_options, nsid),
        .def = "0",
        .help = "Namespace to run I/O on (0: the first active namespace)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "hdr_digest",
        .lname = "Header digest",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct nvmf_fio_options, hdr_digest),
        .def = "0",
        .help = "NVMe/TCP header digest (CRC32C)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "tls_key",
        .lname = "TLS PSK",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct nvmf_fio_options, tls_key),
        .help = "NVMe/TCP over TLS 1.3: configured PSK (NVMeTLSkey-1:HH:...:) or a file holding it",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "data_digest",
        .lname = "Data digest",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct nvmf_fio_options, data_digest),
        .def = "0",
        .help = "NVMe/TCP data digest (CRC32C)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "fua",
        .lname = "Force unit access",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct nvmf_fio_options, fua),
        .def = "0",
        .help = "Send writes with FUA set",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "nr_io_queues",
        .lname = "I/O queues",
        .type = FIO_OPT_INT,
        .off1 = offsetof(struct nvmf_fio_options, nr_io_queues),
        .def = "0",
        .help = "I/O queues to ask the controller for (0: one per fio thread)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = NULL,
    },
};

/* Joins the shared controller, picks the namespace and sizes the job's file(s) to it. Runs from setup() (fio's
 * main thread when create_serialize=1, the default) or from init() (the job's thread otherwise), whichever comes
 * first. */
static int thread_attach(struct thread_data *td) {
  if (td->io_ops_data) return 0;
  struct nvmf_fio_options *o = td->eo;
  if (!td->o.use_thread) {
    log_err("nvmf: thread=1 is required (one controller per fio process, shared by its threads)\n");
    return 1;
  }
  if (td->o.io_submit_mode == IO_MODE_OFFLOAD) {
    log_err("nvmf: io_submit_mode=offload is not supported: a queue pair belongs to one thread\n");
    return 1;
  }
  if (!o->subnqn || !o->subnqn[0]) {
    log_err("nvmf: subnqn= is required\n");
    return 1;
  }
  struct nvmf_fio_thread *t = calloc(1, sizeof(*t));
  if (!t) return 1;
  struct nvmf_fio_conn conn = {
      .transport = o->transport,
      .traddr = o->traddr,
      .trsvcid = o->trsvcid,
      .subnqn = o->subnqn,
      .hostnqn = o->hostnqn,
      .hdr_digest = o->hdr_digest != 0,
      .data_digest = o->data_digest != 0,
      .tls_key = o->tls_key,
      /* One queue per fio thread of the run (thread_number counts them all). */
      .nr_io_queues = o->nr_io_queues ? o->nr_io_queues : (thread_number ? thread_number : 1),
      .io_queue_size = td->o.iodepth + 1,
      .dhchap_secret = o->dhchap_secret,
      .dhchap_ctrl_secret = o->dhchap_ctrl_secret,
      .policy = o->policy,
  };
  char err[256];
  const size_t paths = nvmf_fio_path_count(&conn);
  if (paths == 0) {
    log_err("nvmf: traddr=%s and trsvcid=%s: give one of them once, or both with as many entries\n", o->traddr,
            o->trsvcid ? o->trsvcid : "");
    free(t);
    return 1;
  }
  if (paths > 1) {
    if (o->policy && strcmp(o->policy, "round-robin") != 0 && strcmp(o->policy, "least-queued") != 0) {
      log_err("nvmf: policy=%s: round-robin or least-queued\n", o->policy);
      free(t);
      return 1;
    }
    conn.nr_io_queues += 1; /* the set keeps one I/O queue per path for itself */
    t->set = nvmf_fio_mpath_get(&conn, err, sizeof(err));
    if (!t->set) {
      log_err("nvmf: connect to %s over %zu paths (%s / %s) failed: %s\n", o->subnqn, paths, o->traddr,
              o->trsvcid ? o->trsvcid : "4420", err);
      free(t);
      return 1;
    }
    t->nsid = o->nsid ? o->nsid : nvmf_mpath_first_nsid(t->set);
    t->block_size = t->nsid ? nvmf_mpath_ns_get_block_size(t->set, t->nsid) : 0;
    if (!t->block_size) {
      log_err("nvmf: %s has no namespace %u on its paths\n", o->subnqn, t->nsid);
      nvmf_fio_mpath_put(t->set);
      free(t);
      return 1;
    }
    t->max_transfer_blocks = nvmf_mpath_ns_get_max_transfer_blocks(t->set, t->nsid);
  } else {
    t->ctrl = nvmf_fio_ctrl_get(&conn, err, sizeof(err));
    if (!t->ctrl) {
      log_err("nvmf: connect to %s %s:%s %s failed: %s\n", o->transport, o->traddr, o->trsvcid ? o->trsvcid : "4420",
              o->subnqn, err);
      free(t);
      return 1;
    }
    uint32_t nsid = o->nsid ? o->nsid : nvmf_ctrl_first_nsid(t->ctrl);
    t->ns = nsid ? nvmf_ctrl_get_ns(t->ctrl, nsid) : NULL;
    if (!t->ns || !nvmf_ns_is_active(t->ns)) {
      log_err("nvmf: %s has no active namespace %u\n", o->subnqn, nsid);
      nvmf_fio_ctrl_put(t->ctrl);
      free(t);
      return 1;
    }
    t->nsid = nsid;
    t->block_size = nvmf_ns_get_block_size(t->ns);
    t->max_transfer_blocks = nvmf_ns_get_max_transfer_blocks(t->ns);
  }
  t->write_flags = o->fua ? NVMF_IO_FUA : 0;
  td->io_ops_data = t;

  struct fio_file *f;
  unsigned int i;
  const uint64_t size = t->set ? nvmf_mpath_ns_get_num_blocks(t->set, t->nsid) * t->block_size : nvmf_ns_get_size(t->ns);
  for_each_file(td, f, i) {
    f->real_file_size = size;
    f->filetype = FIO_TYPE_BLOCK;
    fio_file_set_size_known(f);
  }
  return 0;
}

static int nvmf_fio_setup(struct thread_data *td) { return thread_attach(td); }

/* Every block size fio may use must be whole logical blocks within the controller's transfer limit. */
static int check_block_sizes(struct thread_data *td, const struct nvmf_fio_thread *t) {
  const uint64_t max_bytes = (uint64_t)t->max_transfer_blocks * t->block_size;
  for (int d = 0; d < DDIR_RWDIR_CNT; d++) {
    const unsigned long long lo = td->o.min_bs[d], hi = td->o.max_bs[d];
    if (lo % t->block_size || hi % t->block_size) {
      log_err("nvmf: %s block size %llu-%llu is not a multiple of the namespace's %u-byte blocks\n",
              io_ddir_name(d), lo, hi, t->block_size);
      return 1;
    }
    if (max_bytes && d != DDIR_TRIM && hi > max_bytes) {
      log_err("nvmf: %s block size %llu exceeds the controller's maximum transfer of %llu bytes (MDTS)\n",
              io_ddir_name(d), hi, (unsigned long long)max_bytes);
      return 1;
    }
  }
  return 0;
}

static int nvmf_fio_init(struct thread_data *td) {
  if (thread_attach(td)) return 1;
  struct nvmf_fio_thread *t = td->io_ops_data;
  if (check_block_sizes(td, t)) return 1;
  t->done_cap = td->o.iodepth ? td->o.iodepth : 1;
  t->done = calloc(t->done_cap, sizeof(*t->done));
  if (!t->done) return 1;
  /* An NVMe queue of N entries holds N - 1 commands. */
  char err[256] = "";
  const uint16_t entries = (uint16_t)(td->o.iodepth + 1 > 65535 ? 65535 : td->o.iodepth + 1);
  if (t->set) {
    t->mqp = nvmf_mpath_qpair_create(t->set, entries, err, sizeof(err));
    if (!t->mqp) {
      log_err("nvmf: creating the multipath queue pair failed: %s\n", err);
      return 1;
    }
    return 0;
  }
  t->qp = nvmf_qpair_create(t->ctrl, entries, err, sizeof(err));
  if (!t->qp) {
    log_err("nvmf: creating the I/O queue pair failed: %s\n", err);
    return 1;
  }
  if (nvmf_qpair_depth(t->qp) < td->o.iodepth)
    log_info("nvmf: the controller allows %u outstanding commands per queue; iodepth=%u is capped to it\n",
             nvmf_qpair_depth(t->qp), td->o.iodepth);
  return 0;
}

/* RDMA: register fio's whole I/O buffer area once, so no I/O pays for a registration (no-op on TCP). */
static int nvmf_fio_post_init(struct thread_data *td) {
  struct nvmf_fio_thread *t = td->io_ops_data;
  /* Several paths: TCP needs no registration; an RDMA path registers on first use (its registration cache). */
  if (!t->qp || !td->orig_buffer || !td->orig_buffer_size) return 0;
  int rc = nvmf_qpair_register_buffer(t->qp, td->orig_buffer, td->orig_buffer_size);
  if (rc) {
    log_err("nvmf: registering fio's I/O buffers failed: %s\n", nvmf_strerror(rc));
    return 1;
  }
  return 0;
}

static void nvmf_fio_cleanup(struct thread_data *td) {
  struct nvmf_fio_thread *t = td->io_ops_data;
  if (!t) return;
  /* fio has reaped every io_u by now; a destroy still completes stragglers, which only touch the ring. */
  if (t->qp) nvmf_qpair_destroy(t->qp);
  if (t->mqp) nvmf_mpath_qpair_destroy(t->mqp);
  if (t->ctrl) nvmf_fio_ctrl_put(t->ctrl);
  if (t->set) nvmf_fio_mpath_put(t->set);
  free(t->done);
  free(t);
  td->io_ops_data = NULL;
}

static int nvmf_fio_io_u_init(struct thread_data *td, struct io_u *io_u) {
  struct nvmf_fio_request *req = calloc(1, sizeof(*req));
  if (!req) return 1;
  req->io_u = io_u;
  req->thread = td->io_ops_data;
  io_u->engine_data = req;
  return 0;
}

static void nvmf_fio_io_u_free(struct thread_data *td, struct io_u *io_u) {
  (void)td;
  free(io_u->engine_data);
  io_u->engine_data = NULL;
}

/* host.h statuses to fio's errno: an NVMe status is an I/O error (errdetails prints which one). */
static int status_to_errno(int status) {
  if (status == 0) return 0;
  return status < 0 ? -status : EIO;
}

/* Forget the io_us fio took after the last getevents. */
static void drop_returned(struct nvmf_fio_thread *t) {
  t->done_head = (t->done_head + t->returned) % t->done_cap;
  t->done_count -= t->returned;
  t->returned = 0;
}

static void on_complete(void *arg, int status) {
  struct nvmf_fio_request *req = arg;
  struct nvmf_fio_thread *t = req->thread;
  req->status = status;
  req->io_u->error = status_to_errno(status);
  t->done[(t->done_head + t->done_count) % t->done_cap] = req->io_u;
  t->done_count++;
}

static enum fio_q_status nvmf_fio_queue(struct thread_data *td, struct io_u *io_u) {
  struct nvmf_fio_thread *t = td->io_ops_data;
  struct nvmf_fio_request *req = io_u->engine_data;
  const uint32_t bs = t->block_size;
  drop_returned(t);
  req->status = 0;
  if (io_u->offset % bs || io_u->xfer_buflen % bs) {
    io_u->error = EINVAL;
    return FIO_Q_COMPLETED;
  }
  const uint64_t slba = io_u->offset / bs;
  const uint32_t nlb = (uint32_t)(io_u->xfer_buflen / bs);
  int rc;
  if (t->mqp) {
    /* Several paths: trims become Write Zeroes with deallocation (the multipath queue pair has no Dataset
     * Management); a namespace that deallocates reads zeroes there either way. */
    if (io_u->ddir == DDIR_READ)
      rc = nvmf_mpath_qpair_read(t->mqp, t->nsid, io_u->xfer_buf, slba, nlb, on_complete, req);
    else if (io_u->ddir == DDIR_WRITE)
      rc = nvmf_mpath_qpair_write(t->mqp, t->nsid, io_u->xfer_buf, slba, nlb, t->write_flags, on_complete, req);
    else if (io_u->ddir == DDIR_SYNC || io_u->ddir == DDIR_DATASYNC)
      rc = nvmf_mpath_qpair_flush(t->mqp, t->nsid, on_complete, req);
    else if (io_u->ddir == DDIR_TRIM)
      rc = nlb ? nvmf_mpath_qpair_write_zeroes(t->mqp, t->nsid, slba, nlb, NVMF_IO_DEAC, on_complete, req) : -EINVAL;
    else
      rc = -EOPNOTSUPP;
  } else switch (io_u->ddir) {
  case DDIR_READ:
    rc = nvmf_qpair_read(t->qp, t->ns, io_u->xfer_buf, slba, nlb, on_complete, req);
    break;
  case DDIR_WRITE:
    rc = nvmf_qpair_write(t->qp, t->ns, io_u->xfer_buf, slba, nlb, t->write_flags, on_complete, req);
    break;
  case DDIR_SYNC:
  case DDIR_DATASYNC:
    rc = nvmf_qpair_flush(t->qp, t->ns, on_complete, req);
    break;
  case DDIR_TRIM:
    /* One range: NLB in a Dataset Management range is a 1-based count (NVMe 2.0 Figure 164). */
    req->range = (struct nvmf_range){.attributes = 0, .nlb = nlb, .slba = slba};
    rc = nlb ? nvmf_qpair_deallocate(t->qp, t->ns, &req->range, 1, on_complete, req) : -EINVAL;
    break;
  default:
    /* sync_file_range has no NVMe counterpart. */
    rc = -EOPNOTSUPP;
    break;
  }
  if (rc == 0) return FIO_Q_QUEUED;
  if (rc == -EAGAIN) return FIO_Q_BUSY; /* fio commits and reaps, then queues this io_u again */
  req->status = rc;
  io_u->error = status_to_errno(rc);
  return FIO_Q_COMPLETED;
}

/* Queued commands reach the wire when the queue pair is polled, as SPDK's TCP queue pairs flush their PDUs in
 * process_completions. fio always reaps through getevents before it waits for anything else (a full queue, the
 * end of the job, io_u_quiesce before thinktime or a rate-limit sleep), so the commands queued since the last
 * poll leave together there: one syscall and one send for the batch instead of one each. */
static int nvmf_fio_commit(struct thread_data *td) {
  drop_returned(td->io_ops_data);
  return 0;
}

static int poll_queue(struct nvmf_fio_thread *t, int wait_ms) {
  return t->mqp ? nvmf_mpath_qpair_poll(t->mqp, wait_ms) : nvmf_qpair_poll(t->qp, wait_ms);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int nvmf_fio_getevents(struct thread_data *td, unsigned int min, unsigned int max,
                              const struct timespec *timeout) {
  struct nvmf_fio_thread *t = td->io_ops_data;
  drop_returned(t);
  const int64_t deadline = timeout ? now_ms() + timeout->tv_sec * 1000 + timeout->tv_nsec / 1000000 : -1;
  if (min == 0) {
    int rc = poll_queue(t, 0);
    if (rc < 0 && rc != -ENOTCONN) return rc;
  }
  while (t->done_count < min) {
    int wait_ms = 1000; /* bounded so a reconnect or a failed controller is noticed */
    if (deadline >= 0) {
      const int64_t left = deadline - now_ms();
      if (left <= 0) break;
      if (left < wait_ms) wait_ms = (int)left;
    }
    int rc = poll_queue(t, wait_ms);
    if (rc == -ENOTCONN && t->mqp) {
      /* Every path of the set is gone for good: nothing more completes. */
      if (nvmf_mpath_qpair_outstanding(t->mqp) == 0 && t->done_count == 0) return -ENOTCONN;
    } else if (rc == -ENOTCONN) {
      /* Reconnecting: the library resends or fails outstanding I/O (ctrl_loss_tmo); give up only when the
       * controller is gone for good and nothing more can complete. */
      if (nvmf_ctrl_is_failed(t->ctrl) && nvmf_qpair_outstanding(t->qp) == 0 && t->done_count == 0)
        return -ENOTCONN;
      struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
      nanosleep(&pause, NULL);
    } else if (rc < 0) {
      return rc;
    }
  }
  t->returned = t->done_count < max ? t->done_count : max;
  return (int)t->returned;
}

static struct io_u *nvmf_fio_event(struct thread_data *td, int event) {
  struct nvmf_fio_thread *t = td->io_ops_data;
  return t->done[(t->done_head + (unsigned int)event) % t->done_cap];
}

static char *nvmf_fio_errdetails(struct io_u *io_u) {
  const struct nvmf_fio_request *req = io_u->engine_data;
  char *text = NULL;
  if (!req || asprintf(&text, "nvmf: %s failed: %s (status %#x)", io_ddir_name(io_u->ddir), nvmf_strerror(req->status),
                       (unsigned int)req->status) < 0)
    return NULL;
  return text;
}

/* The namespace is opened with the queue pair; a file is only fio's name for it. */
static int nvmf_fio_open_file(struct thread_data *td, struct fio_file *f) {
  (void)td;
  (void)f;
  return 0;
}

static int nvmf_fio_close_file(struct thread_data *td, struct fio_file *f) {
  (void)td;
  (void)f;
  return 0;
}

/* The host keeps no cache to drop: every read reaches the controller. */
static int nvmf_fio_invalidate(struct thread_data *td, struct fio_file *f) {
  (void)td;
  (void)f;
  return 0;
}

static int nvmf_fio_get_file_size(struct thread_data *td, struct fio_file *f) {
  (void)f;
  return thread_attach(td);
}

/* fio looks the engine up by the symbol "ioengine" in the shared object (ioengines.c, dlopen_ioengine). */
struct ioengine_ops ioengine = {
    .name = "nvmf",
    .version = FIO_IOOPS_VERSION,
    .flags = FIO_RAWIO | FIO_NOEXTEND | FIO_NODISKUTIL | FIO_DISKLESSIO | FIO_NO_OFFLOAD,
    .setup = nvmf_fio_setup,
    .init = nvmf_fio_init,
    .post_init = nvmf_fio_post_init,
    .queue = nvmf_fio_queue,
    .commit = nvmf_fio_commit,
    .getevents = nvmf_fio_getevents,
    .event = nvmf_fio_event,
    .errdetails = nvmf_fio_errdetails,
    .cleanup = nvmf_fio_cleanup,
    .open_file = nvmf_fio_open_file,
    .close_file = nvmf_fio_close_file,
    .invalidate = nvmf_fio_invalidate,
    .get_file_size = nvmf_fio_get_file_size,
    .io_u_init = nvmf_fio_io_u_init,
    .io_u_free = nvmf_fio_io_u_free,
    .option_struct_size = sizeof(struct nvmf_fio_options),
    .options = options,
};
