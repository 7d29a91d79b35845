/* base.c — errors, aligned allocation with a counter, version. */
#include "base.h"
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char errbuf[1024];

hn_status hn_fail(hn_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  return st;
}

const char *hn_errmsg(void) { return errbuf; }

void hn_clear_error(void) { errbuf[0] = '\0'; }

const char *hn_status_name(hn_status st) {
  switch (st) {
    case HN_OK: return "ok";
    case HN_ERR_ARG: return "bad argument";
    case HN_ERR_SHAPE: return "shape error";
    case HN_ERR_NOMEM: return "out of memory";
    case HN_ERR_IO: return "i/o error";
    case HN_ERR_FORMAT: return "format error";
    case HN_ERR_STATE: return "state error";
    case HN_ERR_NUMERIC: return "numerical error";
  }
  return "unknown status";
}

hn_shape_buf hn_shape_fmt(int ndim, const int64_t *shape) {
  hn_shape_buf b;
  size_t n = 0;
  b.s[n++] = '[';
  for (int i = 0; i < ndim && n < sizeof b.s - 24; i++)
    n += (size_t)snprintf(b.s + n, sizeof b.s - n, i ? ", %lld" : "%lld", (long long)shape[i]);
  snprintf(b.s + n, sizeof b.s - n, "]");
  return b;
}

/* The counter and the fail countdown are atomics-free on purpose: allocation
 * happens at set-up, on the calling thread, never inside a parallel region. */
static int64_t n_allocs;
static int64_t fail_after = -1;

void hn_mem_fail_after(int64_t k) { fail_after = k; }

int64_t hn_alloc_count(void) { return n_allocs; }

void *hn_alloc(size_t bytes) {
  if (fail_after == 0) return NULL;
  if (fail_after > 0) fail_after--;
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (rounded == 0) rounded = 64;
  if (rounded < bytes) return NULL; /* overflow */
  void *p = aligned_alloc(64, rounded);
  if (p) n_allocs++;
  return p;
}

void *hn_calloc(size_t bytes) {
  void *p = hn_alloc(bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

void hn_free(void *p) { free(p); }

const char *hn_version(void) { return HN_VERSION; }
