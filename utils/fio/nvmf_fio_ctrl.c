/* Controllers and multipath sets shared by the fio threads of one process (see nvmf_fio_ctrl.h). A short list under one mutex: it is
 * touched only when a job starts or ends, never on the I/O path. */
#include "nvmf_fio_ctrl.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a shared entry holds: one controller (one path) or a multipath set (several). */
enum shared_kind { SHARED_CTRL, SHARED_SET };

struct shared_ctrl {
  struct shared_ctrl *next;
  char *key;
  enum shared_kind kind;
  void *handle; /* nvmf_ctrl or nvmf_mpath, by kind */
  unsigned int refs;
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_ctrl *shared_list;

static const char *or_empty(const char *s) { return s ? s : ""; }

/* One string naming the association; NUL separators cannot occur inside the fields. */
static char *conn_key(const struct nvmf_fio_conn *conn) {
  char *key = NULL;
  if (asprintf(&key, "%s|%s|%s|%s|%s|%d%d|%s|%s|%s|%s", or_empty(conn->transport), or_empty(conn->traddr),
               or_empty(conn->trsvcid), or_empty(conn->subnqn), or_empty(conn->hostnqn), conn->hdr_digest,
               conn->data_digest, or_empty(conn->dhchap_secret), or_empty(conn->dhchap_ctrl_secret),
               or_empty(conn->tls_key), or_empty(conn->policy)) < 0)
    return NULL;
  return key;
}

/* The options of one path, its address and port aside. */
static void fill_opts(struct nvmf_ctrl_opts *o, const struct nvmf_fio_conn *conn) {
  struct nvmf_ctrl_opts opts;
  nvmf_ctrl_opts_init(&opts, sizeof(opts));
  if (conn->transport && conn->transport[0]) opts.transport = conn->transport;
  opts.subnqn = conn->subnqn;
  if (conn->hostnqn && conn->hostnqn[0]) opts.hostnqn = conn->hostnqn;
  opts.hdr_digest = conn->hdr_digest;
  opts.data_digest = conn->data_digest;
  if (conn->dhchap_secret && conn->dhchap_secret[0]) opts.dhchap_secret = conn->dhchap_secret;
  if (conn->dhchap_ctrl_secret && conn->dhchap_ctrl_secret[0]) opts.dhchap_ctrl_secret = conn->dhchap_ctrl_secret;
  if (conn->tls_key && conn->tls_key[0]) opts.tls_key = conn->tls_key;
  opts.nr_io_queues = (uint16_t)(conn->nr_io_queues ? (conn->nr_io_queues > 65535 ? 65535 : conn->nr_io_queues) : 1);
  if (conn->io_queue_size) opts.io_queue_size = (uint16_t)(conn->io_queue_size > 65535 ? 65535 : conn->io_queue_size);
  *o = opts;
}

static nvmf_ctrl *connect_ctrl(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen) {
  struct nvmf_ctrl_opts opts;
  fill_opts(&opts, conn);
  if (conn->traddr && conn->traddr[0]) opts.traddr = conn->traddr;
  if (conn->trsvcid && conn->trsvcid[0]) opts.trsvcid = conn->trsvcid;
  nvmf_ctrl *ctrl = NULL;
  int rc = nvmf_ctrl_connect(&opts, &ctrl, errbuf, errlen);
  if (rc != 0) {
    /* errbuf already names the failing step; keep its text, the status only adds detail when it is empty. */
    if (errbuf && errlen && !errbuf[0]) snprintf(errbuf, errlen, "%s", nvmf_strerror(rc));
    return NULL;
  }
  return ctrl;
}

typedef void *(*connect_fn)(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen);
typedef void (*disconnect_fn)(void *handle);

/* The shared entry of this kind for `conn`, connected on first use; its reference counted. */
static void *shared_get(const struct nvmf_fio_conn *conn, enum shared_kind kind, connect_fn connect,
                        disconnect_fn disconnect, char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!conn->subnqn || !conn->subnqn[0]) {
    if (errbuf) snprintf(errbuf, errlen, "subnqn is required");
    return NULL;
  }
  char *key = conn_key(conn);
  if (!key) {
    if (errbuf) snprintf(errbuf, errlen, "%s", strerror(ENOMEM));
    return NULL;
  }
  pthread_mutex_lock(&shared_lock);
  struct shared_ctrl *s = shared_list;
  while (s && !(s->kind == kind && strcmp(s->key, key) == 0)) s = s->next;
  if (s) {
    s->refs++;
    free(key);
    pthread_mutex_unlock(&shared_lock);
    return s->handle;
  }
  /* Connecting under the lock serialises the first jobs of one target: they must share its association. */
  void *handle = connect(conn, errbuf, errlen);
  s = handle ? calloc(1, sizeof(*s)) : NULL;
  if (!s) {
    if (handle) {
      disconnect(handle);
      if (errbuf) snprintf(errbuf, errlen, "%s", strerror(ENOMEM));
    }
    free(key);
    pthread_mutex_unlock(&shared_lock);
    return NULL;
  }
  s->key = key;
  s->kind = kind;
  s->handle = handle;
  s->refs = 1;
  s->next = shared_list;
  shared_list = s;
  pthread_mutex_unlock(&shared_lock);
  return handle;
}

static void shared_put(void *handle, disconnect_fn disconnect) {
  if (!handle) return;
  pthread_mutex_lock(&shared_lock);
  struct shared_ctrl **link = &shared_list;
  while (*link && (*link)->handle != handle) link = &(*link)->next;
  struct shared_ctrl *s = *link;
  if (s && --s->refs == 0) {
    *link = s->next;
    disconnect(s->handle);
    free(s->key);
    free(s);
  }
  pthread_mutex_unlock(&shared_lock);
}

static void *connect_ctrl_handle(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen) {
  return connect_ctrl(conn, errbuf, errlen);
}
static void disconnect_ctrl_handle(void *handle) { nvmf_ctrl_disconnect(handle); }

nvmf_ctrl *nvmf_fio_ctrl_get(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen) {
  return shared_get(conn, SHARED_CTRL, connect_ctrl_handle, disconnect_ctrl_handle, errbuf, errlen);
}

void nvmf_fio_ctrl_put(nvmf_ctrl *ctrl) { shared_put(ctrl, disconnect_ctrl_handle); }

/* Entries of a comma-separated list (1 for NULL or empty: the default). */
static size_t list_count(const char *list) {
  size_t n = 1;
  for (const char *c = list; c && *c; ++c) n += *c == ',';
  return n;
}

/* Entry `i` of a comma-separated list copied into buf (entry 0 when the list has one), or NULL for the default. */
static const char *list_entry(const char *list, size_t i, char *buf, size_t len) {
  if (!list || !list[0]) return NULL;
  if (list_count(list) == 1) i = 0;
  const char *start = list;
  for (; i > 0; --i) start = strchr(start, ',') + 1;
  size_t n = strcspn(start, ",");
  if (n >= len) n = len - 1;
  memcpy(buf, start, n);
  buf[n] = '\0';
  return buf;
}

size_t nvmf_fio_path_count(const struct nvmf_fio_conn *conn) {
  const size_t a = list_count(conn->traddr), s = list_count(conn->trsvcid);
  const size_t n = a > s ? a : s;
  return (a == 1 || a == n) && (s == 1 || s == n) ? n : 0;
}

#define MAX_PATHS 64

static nvmf_mpath *connect_set(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen) {
  const size_t n = nvmf_fio_path_count(conn);
  if (n == 0 || n > MAX_PATHS) {
    if (errbuf) snprintf(errbuf, errlen, "traddr and trsvcid lists do not pair up (1 to %d paths)", MAX_PATHS);
    return NULL;
  }
  struct nvmf_ctrl_opts opts[MAX_PATHS];
  static char addr[MAX_PATHS][256], port[MAX_PATHS][32]; /* under shared_lock */
  for (size_t i = 0; i < n; ++i) {
    fill_opts(&opts[i], conn);
    const char *a = list_entry(conn->traddr, i, addr[i], sizeof addr[i]);
    const char *p = list_entry(conn->trsvcid, i, port[i], sizeof port[i]);
    if (a) opts[i].traddr = a;
    if (p) opts[i].trsvcid = p;
  }
  const enum nvmf_path_policy policy =
      conn->policy && strcmp(conn->policy, "least-queued") == 0 ? NVMF_PATH_LEAST_QUEUED : NVMF_PATH_ROUND_ROBIN;
  nvmf_mpath *set = NULL;
  int rc = nvmf_mpath_connect(opts, n, policy, &set, errbuf, errlen);
  if (rc != 0) {
    if (errbuf && errlen && !errbuf[0]) snprintf(errbuf, errlen, "%s", nvmf_strerror(rc));
    return NULL;
  }
  return set;
}

static void *connect_set_handle(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen) {
  return connect_set(conn, errbuf, errlen);
}
static void disconnect_set_handle(void *handle) { nvmf_mpath_disconnect(handle); }

nvmf_mpath *nvmf_fio_mpath_get(const struct nvmf_fio_conn *conn, char *errbuf, size_t errlen) {
  return shared_get(conn, SHARED_SET, connect_set_handle, disconnect_set_handle, errbuf, errlen);
}

void nvmf_fio_mpath_put(nvmf_mpath *set) { shared_put(set, disconnect_set_handle); }
