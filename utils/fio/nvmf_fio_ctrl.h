/* Controllers shared by the fio threads of one process: one association per distinct connection, as SPDK's fio
 * plugin does, so each fio thread only adds an I/O queue pair to it. */
#ifndef NVMF_FIO_CTRL_H
#define NVMF_FIO_CTRL_H

#include <stdbool.h>
#include <stddef.h>

#include "nvmf/host.h"

/* What identifies an association: two jobs with equal parameters share one controller. */
struct nvmf_fio_conn {
  const char *transport;
  const char *traddr;
  const char *trsvcid;
  const char *subnqn;
  const char *hostnqn;
  bool hdr_digest;
  bool data_digest;
  const char *tls_key; /* NULL or empty: plain TCP */
  unsigned int nr_io_queues; /* asked for when this call makes the association */
  unsigned int io_queue_size;
  const char *dhchap_secret;      /* DH-HMAC-CHAP host secret; NULL or empty: none */
  const char *dhchap_ctrl_secret; /* controller secret (bidirectional) */
  const char *policy;             /* several paths: "round-robin" (default) or "least-queued" */
};

/* The shared controller for `conn`, connecting it on first use; takes a reference. NULL with errbuf filled on
 * failure. Thread-safe. */
nvmf_ctrl *nvmf_fio_ctrl_get(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen);
/* Drops a reference; the last one disconnects (CC.SHN) and frees the controller. Thread-safe. */
void nvmf_fio_ctrl_put(nvmf_ctrl *ctrl);

/* Several paths: traddr and/or trsvcid hold comma-separated lists (the n-th address with the n-th port; a single
 * one goes with every one of the other). The number of paths they give, or 0 when the lists do not pair up. */
size_t nvmf_fio_path_count(const struct nvmf_fio_conn *conn);
/* The shared multipath set for `conn` (its paths as above), connecting it on first use; takes a reference.
 * NULL with errbuf filled on failure. Thread-safe. */
nvmf_mpath *nvmf_fio_mpath_get(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen);
/* Drops a reference; the last one disconnects every path and frees the set. Thread-safe. */
void nvmf_fio_mpath_put(nvmf_mpath *set);

#endif
