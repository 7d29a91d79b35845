/* ckpt.c — checkpoints: versioned sections with CRC32, atomic commit. The
 * format is documented at the top of ckpt.h. */
#include "ckpt.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

/* ---- little helpers ------------------------------------------------------ */

static const unsigned char zeros[HN_CKPT_ALIGN];

static bool host_is_le(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Reverse the bytes of each `width`-byte element (little-endian file data on
 * a big-endian host). */
static void swap_elems(void *data, size_t bytes, size_t width) {
  unsigned char *p = data;
  for (size_t i = 0; i + width <= bytes; i += width)
    for (size_t a = 0, b = width - 1; a < b; a++, b--) {
      unsigned char t = p[i + a];
      p[i + a] = p[i + b];
      p[i + b] = t;
    }
}

/* zlib's crc32 takes a 32-bit length: feed it in pieces. */
static uint32_t crc_update(uint32_t crc, const void *data, uint64_t bytes) {
  const unsigned char *p = data;
  uLong c = crc;
  while (bytes > 0) {
    uInt k = bytes > (1u << 30) ? (1u << 30) : (uInt)bytes;
    c = crc32(c, p, k);
    p += k;
    bytes -= k;
  }
  return (uint32_t)c;
}

static uint64_t align_up(uint64_t x) {
  return (x + (HN_CKPT_ALIGN - 1)) & ~(uint64_t)(HN_CKPT_ALIGN - 1);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = hn_alloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

const char *hn_ckpt_kind_name(int kind) {
  switch (kind) {
    case HN_CKPT_RAW: return "raw";
    case HN_CKPT_F32: return "f32";
    case HN_CKPT_I64: return "i64";
    case HN_CKPT_TEXT: return "text";
  }
  return "unknown";
}

/* Index of the first byte that breaks UTF-8 (overlong forms, surrogates and
 * code points above U+10FFFF included), or -1 if s[0..n) is valid. */
static int64_t utf8_first_bad(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) { i++; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return (int64_t)i;
    if (n - i < len) return (int64_t)i;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return (int64_t)i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return (int64_t)i;
    i += len;
  }
  return -1;
}

/* The text rules for a TEXT payload: ends in NUL, no other NUL, valid UTF-8.
 * Returns NULL if fine, else a description written into buf. */
static const char *text_problem(const unsigned char *p, uint64_t bytes, char *buf, size_t cap) {
  if (bytes == 0 || p[bytes - 1] != '\0')
    return "text is not NUL-terminated";
  const void *nul = memchr(p, 0, (size_t)bytes - 1);
  if (nul) {
    snprintf(buf, cap, "text has a NUL byte at %lld before its end",
             (long long)((const unsigned char *)nul - p));
    return buf;
  }
  int64_t bad = utf8_first_bad(p, (size_t)bytes - 1);
  if (bad >= 0) {
    snprintf(buf, cap, "text is not valid UTF-8 at byte %lld", (long long)bad);
    return buf;
  }
  return NULL;
}

/* Names: 1..47 printable ASCII characters. */
static bool name_ok(const char *name) {
  if (!name) return false;
  size_t n = strnlen(name, HN_CKPT_NAME_BYTES);
  if (n == 0 || n >= HN_CKPT_NAME_BYTES) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7E) return false;
  return true;
}

/* ---- writer -------------------------------------------------------------- */

typedef struct ckpt_wsec {
  char name[HN_CKPT_NAME_BYTES];
  uint32_t kind;
  uint64_t size;
  uint32_t crc;
  void *data; /* owned copy (little-endian) */
} ckpt_wsec;

struct hn_ckpt_writer {
  char *path;
  ckpt_wsec *secs;
  int n, cap;
  uint64_t payload_bound; /* Σ align_up(size): bounds the file size */
  bool committed;
};

/* Test hook (internal.h): after `bytes` more bytes written by a commit, the
 * next write fails with ENOSPC. < 0 disarms. */
static int64_t fail_write_after = -1;

void hn_ckpt_fail_write_after(int64_t bytes) { fail_write_after = bytes; }

hn_status hn_ckpt_writer_new(hn_ckpt_writer **out, const char *path) {
  if (!out) return hn_fail(HN_ERR_ARG, "hn_ckpt_writer_new: out is NULL");
  if (!path || !path[0])
    return hn_fail(HN_ERR_ARG, "hn_ckpt_writer_new: the path is %s; give a file name",
                   path ? "empty" : "NULL");
  hn_ckpt_writer *w = hn_calloc(sizeof *w);
  char *p = dup_str(path);
  if (!w || !p) {
    hn_free(w);
    hn_free(p);
    return hn_fail(HN_ERR_NOMEM, "hn_ckpt_writer_new: cannot allocate a writer for '%s'", path);
  }
  w->path = p;
  *out = w;
  return HN_OK;
}

void hn_ckpt_writer_free(hn_ckpt_writer *w) {
  if (!w) return;
  for (int i = 0; i < w->n; i++) hn_free(w->secs[i].data);
  hn_free(w->secs);
  hn_free(w->path);
  hn_free(w);
}

/* Shared by every add: checks, copies (byte-swapping `width`-byte elements on
 * a big-endian host) and records. */
static hn_status add_section(hn_ckpt_writer *w, const char *who, const char *name, int kind,
                             const void *data, int64_t bytes, size_t width) {
  if (!w) return hn_fail(HN_ERR_ARG, "%s: the writer is NULL", who);
  if (w->committed)
    return hn_fail(HN_ERR_STATE,
                   "%s: the writer for '%s' has already committed; create a new writer",
                   who, w->path);
  if (!name_ok(name))
    return hn_fail(HN_ERR_ARG,
                   "%s: bad section name %s%.60s%s for '%s': use 1 to %d printable ASCII "
                   "characters", who, name ? "'" : "", name ? name : "NULL", name ? "'" : "",
                   w->path, HN_CKPT_NAME_BYTES - 1);
  if (kind < HN_CKPT_RAW || kind > HN_CKPT_TEXT)
    return hn_fail(HN_ERR_ARG, "%s: section '%s' has unknown kind %d (use an hn_ckpt_kind)",
                   who, name, kind);
  if (bytes < 0 || bytes > HN_CKPT_MAX_BYTES)
    return hn_fail(HN_ERR_ARG, "%s: section '%s' has size %lld bytes; it must be 0..%lld",
                   who, name, (long long)bytes, (long long)HN_CKPT_MAX_BYTES);
  if (bytes > 0 && !data)
    return hn_fail(HN_ERR_ARG, "%s: section '%s': data is NULL for %lld bytes", who, name,
                   (long long)bytes);
  if ((kind == HN_CKPT_F32 && bytes % 4) || (kind == HN_CKPT_I64 && bytes % 8))
    return hn_fail(HN_ERR_ARG, "%s: section '%s' of kind %s has %lld bytes, not a multiple of %d",
                   who, name, hn_ckpt_kind_name(kind), (long long)bytes,
                   kind == HN_CKPT_F32 ? 4 : 8);
  if (kind == HN_CKPT_TEXT) {
    char buf[96];
    const char *why = text_problem(data, (uint64_t)bytes, buf, sizeof buf);
    if (why) return hn_fail(HN_ERR_ARG, "%s: section '%s': %s", who, name, why);
  }
  for (int i = 0; i < w->n; i++)
    if (strcmp(w->secs[i].name, name) == 0)
      return hn_fail(HN_ERR_ARG,
                     "%s: section '%s' is already in the checkpoint for '%s'; names must be "
                     "unique", who, name, w->path);
  if (w->n >= HN_CKPT_MAX_SECTIONS)
    return hn_fail(HN_ERR_ARG, "%s: cannot add '%s': '%s' already has the maximum of %d sections",
                   who, name, w->path, HN_CKPT_MAX_SECTIONS);
  uint64_t bound = align_up(HN_CKPT_HEADER_BYTES + (uint64_t)(w->n + 1) * HN_CKPT_ENTRY_BYTES) +
                   w->payload_bound + align_up((uint64_t)bytes);
  if (bound > (uint64_t)HN_CKPT_MAX_BYTES)
    return hn_fail(HN_ERR_ARG, "%s: adding '%s' (%lld bytes) would make '%s' larger than the "
                   "%lld-byte checkpoint limit", who, name, (long long)bytes, w->path,
                   (long long)HN_CKPT_MAX_BYTES);

  if (w->n == w->cap) {
    int cap = w->cap ? 2 * w->cap : 16;
    if (cap > HN_CKPT_MAX_SECTIONS) cap = HN_CKPT_MAX_SECTIONS;
    ckpt_wsec *s = hn_alloc((size_t)cap * sizeof *s);
    if (!s) return hn_fail(HN_ERR_NOMEM, "%s: cannot grow the section list for '%s'", who, w->path);
    if (w->n) memcpy(s, w->secs, (size_t)w->n * sizeof *s);
    hn_free(w->secs);
    w->secs = s;
    w->cap = cap;
  }
  void *copy = hn_alloc((size_t)bytes);
  if (!copy)
    return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate %lld bytes to copy section '%s'", who,
                   (long long)bytes, name);
  if (bytes) memcpy(copy, data, (size_t)bytes);
  if (width > 1 && !host_is_le()) swap_elems(copy, (size_t)bytes, width);

  ckpt_wsec *s = &w->secs[w->n++];
  memset(s->name, 0, sizeof s->name);
  memcpy(s->name, name, strlen(name));
  s->kind = (uint32_t)kind;
  s->size = (uint64_t)bytes;
  s->crc = crc_update((uint32_t)crc32(0L, Z_NULL, 0), copy, (uint64_t)bytes);
  s->data = copy;
  w->payload_bound += align_up((uint64_t)bytes);
  return HN_OK;
}

hn_status hn_ckpt_add(hn_ckpt_writer *w, const char *name, hn_ckpt_kind kind, const void *data,
                      int64_t bytes) {
  return add_section(w, "hn_ckpt_add", name, (int)kind, data, bytes, 1);
}

hn_status hn_ckpt_add_f32(hn_ckpt_writer *w, const char *name, const float *x, int64_t n) {
  if (n < 0 || n > HN_CKPT_MAX_BYTES / 4)
    return hn_fail(HN_ERR_ARG, "hn_ckpt_add_f32: section '%s': bad element count %lld",
                   name ? name : "NULL", (long long)n);
  return add_section(w, "hn_ckpt_add_f32", name, HN_CKPT_F32, x, n * 4, 4);
}

hn_status hn_ckpt_add_i64(hn_ckpt_writer *w, const char *name, const int64_t *x, int64_t n) {
  if (n < 0 || n > HN_CKPT_MAX_BYTES / 8)
    return hn_fail(HN_ERR_ARG, "hn_ckpt_add_i64: section '%s': bad element count %lld",
                   name ? name : "NULL", (long long)n);
  return add_section(w, "hn_ckpt_add_i64", name, HN_CKPT_I64, x, n * 8, 8);
}

hn_status hn_ckpt_add_text(hn_ckpt_writer *w, const char *name, const char *text) {
  if (!text)
    return hn_fail(HN_ERR_ARG, "hn_ckpt_add_text: section '%s': text is NULL",
                   name ? name : "NULL");
  return add_section(w, "hn_ckpt_add_text", name, HN_CKPT_TEXT, text,
                     (int64_t)strlen(text) + 1, 1);
}

/* write(2) until done, honouring the test hook. Returns 0 or -1 with errno. */
static int write_all(int fd, const void *data, uint64_t bytes) {
  const unsigned char *p = data;
  while (bytes > 0) {
    size_t k = bytes > (1u << 30) ? (1u << 30) : (size_t)bytes;
    if (fail_write_after >= 0) {
      if (fail_write_after == 0) {
        errno = ENOSPC;
        return -1;
      }
      if ((int64_t)k > fail_write_after) k = (size_t)fail_write_after;
    }
    ssize_t got = write(fd, p, k);
    if (got < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (got == 0) { /* a regular file that takes nothing is full */
      errno = ENOSPC;
      return -1;
    }
    if (fail_write_after > 0) fail_write_after -= got;
    p += got;
    bytes -= (uint64_t)got;
  }
  return 0;
}

/* The directory part of path ("." if none), in a new buffer. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return dup_str(".");
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *dir = hn_alloc(n + 1);
  if (dir) {
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  return dir;
}

/* fsync a directory, so that a rename in it survives a crash. Returns 0 or
 * -1 with errno; file systems that cannot sync a directory (EINVAL, ENOTSUP)
 * count as success. */
static int sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0 && (err == EINVAL || err == ENOTSUP)) rc = 0;
  errno = err;
  return rc;
}

hn_status hn_ckpt_commit(hn_ckpt_writer *w) {
  if (!w) return hn_fail(HN_ERR_ARG, "hn_ckpt_commit: the writer is NULL");
  if (w->committed)
    return hn_fail(HN_ERR_STATE, "hn_ckpt_commit: '%s' was already committed by this writer",
                   w->path);

  /* Lay out the file and build the header + table image. */
  uint64_t table_end = HN_CKPT_HEADER_BYTES + (uint64_t)w->n * HN_CKPT_ENTRY_BYTES;
  unsigned char *head = hn_calloc((size_t)table_end);
  size_t tmp_cap = strlen(w->path) + 48;
  char *tmp = hn_alloc(tmp_cap);
  char *dir = dir_of(w->path); /* every allocation comes before any file is touched */
  if (!head || !tmp || !dir) {
    hn_free(head);
    hn_free(tmp);
    hn_free(dir);
    return hn_fail(HN_ERR_NOMEM, "hn_ckpt_commit: cannot allocate the header for '%s'", w->path);
  }
  uint64_t cursor = table_end;
  for (int i = 0; i < w->n; i++) {
    unsigned char *e = head + HN_CKPT_HEADER_BYTES + (size_t)i * HN_CKPT_ENTRY_BYTES;
    cursor = align_up(cursor);
    memcpy(e, w->secs[i].name, HN_CKPT_NAME_BYTES);
    put_u32(e + 48, w->secs[i].kind);
    put_u64(e + 52, cursor);
    put_u64(e + 60, w->secs[i].size);
    put_u32(e + 68, w->secs[i].crc);
    cursor += w->secs[i].size;
  }
  uint64_t file_size = cursor;
  memcpy(head, HN_CKPT_MAGIC, 8);
  put_u32(head + 8, HN_CKPT_VERSION);
  put_u32(head + 12, (uint32_t)w->n);
  put_u64(head + 16, file_size);
  put_u32(head + 24, crc_update((uint32_t)crc32(0L, Z_NULL, 0), head, 24));
  uint32_t hcrc = crc_update((uint32_t)crc32(0L, Z_NULL, 0), head, 28);
  hcrc = crc_update(hcrc, head + HN_CKPT_HEADER_BYTES, table_end - HN_CKPT_HEADER_BYTES);
  put_u32(head + 28, hcrc);

  /* A fresh temporary name in the same directory (O_EXCL: never clobber). */
  static _Atomic unsigned counter;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
    snprintf(tmp, tmp_cap, "%s.tmp.%ld.%u", w->path, (long)getpid(), counter++);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    int err = errno;
    hn_status st = hn_fail(HN_ERR_IO,
                           "hn_ckpt_commit: cannot create the temporary file '%s' for '%s': %s "
                           "(is the directory there and writable?)",
                           tmp, w->path, strerror(err));
    hn_free(head);
    hn_free(tmp);
    hn_free(dir);
    return st;
  }

  const char *step = "write";
  int rc = write_all(fd, head, table_end);
  cursor = table_end;
  for (int i = 0; i < w->n && rc == 0; i++) {
    uint64_t off = align_up(cursor);
    if (off > cursor) rc = write_all(fd, zeros, off - cursor);
    if (rc == 0) rc = write_all(fd, w->secs[i].data, w->secs[i].size);
    cursor = off + w->secs[i].size;
  }
  if (rc == 0) {
    step = "fsync";
    rc = fsync(fd);
  }
  int err = errno;
  if (close(fd) != 0 && rc == 0) {
    step = "close";
    rc = -1;
    err = errno;
  }
  if (rc == 0) {
    step = "rename";
    rc = rename(tmp, w->path);
    err = errno;
  }
  if (rc != 0) {
    bool full = err == ENOSPC;
#ifdef EDQUOT
    full = full || err == EDQUOT;
#endif
    hn_status st = hn_fail(HN_ERR_IO, "hn_ckpt_commit: %s of '%s' failed: %s; '%s' is unchanged%s",
                           step, tmp, strerror(err), w->path,
                           full ? " (free disk space first)" : "");
    unlink(tmp);
    hn_free(head);
    hn_free(tmp);
    hn_free(dir);
    return st;
  }
  hn_free(head);
  hn_free(tmp);
  w->committed = true;
  hn_status st = HN_OK;
  if (sync_dir(dir) != 0)
    st = hn_fail(HN_ERR_IO,
                 "hn_ckpt_commit: '%s' was written and renamed, but its directory '%s' could "
                 "not be synced (%s): the new checkpoint may not survive a power loss",
                 w->path, dir, strerror(errno));
  hn_free(dir);
  return st;
}

/* ---- reader -------------------------------------------------------------- */

typedef struct ckpt_ent {
  const char *name; /* into the buffer, NUL-terminated (validated) */
  uint32_t kind;
  uint64_t off, size;
} ckpt_ent;

struct hn_ckpt {
  char *path;
  unsigned char *buf;
  uint64_t size;
  int n;
  ckpt_ent *ents;
};

void hn_ckpt_free(hn_ckpt *c) {
  if (!c) return;
  hn_free(c->ents);
  hn_free(c->buf);
  hn_free(c->path);
  hn_free(c);
}

/* The first bytes of a foreign file, printable, for the message. */
static void show_bytes(char *dst, size_t cap, const unsigned char *p, uint64_t n) {
  size_t k = 0;
  dst[0] = '\0';
  for (uint64_t i = 0; i < n && i < 8 && k + 5 < cap; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\')
      dst[k++] = (char)p[i];
    else
      k += (size_t)snprintf(dst + k, cap - k, "\\x%02x", p[i]);
    dst[k] = '\0';
  }
}

static int cmp_off(const void *a, const void *b) {
  const ckpt_ent *x = *(const ckpt_ent *const *)a, *y = *(const ckpt_ent *const *)b;
  if (x->off != y->off) return x->off < y->off ? -1 : 1;
  return x->size < y->size ? -1 : x->size > y->size;
}

static int cmp_name(const void *a, const void *b) {
  const ckpt_ent *x = *(const ckpt_ent *const *)a, *y = *(const ckpt_ent *const *)b;
  return strcmp(x->name, y->name);
}

#define BAD(...) hn_fail(HN_ERR_FORMAT, __VA_ARGS__)

/* Validate the image buf[0..size) of `path` completely; on success *ents_out
 * holds n parsed entries (owned by the caller). */
static hn_status parse(const char *who, const char *path, const unsigned char *buf, uint64_t size,
                       int *n_out, ckpt_ent **ents_out) {
  const char *fix = "the file is damaged and cannot be read";
  if (size == 0) return BAD("%s: '%s' is empty (0 bytes), not an hnet checkpoint", who, path);
  uint64_t m = size < 8 ? size : 8;
  if (memcmp(buf, HN_CKPT_MAGIC, (size_t)m) != 0) {
    char shown[48];
    show_bytes(shown, sizeof shown, buf, size);
    return BAD("%s: '%s' is not an hnet checkpoint: it starts with \"%s\", expected the magic "
               "\"%s\"", who, path, shown, HN_CKPT_MAGIC);
  }
  if (size < HN_CKPT_HEADER_BYTES)
    return BAD("%s: '%s' is truncated: %llu bytes, shorter than the %d-byte header; %s", who,
               path, (unsigned long long)size, HN_CKPT_HEADER_BYTES, fix);
  /* The header's own CRC before its version: one flipped bit in the version
   * field is damage, not a file from another hnet. Version 1 stored 0 there. */
  uint32_t version = get_u32(buf + 8), own = get_u32(buf + 24);
  if (version == 1) {
    if (own != 0)
      return BAD("%s: '%s' has a corrupt header (byte 24 is %08x in a version 1 file, where it "
                 "is 0); %s", who, path, own, fix);
  } else {
    uint32_t got = crc_update((uint32_t)crc32(0L, Z_NULL, 0), buf, 24);
    if (got != own)
      return BAD("%s: '%s' has a corrupt header (CRC32 of its first 24 bytes %08x, expected "
                 "%08x); %s", who, path, got, own, fix);
    if (version != HN_CKPT_VERSION)
      return BAD("%s: '%s' is checkpoint format version %u (its header is intact); this build "
                 "of hnet reads versions %u to %u (open it with the hnet version that wrote it)",
                 who, path, version, HN_CKPT_VERSION_OLDEST, HN_CKPT_VERSION);
  }
  uint32_t n = get_u32(buf + 12);
  if (n > HN_CKPT_MAX_SECTIONS)
    return BAD("%s: '%s' claims %u sections, more than the limit of %d: the header is corrupt; "
               "%s", who, path, n, HN_CKPT_MAX_SECTIONS, fix);
  uint64_t table_end = HN_CKPT_HEADER_BYTES + (uint64_t)n * HN_CKPT_ENTRY_BYTES;
  if (table_end > size)
    return BAD("%s: '%s' is truncated: %llu bytes, but its table of %u sections ends at byte "
               "%llu; %s", who, path, (unsigned long long)size, n,
               (unsigned long long)table_end, fix);
  uint32_t hcrc = crc_update((uint32_t)crc32(0L, Z_NULL, 0), buf, 28);
  hcrc = crc_update(hcrc, buf + HN_CKPT_HEADER_BYTES, table_end - HN_CKPT_HEADER_BYTES);
  if (hcrc != get_u32(buf + 28))
    return BAD("%s: '%s' has a corrupt header or section table (CRC32 %08x, expected %08x); %s",
               who, path, hcrc, get_u32(buf + 28), fix);
  uint64_t file_size = get_u64(buf + 16);
  if (file_size > size)
    return BAD("%s: '%s' is truncated: %llu bytes, but the header says %llu; %s", who, path,
               (unsigned long long)size, (unsigned long long)file_size, fix);
  if (file_size < size)
    return BAD("%s: '%s' has %llu bytes after the end of the checkpoint (%llu bytes): "
               "something was appended or the file is corrupt", who, path,
               (unsigned long long)(size - file_size), (unsigned long long)file_size);

  ckpt_ent *ents = hn_alloc((size_t)n * sizeof *ents);
  ckpt_ent **order = hn_alloc((size_t)n * sizeof *order);
  if (!ents || !order) {
    hn_free(ents);
    hn_free(order);
    return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate the table of %u sections of '%s'", who, n,
                   path);
  }
  hn_status st = HN_OK;
  for (uint32_t i = 0; i < n && st == HN_OK; i++) {
    const unsigned char *e = buf + HN_CKPT_HEADER_BYTES + (size_t)i * HN_CKPT_ENTRY_BYTES;
    const char *name = (const char *)e;
    size_t len = strnlen(name, HN_CKPT_NAME_BYTES);
    bool pad_ok = len < HN_CKPT_NAME_BYTES;
    for (size_t k = len; k < HN_CKPT_NAME_BYTES && pad_ok; k++) pad_ok = e[k] == 0;
    if (!pad_ok || !name_ok(name)) {
      st = BAD("%s: '%s': section %u has a bad name (not 1..%d printable characters, "
               "NUL-padded); %s", who, path, i, HN_CKPT_NAME_BYTES - 1, fix);
      break;
    }
    ckpt_ent *t = &ents[i];
    t->name = name;
    t->kind = get_u32(e + 48);
    t->off = get_u64(e + 52);
    t->size = get_u64(e + 60);
    if (t->kind > HN_CKPT_TEXT)
      st = BAD("%s: '%s': section '%s' has unknown kind %u; %s", who, path, name, t->kind, fix);
    else if (t->off < table_end || t->off > size || t->size > size - t->off)
      st = BAD("%s: '%s': section '%s' (offset %llu, %llu bytes) lies outside the payload "
               "area, bytes %llu..%llu; %s", who, path, name, (unsigned long long)t->off,
               (unsigned long long)t->size, (unsigned long long)table_end,
               (unsigned long long)size, fix);
    else if (t->off % HN_CKPT_ALIGN)
      st = BAD("%s: '%s': section '%s' has offset %llu, not a multiple of %d; %s", who, path,
               name, (unsigned long long)t->off, HN_CKPT_ALIGN, fix);
    else if ((t->kind == HN_CKPT_F32 && t->size % 4) || (t->kind == HN_CKPT_I64 && t->size % 8))
      st = BAD("%s: '%s': section '%s' of kind %s has %llu bytes, not a whole number of "
               "elements; %s", who, path, name, hn_ckpt_kind_name((int)t->kind),
               (unsigned long long)t->size, fix);
    order[i] = t;
  }
  if (st == HN_OK && n > 1) {
    qsort(order, n, sizeof *order, cmp_name);
    for (uint32_t i = 1; i < n && st == HN_OK; i++)
      if (strcmp(order[i - 1]->name, order[i]->name) == 0)
        st = BAD("%s: '%s' has two sections named '%s'; %s", who, path, order[i]->name, fix);
    qsort(order, n, sizeof *order, cmp_off);
    for (uint32_t i = 1; i < n && st == HN_OK; i++)
      if (order[i]->off < order[i - 1]->off + order[i - 1]->size)
        st = BAD("%s: '%s': sections '%s' and '%s' overlap; %s", who, path, order[i - 1]->name,
                 order[i]->name, fix);
  }
  for (uint32_t i = 0; i < n && st == HN_OK; i++) {
    const ckpt_ent *t = &ents[i];
    const unsigned char *e = buf + HN_CKPT_HEADER_BYTES + (size_t)i * HN_CKPT_ENTRY_BYTES;
    uint32_t want = get_u32(e + 68);
    uint32_t got = crc_update((uint32_t)crc32(0L, Z_NULL, 0), buf + t->off, t->size);
    if (got != want) {
      st = BAD("%s: '%s': section '%s' is corrupt (CRC32 %08x, expected %08x); %s", who, path,
               t->name, got, want, fix);
    } else if (t->kind == HN_CKPT_TEXT) {
      char why_buf[96];
      const char *why = text_problem(buf + t->off, t->size, why_buf, sizeof why_buf);
      if (why) st = BAD("%s: '%s': section '%s': %s; %s", who, path, t->name, why, fix);
    }
  }
  hn_free(order);
  if (st != HN_OK) {
    hn_free(ents);
    return st;
  }
  *n_out = (int)n;
  *ents_out = ents;
  return HN_OK;
}

/* Take ownership of buf (size bytes) and validate it into a reader. */
static hn_status finish_open(hn_ckpt **out, const char *who, const char *path,
                             unsigned char *buf, uint64_t size) {
  hn_ckpt *c = hn_calloc(sizeof *c);
  char *p = dup_str(path);
  if (!c || !p) {
    hn_free(c);
    hn_free(p);
    hn_free(buf);
    return hn_fail(HN_ERR_NOMEM, "%s: cannot allocate a reader for '%s'", who, path);
  }
  c->path = p;
  c->buf = buf;
  c->size = size;
  hn_status st = parse(who, path, buf, size, &c->n, &c->ents);
  if (st != HN_OK) {
    hn_ckpt_free(c);
    return st;
  }
  *out = c;
  return HN_OK;
}

hn_status hn_ckpt_open(hn_ckpt **out, const char *path) {
  if (!out) return hn_fail(HN_ERR_ARG, "hn_ckpt_open: out is NULL");
  if (!path) return hn_fail(HN_ERR_ARG, "hn_ckpt_open: the path is NULL");
  /* O_NONBLOCK: a FIFO must not hang the open (it is refused below); it has
   * no effect on regular files. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return hn_fail(HN_ERR_IO, "hn_ckpt_open: cannot open '%s': %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int err = errno;
    close(fd);
    return hn_fail(HN_ERR_IO, "hn_ckpt_open: cannot stat '%s': %s", path, strerror(err));
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return hn_fail(HN_ERR_IO, "hn_ckpt_open: '%s' is %s, not a checkpoint file", path,
                   S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
  }
  if ((int64_t)sb.st_size > HN_CKPT_MAX_BYTES) {
    close(fd);
    return BAD("hn_ckpt_open: '%s' is %lld bytes, more than the %lld-byte limit for checkpoints "
               "(HN_CKPT_MAX_BYTES): not an hnet checkpoint", path, (long long)sb.st_size,
               (long long)HN_CKPT_MAX_BYTES);
  }
  uint64_t size = (uint64_t)sb.st_size;
  unsigned char *buf = hn_alloc((size_t)size);
  if (!buf) {
    close(fd);
    return hn_fail(HN_ERR_NOMEM, "hn_ckpt_open: cannot allocate %llu bytes to read '%s'",
                   (unsigned long long)size, path);
  }
  uint64_t got = 0;
  while (got < size) {
    size_t k = size - got > (1u << 30) ? (1u << 30) : (size_t)(size - got);
    ssize_t r = read(fd, buf + got, k);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      close(fd);
      hn_free(buf);
      return hn_fail(HN_ERR_IO, "hn_ckpt_open: cannot read '%s': %s", path, strerror(err));
    }
    if (r == 0) break; /* shrank while reading: validation reports the truncation */
    got += (uint64_t)r;
  }
  close(fd);
  return finish_open(out, "hn_ckpt_open", path, buf, got);
}

hn_status hn_ckpt_open_mem(hn_ckpt **out, const void *data, size_t bytes, const char *name) {
  if (!out) return hn_fail(HN_ERR_ARG, "hn_ckpt_open_mem: out is NULL");
  if (!name) name = "(memory)";
  if (bytes > 0 && !data) return hn_fail(HN_ERR_ARG, "hn_ckpt_open_mem: data is NULL");
  if ((uint64_t)bytes > (uint64_t)HN_CKPT_MAX_BYTES)
    return BAD("hn_ckpt_open_mem: '%s' is %llu bytes, more than the %lld-byte checkpoint limit",
               name, (unsigned long long)bytes, (long long)HN_CKPT_MAX_BYTES);
  unsigned char *buf = hn_alloc(bytes);
  if (!buf)
    return hn_fail(HN_ERR_NOMEM, "hn_ckpt_open_mem: cannot allocate %llu bytes for '%s'",
                   (unsigned long long)bytes, name);
  if (bytes) memcpy(buf, data, bytes);
  return finish_open(out, "hn_ckpt_open_mem", name, buf, bytes);
}

const char *hn_ckpt_path(const hn_ckpt *c) { return c ? c->path : NULL; }

int hn_ckpt_n_sections(const hn_ckpt *c) { return c ? c->n : 0; }

const char *hn_ckpt_section_name(const hn_ckpt *c, int i) {
  return c && i >= 0 && i < c->n ? c->ents[i].name : NULL;
}

static const ckpt_ent *lookup(const hn_ckpt *c, const char *name) {
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->ents[i].name, name) == 0) return &c->ents[i];
  return NULL;
}

bool hn_ckpt_has(const hn_ckpt *c, const char *name) {
  return c && name && lookup(c, name) != NULL;
}

/* Find `name` for `who`, requiring `kind` unless kind < 0. */
static hn_status find_kind(const hn_ckpt *c, const char *who, const char *name, int kind,
                           const ckpt_ent **ent) {
  if (!c) return hn_fail(HN_ERR_ARG, "%s: the checkpoint is NULL", who);
  if (!name) return hn_fail(HN_ERR_ARG, "%s: the section name is NULL", who);
  const ckpt_ent *e = lookup(c, name);
  if (!e)
    return BAD("%s: '%s' has no section '%.60s' (it has %d sections; was it written by another "
               "kind of run?)", who, c->path, name, c->n);
  if (kind >= 0 && (int)e->kind != kind)
    return BAD("%s: section '%s' of '%s' holds %s data, not %s", who, name, c->path,
               hn_ckpt_kind_name((int)e->kind), hn_ckpt_kind_name(kind));
  *ent = e;
  return HN_OK;
}

hn_status hn_ckpt_find(const hn_ckpt *c, const char *name, hn_ckpt_kind *kind, const void **data,
                       int64_t *bytes) {
  const ckpt_ent *e;
  HN_TRY(find_kind(c, "hn_ckpt_find", name, -1, &e));
  if (kind) *kind = (hn_ckpt_kind)e->kind;
  if (data) *data = c->buf + e->off;
  if (bytes) *bytes = (int64_t)e->size;
  return HN_OK;
}

static hn_status read_array(const hn_ckpt *c, const char *who, const char *name, int kind,
                            void *dst, int64_t n, size_t width) {
  const ckpt_ent *e;
  if (n < 0 || (n > 0 && !dst))
    return hn_fail(HN_ERR_ARG, "%s: section '%s': bad destination (%lld elements, dst %s)", who,
                   name ? name : "NULL", (long long)n, dst ? "set" : "NULL");
  HN_TRY(find_kind(c, who, name, kind, &e));
  uint64_t have = e->size / width;
  if (have != (uint64_t)n)
    return hn_fail(HN_ERR_SHAPE, "%s: section '%s' of '%s' has %llu elements, the caller "
                   "expects %lld (the checkpoint was written for a different model)",
                   who, name, c->path, (unsigned long long)have, (long long)n);
  if (n) {
    memcpy(dst, c->buf + e->off, (size_t)e->size);
    if (!host_is_le()) swap_elems(dst, (size_t)e->size, width);
  }
  return HN_OK;
}

hn_status hn_ckpt_read_f32(const hn_ckpt *c, const char *name, float *dst, int64_t n) {
  return read_array(c, "hn_ckpt_read_f32", name, HN_CKPT_F32, dst, n, 4);
}

hn_status hn_ckpt_read_i64(const hn_ckpt *c, const char *name, int64_t *dst, int64_t n) {
  return read_array(c, "hn_ckpt_read_i64", name, HN_CKPT_I64, dst, n, 8);
}

hn_status hn_ckpt_read_text(const hn_ckpt *c, const char *name, const char **text, size_t *len) {
  const ckpt_ent *e;
  if (!text) return hn_fail(HN_ERR_ARG, "hn_ckpt_read_text: text is NULL");
  HN_TRY(find_kind(c, "hn_ckpt_read_text", name, HN_CKPT_TEXT, &e));
  *text = (const char *)(c->buf + e->off);
  if (len) *len = (size_t)e->size - 1;
  return HN_OK;
}
