/*
 * nvmf-host: a user-space NVMe over Fabrics host (NVMe/TCP, NVMe/RDMA where built), C API.
 *
 *   cc app.c $(pkg-config --cflags --libs nvmf-host)
 *
 * Model (SPDK's): one controller handle per association; one queue pair per thread. Each queue pair owns its
 * connection and runs its completions on the thread that calls nvmf_qpair_poll(); a queue pair must only be
 * used by the thread that created it. Submission never blocks and allocates nothing; buffers must stay valid
 * until their callback has run. The controller's admin side (keep-alive, asynchronous events, reconnects) runs
 * on a background thread the library starts (every admin operation, the connect included, runs there), unless
 * opts.admin_thread is 0, in which case the application calls nvmf_ctrl_process_admin() at least every
 * keep-alive-timeout / 2, and makes every admin call from one thread.
 *
 * Thread lifetime: the kernel (io_uring) cancels a thread's outstanding socket requests when the thread exits.
 * So create, use and destroy a queue pair on one thread that outlives it, and with admin_thread 0 drive the
 * controller from a thread that outlives the controller.
 *
 * Status values: every function returning int returns 0 on success, a negative errno for a host-side failure
 * (-EINVAL, -EAGAIN queue full, -ENOTCONN the controller is gone for good, -ETIMEDOUT, -ENOMEM), or a positive
 * NVMe status in libnvme's encoding (SC bits 7:0, SCT bits 10:8, DNR bit 14) from the controller. Completion
 * callbacks receive the same kind of value. nvmf_strerror() turns any of them into text.
 *
 * Connection loss follows the Linux host: queues reconnect every reconnect_delay_s; I/O outstanding at the loss
 * is resent after the reconnect, or completes with an error when ctrl_loss_tmo_s (or fast_io_fail_tmo_s) runs
 * out. Nothing waits forever.
 *
 * Logging: the library writes warnings and notable events to stderr; NVMF_HOST_LOG=debug|info|warn|error in the
 * environment sets the level (read at nvmf_ctrl_connect).
 */
#ifndef NVMF_HOST_H
#define NVMF_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NVMF_HOST_API_VERSION 1

typedef struct nvmf_ctrl nvmf_ctrl;   /* one controller association */
typedef struct nvmf_ns nvmf_ns;       /* an active namespace of a controller; valid until the controller is freed */
typedef struct nvmf_qpair nvmf_qpair; /* one I/O queue pair, owned by one thread */

/* Connection options. Initialise with nvmf_ctrl_opts_init(), then change what you need. Strings are copied. */
struct nvmf_ctrl_opts {
  size_t opts_size;            /* sizeof(struct nvmf_ctrl_opts), set by nvmf_ctrl_opts_init */
  const char *transport;       /* "tcp" (default), "rdma", "ofi" or "ofi:PROVIDER" */
  const char *traddr;          /* default "127.0.0.1" */
  const char *trsvcid;         /* NULL: 4420 (8009 for the discovery NQN) */
  const char *subnqn;          /* required */
  const char *hostnqn;         /* NULL: /etc/nvme/hostnqn, else generated */
  const char *hostid;          /* NULL: /etc/nvme/hostid, else derived from the host NQN */
  uint16_t nr_io_queues;       /* I/O queues to ask for; default 1 */
  uint16_t io_queue_size;      /* entries per I/O queue; default 128 */
  uint32_t keep_alive_tmo_ms;  /* KATO; default 5000; 0 disables keep-alive */
  uint32_t io_timeout_ms;      /* default 30000: a command older than this resets its queue */
  int32_t reconnect_delay_s;   /* default 10 */
  int32_t ctrl_loss_tmo_s;     /* default 600; 0: fail at the first loss; -1: retry forever */
  int32_t fast_io_fail_tmo_s;  /* default -1 (off): fail queued I/O this long after a loss, keep reconnecting */
  bool hdr_digest;             /* NVMe/TCP header digest */
  bool data_digest;            /* NVMe/TCP data digest */
  bool admin_thread;           /* default true: the library drives the admin queue on its own thread */
  const char *dhchap_secret;      /* DH-HMAC-CHAP host secret "DHHC-1:HH:...:" (nvme-cli -S); NULL: none */
  const char *dhchap_ctrl_secret; /* controller secret: authenticate the controller too (nvme-cli -C) */
  const char *tls_key;         /* NULL: plain TCP; else NVMe/TCP over TLS 1.3 with this configured PSK
                                  (NVMeTLSkey-1:HH:...:) or the file holding it (nvme-cli --tls-key) */
};

/* Events the controller reports to the application (from asynchronous event notices or the connection). */
enum nvmf_event_type {
  NVMF_EVENT_NS_CHANGED = 1,        /* namespace attributes changed; the namespace list was refreshed */
  NVMF_EVENT_DISCOVERY_CHANGED = 2, /* discovery log page changed (discovery controllers) */
  NVMF_EVENT_OTHER_AEN = 3,         /* any other asynchronous event; aen_dw0 says which */
  NVMF_EVENT_DISCONNECTED = 4,      /* the association was lost; reconnecting */
  NVMF_EVENT_RECONNECTED = 5,       /* a new association is up (queue pairs reconnect on their next poll) */
  NVMF_EVENT_FAILED = 6,            /* ctrl_loss_tmo ran out: the controller is gone for good */
};

struct nvmf_event {
  enum nvmf_event_type type;
  uint32_t aen_dw0; /* CQE dword 0 of the Asynchronous Event Request (type, info, log page), else 0 */
};

/* Runs on the thread that drives the admin queue (the library's admin thread or nvmf_ctrl_process_admin). */
typedef void (*nvmf_event_cb)(void *arg, nvmf_ctrl *ctrl, const struct nvmf_event *event);
/* Runs inside nvmf_qpair_poll() (or a _sync helper) on the queue pair's thread. */
typedef void (*nvmf_io_cb)(void *arg, int status);

/* A range for nvmf_qpair_deallocate: the Dataset Management range as sent on the wire (little-endian hosts). */
struct nvmf_range {
  uint32_t attributes; /* context attributes; 0 */
  uint32_t nlb;        /* number of blocks (1's based) */
  uint64_t slba;
};

/* Flags of writes and write-zeroes. */
#define NVMF_IO_FUA 0x1u  /* force unit access */
#define NVMF_IO_DEAC 0x2u /* write zeroes: the controller may deallocate */

/* ---- Controller ---- */

void nvmf_ctrl_opts_init(struct nvmf_ctrl_opts *opts, size_t opts_size);
/* Connect the admin queue, enable the controller, identify it and its namespaces. On failure returns non-zero,
 * *ctrl is NULL and errbuf (if given) says which step failed. */
int nvmf_ctrl_connect(const struct nvmf_ctrl_opts *opts, nvmf_ctrl **ctrl, char *errbuf, size_t errlen);
/* Orderly shutdown (CC.SHN) and free. Free the controller's queue pairs first. Returns the shutdown's status. */
int nvmf_ctrl_disconnect(nvmf_ctrl *ctrl);
/* Drive the admin queue: keep-alive, asynchronous events, reconnects. Waits at most timeout_ms. Thread-safe. */
int nvmf_ctrl_process_admin(nvmf_ctrl *ctrl, int timeout_ms);
void nvmf_ctrl_set_event_cb(nvmf_ctrl *ctrl, nvmf_event_cb cb, void *arg);
/* True while the association is up (false while reconnecting and after a failure). */
bool nvmf_ctrl_is_connected(nvmf_ctrl *ctrl);
/* True once the controller was given up (ctrl_loss_tmo expired). */
bool nvmf_ctrl_is_failed(nvmf_ctrl *ctrl);

uint16_t nvmf_ctrl_get_cntlid(nvmf_ctrl *ctrl);
uint16_t nvmf_ctrl_get_io_queues(nvmf_ctrl *ctrl);      /* granted by the controller */
uint16_t nvmf_ctrl_get_max_queue_size(nvmf_ctrl *ctrl); /* CAP.MQES + 1 */
uint32_t nvmf_ctrl_get_max_transfer(nvmf_ctrl *ctrl);   /* bytes, from MDTS */
/* Identify Controller fields, without their space padding, copied into buf (NUL-terminated, truncated). */
void nvmf_ctrl_get_serial(nvmf_ctrl *ctrl, char *buf, size_t len);
void nvmf_ctrl_get_model(nvmf_ctrl *ctrl, char *buf, size_t len);
void nvmf_ctrl_get_subnqn(nvmf_ctrl *ctrl, char *buf, size_t len);
/* The 4096-byte Identify Controller data structure as received. */
int nvmf_ctrl_identify(nvmf_ctrl *ctrl, void *buf4096);
/* Re-read the active namespace list (also done on a namespace-changed event). Thread-safe. */
int nvmf_ctrl_refresh_namespaces(nvmf_ctrl *ctrl);

/* Active namespaces in NSID order: first, then next after `prev`; 0 when none is left. */
uint32_t nvmf_ctrl_first_nsid(nvmf_ctrl *ctrl);
uint32_t nvmf_ctrl_next_nsid(nvmf_ctrl *ctrl, uint32_t prev);
/* The namespace handle, or NULL when nsid was never active. */
nvmf_ns *nvmf_ctrl_get_ns(nvmf_ctrl *ctrl, uint32_t nsid);

uint32_t nvmf_ns_get_id(const nvmf_ns *ns);
uint32_t nvmf_ns_get_block_size(const nvmf_ns *ns);
uint64_t nvmf_ns_get_num_blocks(const nvmf_ns *ns);
uint64_t nvmf_ns_get_size(const nvmf_ns *ns);
uint32_t nvmf_ns_get_max_transfer_blocks(const nvmf_ns *ns);
/* False once the namespace left the active list; I/O to it is refused with -ENXIO. */
bool nvmf_ns_is_active(const nvmf_ns *ns);

/* ---- Queue pairs (one thread each) ---- */

/* Connect an I/O queue for the calling thread. queue_size 0 uses opts.io_queue_size. NULL and errbuf on
 * failure (for instance every granted queue is in use). */
nvmf_qpair *nvmf_qpair_create(nvmf_ctrl *ctrl, uint16_t queue_size, char *errbuf, size_t errlen);
/* Close the queue; outstanding commands complete (callbacks run) with an abort status first. */
void nvmf_qpair_destroy(nvmf_qpair *qp);

/* Asynchronous commands: 0 when queued, -EAGAIN when queue_depth commands are outstanding (poll, retry),
 * -EINVAL for a bad range or buffer, -ENXIO for an inactive namespace, -ENOTCONN when the controller is gone. */
int nvmf_qpair_read(nvmf_qpair *qp, const nvmf_ns *ns, void *buf, uint64_t slba, uint32_t nlb, nvmf_io_cb cb,
                    void *arg);
int nvmf_qpair_readv(nvmf_qpair *qp, const nvmf_ns *ns, const struct iovec *iov, int iovcnt, uint64_t slba,
                     uint32_t nlb, nvmf_io_cb cb, void *arg);
int nvmf_qpair_write(nvmf_qpair *qp, const nvmf_ns *ns, const void *buf, uint64_t slba, uint32_t nlb,
                     uint32_t flags, nvmf_io_cb cb, void *arg);
int nvmf_qpair_writev(nvmf_qpair *qp, const nvmf_ns *ns, const struct iovec *iov, int iovcnt, uint64_t slba,
                      uint32_t nlb, uint32_t flags, nvmf_io_cb cb, void *arg);
int nvmf_qpair_flush(nvmf_qpair *qp, const nvmf_ns *ns, nvmf_io_cb cb, void *arg);
int nvmf_qpair_write_zeroes(nvmf_qpair *qp, const nvmf_ns *ns, uint64_t slba, uint32_t nlb, uint32_t flags,
                            nvmf_io_cb cb, void *arg);
/* Dataset Management, deallocate: 1..256 ranges; `ranges` must stay valid until the callback. */
int nvmf_qpair_deallocate(nvmf_qpair *qp, const nvmf_ns *ns, const struct nvmf_range *ranges, uint32_t count,
                          nvmf_io_cb cb, void *arg);

/* Process completions (running their callbacks), waiting at most timeout_ms for the first one. Also drives
 * the queue's reconnect after a connection loss. Returns the number of commands completed, or a negative
 * errno. */
int nvmf_qpair_poll(nvmf_qpair *qp, int timeout_ms);
uint32_t nvmf_qpair_outstanding(nvmf_qpair *qp);
uint16_t nvmf_qpair_depth(nvmf_qpair *qp);
/* RDMA: register a buffer ahead of its first use (later I/O from it skips registration). 0 on TCP, where
 * nothing needs registering. */
int nvmf_qpair_register_buffer(nvmf_qpair *qp, void *addr, size_t len);

/* Synchronous helpers: submit, then poll until done (splitting transfers over the maximum). */
int nvmf_qpair_read_sync(nvmf_qpair *qp, const nvmf_ns *ns, void *buf, uint64_t slba, uint32_t nlb);
int nvmf_qpair_write_sync(nvmf_qpair *qp, const nvmf_ns *ns, const void *buf, uint64_t slba, uint32_t nlb,
                          uint32_t flags);
int nvmf_qpair_flush_sync(nvmf_qpair *qp, const nvmf_ns *ns);
int nvmf_qpair_write_zeroes_sync(nvmf_qpair *qp, const nvmf_ns *ns, uint64_t slba, uint32_t nlb, uint32_t flags);
int nvmf_qpair_deallocate_sync(nvmf_qpair *qp, const nvmf_ns *ns, const struct nvmf_range *ranges,
                               uint32_t count);

/* Text for a status or negative errno (libnvme's NVMe status strings). Static storage; never NULL. */
const char *nvmf_strerror(int status);

/* ---- I/O statistics ---- */

/* Latency histogram layout: 4 buckets per power of two of nanoseconds (0..3 ns exact); bucket i holds values up
 * to nvmf_io_stats_bucket_upper_ns(i); the last one everything from 2^39 ns up. */
#define NVMF_IO_STATS_LATENCY_BUCKETS 156

/* Versioned by size: set stats_size = sizeof(struct nvmf_io_stats) before the call; fields added later go at the
 * end, and a library only fills what the caller's size covers. Commands are counted when they complete. */
struct nvmf_io_stats {
  size_t stats_size;
  uint64_t read_commands;  /* Read and Compare completed successfully */
  uint64_t write_commands; /* Write */
  uint64_t other_commands; /* Flush, Write Zeroes, Dataset Management */
  uint64_t bytes_read;
  uint64_t bytes_written;
  uint64_t errors;         /* completed with an NVMe error status or a host-side (path) status */
  uint32_t outstanding;    /* submitted, not completed */
  uint32_t queues;         /* queue pairs summed: 1, or the controller's live ones */
  /* Submission to completion of successful commands; percentiles are bucket upper bounds (at most 25% high). */
  uint64_t latency_sum_ns;
  uint64_t latency_count;
  uint64_t latency_p50_ns;
  uint64_t latency_p99_ns;
  uint64_t latency_p999_ns;
  uint64_t latency_buckets[NVMF_IO_STATS_LATENCY_BUCKETS];
};

/* One queue pair's statistics. Call from any thread (values may be a few commands behind the queue's own
 * thread). 0, or -EINVAL (NULL, or stats_size smaller than the first version of the struct). */
int nvmf_qpair_get_stats(nvmf_qpair *qp, struct nvmf_io_stats *stats);
/* The sum over the controller's queue pairs, including the ones already destroyed. */
int nvmf_ctrl_get_stats(nvmf_ctrl *ctrl, struct nvmf_io_stats *stats);
/* Largest latency (ns) of histogram bucket `index`; UINT64_MAX for the last bucket and beyond. */
uint64_t nvmf_io_stats_bucket_upper_ns(unsigned index);

/* ---- Re-authentication (DH-HMAC-CHAP; needs opts.dhchap_secret) ---- */

/* A new DH-HMAC-CHAP transaction on the admin queue (as the Linux host runs after a secret change); I/O goes on.
 * 0, an NVMe status (the controller refused: the association then ends), or a negative errno. */
int nvmf_ctrl_reauthenticate(nvmf_ctrl *ctrl);
/* The same on one I/O queue, from the queue's own thread. Commands already submitted go on (callbacks run
 * meanwhile); until it returns, one queue entry is kept for the authentication commands. */
int nvmf_qpair_reauthenticate(nvmf_qpair *qp);


/* ---- Multipath: one subsystem through several paths ----
 *
 * A set connects one controller per path (each nvmf_ctrl_opts names one address and port of the same
 * subsystem; namespaces must carry the same NGUID/EUI-64/UUID on every path) and drives them all on a
 * background thread of its own (keep-alive, reconnects, ANA logs and ANA change events). Its queue pairs hold
 * one I/O queue per path, all polled by the thread that made them. Each command goes to a path in the best ANA
 * state (optimized, then non-optimized) whose connection is up, by the set's policy among equals; a command a
 * path fails with a path-related status (ANA inaccessible, persistent loss or change; a lost connection) is sent
 * again on another usable path before its callback runs, so the application sees no error while one path
 * works. A lost path reconnects (reconnect_delay_s, ctrl_loss_tmo_s) and is used again when it is back.
 * Symbol version NVMF_HOST_3. */

typedef struct nvmf_mpath nvmf_mpath;             /* one subsystem through several paths */
typedef struct nvmf_mpath_qpair nvmf_mpath_qpair; /* one I/O queue per path, owned by one thread */

enum nvmf_path_policy {
  NVMF_PATH_ROUND_ROBIN = 0,  /* the next path after the one used last */
  NVMF_PATH_LEAST_QUEUED = 1, /* the path with the fewest commands outstanding from this queue pair; ties in turn */
};

/* Connect `count` paths (1..64), each from its own options (admin_thread is ignored: the set always drives its
 * paths on a thread of its own). Every path needs an I/O queue for the set itself plus one per queue pair
 * (nr_io_queues). Non-zero and errbuf naming the path when one fails or leads elsewhere. */
int nvmf_mpath_connect(const struct nvmf_ctrl_opts *paths, size_t count, enum nvmf_path_policy policy,
                       nvmf_mpath **set, char *errbuf, size_t errlen);
/* Free the set (its queue pairs first): every path's controller is shut down (CC.SHN). */
void nvmf_mpath_disconnect(nvmf_mpath *set);
size_t nvmf_mpath_get_path_count(nvmf_mpath *set);
/* True while path `path`'s association is up. */
bool nvmf_mpath_path_is_connected(nvmf_mpath *set, size_t path);
/* The namespaces found at connect time (on the first path), in NSID order; 0 when none is left. */
uint32_t nvmf_mpath_first_nsid(nvmf_mpath *set);
uint32_t nvmf_mpath_next_nsid(nvmf_mpath *set, uint32_t prev);
/* Block size and blocks of namespace `nsid`; 0 when the set has no such namespace. */
uint32_t nvmf_mpath_ns_get_block_size(nvmf_mpath *set, uint32_t nsid);
uint64_t nvmf_mpath_ns_get_num_blocks(nvmf_mpath *set, uint32_t nsid);
/* The largest Read/Write in blocks, over every path (the smallest of their MDTS). */
uint32_t nvmf_mpath_ns_get_max_transfer_blocks(nvmf_mpath *set, uint32_t nsid);

/* One I/O queue per path for the calling thread (queue_size 0: each path's opts.io_queue_size). */
nvmf_mpath_qpair *nvmf_mpath_qpair_create(nvmf_mpath *set, uint16_t queue_size, char *errbuf, size_t errlen);
/* Close every path's queue; outstanding commands complete (callbacks run) with an abort status first. */
void nvmf_mpath_qpair_destroy(nvmf_mpath_qpair *qp);
/* As nvmf_qpair_read/write, on namespace `nsid` of the set: 0 when queued (or waiting for a path that is
 * reconnecting), -EAGAIN queue full, -EINVAL bad arguments or NSID, -ENOTCONN no path can take it. */
int nvmf_mpath_qpair_read(nvmf_mpath_qpair *qp, uint32_t nsid, void *buf, uint64_t slba, uint32_t nlb,
                          nvmf_io_cb cb, void *arg);
int nvmf_mpath_qpair_write(nvmf_mpath_qpair *qp, uint32_t nsid, const void *buf, uint64_t slba, uint32_t nlb,
                           uint32_t flags, nvmf_io_cb cb, void *arg);
/* As nvmf_qpair_flush/write_zeroes (flags: NVMF_IO_DEAC), through one path of the set, moved like the others. */
int nvmf_mpath_qpair_flush(nvmf_mpath_qpair *qp, uint32_t nsid, nvmf_io_cb cb, void *arg);
int nvmf_mpath_qpair_write_zeroes(nvmf_mpath_qpair *qp, uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t flags,
                                  nvmf_io_cb cb, void *arg);
/* Process completions of every path (running their callbacks), waiting at most timeout_ms; also reconnects
 * lost paths and resends the commands waiting for one. The number completed, or -ENOTCONN when every path is
 * gone for good. */
int nvmf_mpath_qpair_poll(nvmf_mpath_qpair *qp, int timeout_ms);
uint32_t nvmf_mpath_qpair_outstanding(nvmf_mpath_qpair *qp);
/* Commands sent again on another path after a path failed them. */
uint64_t nvmf_mpath_qpair_get_retries(nvmf_mpath_qpair *qp);
/* Commands that completed through path `path` (index in the connect array). */
uint64_t nvmf_mpath_qpair_get_path_commands(nvmf_mpath_qpair *qp, size_t path);

#ifdef __cplusplus
}
#endif

#endif /* NVMF_HOST_H */
