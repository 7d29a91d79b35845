/*
 * base.h — status codes, error messages, aligned allocation, version.
 *
 * Every fallible engine function returns an hn_status. On failure the message
 * is held in a thread-local buffer (hn_errmsg) written by hn_fail; it says what
 * went wrong, where, and how to fix it. The engine never prints, exits or
 * aborts on bad input.
 */
#ifndef HN_BASE_H
#define HN_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define HN_VERSION "0.1.0"

typedef enum hn_status {
  HN_OK = 0,
  HN_ERR_ARG,     /* a bad argument value (negative size, NULL, unknown kind) */
  HN_ERR_SHAPE,   /* tensor shapes do not fit together                          */
  HN_ERR_NOMEM,   /* an allocation failed                                       */
  HN_ERR_IO,      /* a file could not be opened, read or written                */
  HN_ERR_FORMAT,  /* a file's contents are corrupt, truncated or foreign        */
  HN_ERR_STATE,   /* the object is not in a state that allows this call         */
  HN_ERR_NUMERIC  /* a NaN or Inf appeared where a finite number is required    */
} hn_status;

/* Record a failure message (printf-style) and return st, so that callers can
 * write `return hn_fail(HN_ERR_SHAPE, "...", ...)`. */
hn_status hn_fail(hn_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The message of the most recent failure on this thread ("" if none). */
const char *hn_errmsg(void);
void hn_clear_error(void);
/* A short name for a status, e.g. "shape error". */
const char *hn_status_name(hn_status st);

/* Propagate a failure upward. */
#define HN_TRY(call)                         \
  do {                                       \
    hn_status hn_try_st_ = (call);           \
    if (hn_try_st_ != HN_OK) return hn_try_st_; \
  } while (0)

/* A shape formatted as "[128, 784]" in a fixed buffer returned by value, so
 * that formatting an error message never allocates. */
typedef struct hn_shape_buf { char s[80]; } hn_shape_buf;
hn_shape_buf hn_shape_fmt(int ndim, const int64_t *shape);

/* 64-byte aligned allocation of `bytes` (rounded up). Returns NULL on failure
 * (and does not set an error: callers do, naming themselves). Every call is
 * counted (hn_alloc_count), which the tests use to prove that a training step
 * allocates nothing. hn_free(NULL) is a no-op. */
void *hn_alloc(size_t bytes);
void *hn_calloc(size_t bytes); /* zero-filled */
void hn_free(void *p);
int64_t hn_alloc_count(void);

const char *hn_version(void);

#endif
