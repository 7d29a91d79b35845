/* idx.c — IDX files (plain or gzip) and CIFAR-10 binary batches.
 *
 * Reading goes through zlib's gzopen/gzread, which read plain files as they
 * are, so one path serves both. The header is validated in full before the
 * data buffer is allocated: the claimed size is bounded by the caller's limit
 * and by what the file can hold (exactly its length for a plain file, at most
 * 1032 bytes per compressed byte for gzip: deflate's maximum ratio). The data
 * is then converted chunk by chunk into the float tensor; a short read is a
 * truncation, bytes left after the data are an error, and outputs are written
 * only when everything succeeded. */
#include "idx.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_CHUNK 65536 /* bytes per read; a multiple of every element size */
#define DEFLATE_MAX_RATIO 1032

static int idx_elem_size(int type) {
  switch (type) {
    case HN_IDX_U8: case HN_IDX_I8: return 1;
    case HN_IDX_I16: return 2;
    case HN_IDX_I32: case HN_IDX_F32: return 4;
    case HN_IDX_F64: return 8;
    default: return 0;
  }
}

static const char *idx_type_name(int type) {
  switch (type) {
    case HN_IDX_U8: return "u8";
    case HN_IDX_I8: return "i8";
    case HN_IDX_I16: return "i16";
    case HN_IDX_I32: return "i32";
    case HN_IDX_F32: return "f32";
    case HN_IDX_F64: return "f64";
    default: return "?";
  }
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* Read up to n bytes (gzread may return fewer than asked before the end).
 * Returns the count read, -1 on a system read error, or -2 when the gzip
 * stream itself is corrupt (message in *err in both cases). */
static int64_t gz_read_full(gzFile f, unsigned char *buf, int64_t n, const char **err) {
  int64_t got = 0;
  while (got < n) {
    int64_t want = HN_MIN(n - got, (int64_t)IDX_CHUNK);
    int r = gzread(f, buf + got, (unsigned)want);
    if (r < 0) {
      int code;
      const char *m = gzerror(f, &code);
      *err = code == Z_ERRNO ? strerror(errno) : m;
      return code == Z_ERRNO ? -1 : -2;
    }
    if (r == 0) {
      /* zlib reports a cut gzip stream as Z_BUF_ERROR: that is truncation, not
       * a read error, and the caller reports it with the counts. */
      int code;
      const char *m = gzerror(f, &code);
      if (code != Z_OK && code != Z_BUF_ERROR) {
        *err = code == Z_ERRNO ? strerror(errno) : m;
        return code == Z_ERRNO ? -1 : -2;
      }
      break;
    }
    got += r;
  }
  return got;
}

/* Decode n elements of `type` from big-endian bytes into floats. Returns the
 * index of the first non-finite value, or -1 if all are finite. */
static int64_t idx_decode(int type, const unsigned char *p, int64_t n, float *out) {
  int64_t bad = -1;
  for (int64_t i = 0; i < n; i++) {
    float v;
    switch (type) {
      case HN_IDX_U8: v = (float)p[i]; break;
      case HN_IDX_I8: v = (float)(int8_t)p[i]; break;
      case HN_IDX_I16: v = (float)(int16_t)(uint16_t)(p[2 * i] << 8 | p[2 * i + 1]); break;
      case HN_IDX_I32: v = (float)(int32_t)be32(p + 4 * i); break;
      case HN_IDX_F32: {
        uint32_t u = be32(p + 4 * i);
        memcpy(&v, &u, 4);
        break;
      }
      default: { /* HN_IDX_F64 */
        uint64_t u = be64(p + 8 * i);
        double d;
        memcpy(&d, &u, 8);
        v = (float)d;
        break;
      }
    }
    if (bad < 0 && !isfinite(v)) bad = i;
    out[i] = v;
  }
  return bad;
}

hn_status hn_idx_read(const char *path, hn_tensor *out, int64_t max_elems) {
  return hn_idx_read_typed(path, 0, out, max_elems);
}

hn_status hn_idx_read_typed(const char *path, int want_type, hn_tensor *out, int64_t max_elems) {
  if (!path || !out) return hn_fail(HN_ERR_ARG, "hn_idx_read: NULL argument");
  if (want_type != 0 && !idx_elem_size(want_type))
    return hn_fail(HN_ERR_ARG, "hn_idx_read: file %s: expected type code 0x%02x is not an IDX type (known: 0x08 u8, "
                   "0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64; 0 for any)", path, want_type);
  if (max_elems < 0)
    return hn_fail(HN_ERR_ARG, "hn_idx_read: file %s: max_elems is %lld (use 0 for the default)",
                   path, (long long)max_elems);
  if (max_elems == 0) max_elems = (int64_t)1 << 31;

  struct stat sb;
  if (stat(path, &sb) != 0)
    return hn_fail(HN_ERR_IO, "hn_idx_read: file %s: cannot open: %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return hn_fail(HN_ERR_IO, "hn_idx_read: file %s: not a regular file", path);
  gzFile f = gzopen(path, "rb");
  if (!f)
    return hn_fail(HN_ERR_IO, "hn_idx_read: file %s: cannot open: %s", path,
                   errno ? strerror(errno) : "out of memory");
  gzbuffer(f, 1 << 17);

  hn_status st = HN_OK;
  hn_tensor t;
  memset(&t, 0, sizeof t);
  unsigned char head[4 + 4 * 255];
  const char *err = NULL;
  unsigned char *buf = NULL;

  int64_t got = gz_read_full(f, head, 4, &err);
  if (got < 0) {
    st = hn_fail(got == -1 ? HN_ERR_IO : HN_ERR_FORMAT, "hn_idx_read: file %s: %s: %s", path,
                 got == -1 ? "read error" : "corrupt gzip data", err);
    goto done;
  }
  if (got < 4) {
    st = hn_fail(HN_ERR_FORMAT, "hn_idx_read: file %s: truncated: %lld bytes, shorter than the 4-byte IDX magic",
                 path, (long long)got);
    goto done;
  }
  if (head[0] != 0 || head[1] != 0) {
    st = hn_fail(HN_ERR_FORMAT,
                 "hn_idx_read: file %s: wrong magic %02x %02x %02x %02x: not an IDX file "
                 "(IDX starts with two zero bytes, a type code and a dimension count)",
                 path, head[0], head[1], head[2], head[3]);
    goto done;
  }
  int type = head[2], ndim = head[3];
  int esize = idx_elem_size(type);
  if (!esize) {
    st = hn_fail(HN_ERR_FORMAT,
                 "hn_idx_read: file %s: unknown IDX type code 0x%02x (known: 0x08 u8, 0x09 i8, "
                 "0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64)", path, type);
    goto done;
  }
  /* The same bytes mean other numbers under another type (0x09: signed
   * bytes), so a file that does not store what its reader declares is
   * refused rather than converted. */
  if (want_type != 0 && type != want_type) {
    st = hn_fail(HN_ERR_FORMAT,
                 "hn_idx_read: file %s: stores %s values (type code 0x%02x) where %s (0x%02x) are expected: "
                 "not the file this data set declares (replace it, or declare its type)",
                 path, idx_type_name(type), type, idx_type_name(want_type), want_type);
    goto done;
  }
  if (ndim < 1 || ndim > HN_MAX_DIMS) {
    st = hn_fail(HN_ERR_FORMAT, "hn_idx_read: file %s: %d dimensions; hnet reads 1 to %d",
                 path, ndim, HN_MAX_DIMS);
    goto done;
  }
  got = gz_read_full(f, head + 4, 4 * ndim, &err);
  if (got < 0) {
    st = hn_fail(got == -1 ? HN_ERR_IO : HN_ERR_FORMAT, "hn_idx_read: file %s: %s: %s", path,
                 got == -1 ? "read error" : "corrupt gzip data", err);
    goto done;
  }
  if (got < 4 * ndim) {
    st = hn_fail(HN_ERR_FORMAT, "hn_idx_read: file %s: truncated: the header needs %d bytes of sizes, found %lld",
                 path, 4 * ndim, (long long)got);
    goto done;
  }
  int64_t shape[HN_MAX_DIMS];
  int64_t numel = 1;
  bool over = false;
  for (int i = 0; i < ndim; i++) {
    shape[i] = (int64_t)be32(head + 4 + 4 * i);
    if (shape[i] != 0 && numel > max_elems / shape[i]) over = true; /* also guards overflow */
    else numel *= shape[i];
  }
  if (over || numel > max_elems) {
    st = hn_fail(HN_ERR_FORMAT,
                 "hn_idx_read: file %s: header claims shape %s, more than the limit of %lld elements "
                 "(corrupt header, or raise max_elems)",
                 path, hn_shape_fmt(ndim, shape).s, (long long)max_elems);
    goto done;
  }
  int64_t header = 4 + 4 * (int64_t)ndim;
  int64_t need = numel * esize;
  /* What the file can hold, known before allocating anything large. */
  int64_t fsize = (int64_t)sb.st_size;
  int direct = gzdirect(f);
  if (direct) {
    if (fsize - header < need) {
      st = hn_fail(HN_ERR_FORMAT, "hn_idx_read: file %s: truncated: header claims %lld bytes of data, found %lld",
                   path, (long long)need, (long long)(fsize - header));
      goto done;
    }
    if (fsize - header > need) {
      st = hn_fail(HN_ERR_FORMAT,
                   "hn_idx_read: file %s: %lld trailing bytes after the %lld bytes of data the header "
                   "claims (shape %s, %s)", path, (long long)(fsize - header - need),
                   (long long)need, hn_shape_fmt(ndim, shape).s, idx_type_name(type));
      goto done;
    }
  } else if (fsize < INT64_MAX / DEFLATE_MAX_RATIO && need > fsize * DEFLATE_MAX_RATIO) {
    st = hn_fail(HN_ERR_FORMAT,
                 "hn_idx_read: file %s: truncated or corrupt: header claims %lld bytes of data, "
                 "more than a %lld-byte gzip file can hold", path, (long long)need, (long long)fsize);
    goto done;
  }

  st = hn_tensor_init(&t, ndim, shape);
  if (st != HN_OK) {
    st = hn_fail(st, "hn_idx_read: file %s: cannot allocate %s (%lld bytes)", path,
                 hn_shape_fmt(ndim, shape).s, (long long)numel * 4);
    goto done;
  }
  buf = hn_alloc(IDX_CHUNK);
  if (!buf) { st = hn_fail(HN_ERR_NOMEM, "hn_idx_read: file %s: cannot allocate a read buffer", path); goto done; }
  int64_t done_bytes = 0;
  while (done_bytes < need) {
    int64_t want = HN_MIN(need - done_bytes, (int64_t)IDX_CHUNK);
    got = gz_read_full(f, buf, want, &err);
    if (got < 0) {
      st = hn_fail(HN_ERR_FORMAT, "hn_idx_read: file %s: corrupt data after %lld bytes: %s", path,
                   (long long)(header + done_bytes), err);
      goto done;
    }
    if (got < want) {
      st = hn_fail(HN_ERR_FORMAT, "hn_idx_read: file %s: truncated: header claims %lld bytes of data, found %lld",
                   path, (long long)need, (long long)(done_bytes + got));
      goto done;
    }
    int64_t e0 = done_bytes / esize;
    int64_t bad = idx_decode(type, buf, want / esize, t.data + e0);
    if (bad >= 0) {
      st = hn_fail(HN_ERR_FORMAT, "hn_idx_read: file %s: element %lld is not a finite number (NaN or Inf)",
                   path, (long long)(e0 + bad));
      goto done;
    }
    done_bytes += want;
  }
  /* Anything after the data is an error: a foreign or mis-sized file. */
  int64_t trailing = 0;
  for (;;) {
    got = gz_read_full(f, buf, IDX_CHUNK, &err);
    if (got < 0) {
      st = hn_fail(HN_ERR_FORMAT, "hn_idx_read: file %s: corrupt data after the %lld bytes of data: %s",
                   path, (long long)need, err);
      goto done;
    }
    trailing += got;
    if (got < IDX_CHUNK) break;
  }
  if (trailing > 0) {
    st = hn_fail(HN_ERR_FORMAT,
                 "hn_idx_read: file %s: %lld trailing bytes after the %lld bytes of data the header "
                 "claims (shape %s, %s)", path, (long long)trailing, (long long)need,
                 hn_shape_fmt(ndim, shape).s, idx_type_name(type));
    goto done;
  }

done:
  hn_free(buf);
  gzclose(f);
  if (st != HN_OK) {
    hn_tensor_release(&t);
    return st;
  }
  *out = t;
  return HN_OK;
}

hn_status hn_idx_read_labeled(const char *images_path, const char *labels_path,
                              int64_t max_elems, int n_classes, int images_type, int labels_type,
                              hn_tensor *images, hn_tensor *labels) {
  if (!images_path || !labels_path || !images || !labels)
    return hn_fail(HN_ERR_ARG, "hn_idx_read_labeled: NULL argument");
  if (n_classes < 0)
    return hn_fail(HN_ERR_ARG, "hn_idx_read_labeled: n_classes is %d (use 0 for no range check)", n_classes);
  hn_tensor x, y;
  HN_TRY(hn_idx_read_typed(images_path, images_type, &x, max_elems));
  hn_status st = hn_idx_read_typed(labels_path, labels_type, &y, max_elems);
  if (st != HN_OK) {
    hn_tensor_release(&x);
    return st;
  }
  if (y.ndim != 1) {
    st = hn_fail(HN_ERR_FORMAT, "hn_idx_read_labeled: file %s: labels have shape %s; expected one dimension",
                 labels_path, hn_tensor_str(&y));
  } else if (x.shape[0] != y.shape[0]) {
    st = hn_fail(HN_ERR_FORMAT,
                 "hn_idx_read_labeled: label-count mismatch: file %s holds %lld images, file %s holds "
                 "%lld labels", images_path, (long long)x.shape[0], labels_path, (long long)y.shape[0]);
  } else {
    for (int64_t i = 0; i < y.numel; i++) {
      float v = y.data[i];
      if (v != floorf(v) || v < 0 || (n_classes > 0 && v >= (float)n_classes)) {
        st = hn_fail(HN_ERR_FORMAT, "hn_idx_read_labeled: file %s: label %g at index %lld is not a class in 0..%d",
                     labels_path, (double)v, (long long)i, n_classes - 1);
        break;
      }
    }
  }
  if (st != HN_OK) {
    hn_tensor_release(&x);
    hn_tensor_release(&y);
    return st;
  }
  *images = x;
  *labels = y;
  return HN_OK;
}

/* ---- writing ------------------------------------------------------------ */

hn_status hn_idx_write(const char *path, const hn_tensor *t, int type, int gz) {
  if (!path || !t || (!t->data && t->numel > 0))
    return hn_fail(HN_ERR_ARG, "hn_idx_write: NULL argument");
  if (type != HN_IDX_U8 && type != HN_IDX_F32)
    return hn_fail(HN_ERR_ARG, "hn_idx_write: file %s: type code 0x%02x; writing supports u8 (0x08) and f32 (0x0d)",
                   path, type);
  if (t->ndim < 1 || t->ndim > HN_MAX_DIMS)
    return hn_fail(HN_ERR_SHAPE, "hn_idx_write: file %s: tensor has %d dimensions", path, t->ndim);
  for (int i = 0; i < t->ndim; i++)
    if (t->shape[i] > (int64_t)UINT32_MAX)
      return hn_fail(HN_ERR_SHAPE, "hn_idx_write: file %s: dimension %d of %s does not fit IDX's 32-bit sizes",
                     path, i, hn_tensor_str(t));
  /* Check every value before touching the disk. */
  for (int64_t i = 0; i < t->numel; i++) {
    float v = t->data[i];
    if (type == HN_IDX_U8 && !(v >= 0.0f && v <= 255.0f && v == floorf(v)))
      return hn_fail(HN_ERR_ARG,
                     "hn_idx_write: file %s: value %g at index %lld is not an integer in 0..255; "
                     "u8 stores raw bytes (scale and round first, or write f32)", path, (double)v,
                     (long long)i);
    if (type == HN_IDX_F32 && !isfinite(v))
      return hn_fail(HN_ERR_NUMERIC, "hn_idx_write: file %s: value at index %lld is not finite", path,
                     (long long)i);
  }
  size_t plen = strlen(path);
  char tmp[4096];
  if (plen + 32 > sizeof tmp)
    return hn_fail(HN_ERR_ARG, "hn_idx_write: path too long (%zu bytes)", plen);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());

  gzFile f = gzopen(tmp, gz ? "wb6" : "wbT");
  if (!f)
    return hn_fail(HN_ERR_IO, "hn_idx_write: file %s: cannot create %s: %s", path, tmp,
                   errno ? strerror(errno) : "out of memory");
  hn_status st = HN_OK;
  unsigned char head[4 + 4 * HN_MAX_DIMS];
  head[0] = head[1] = 0;
  head[2] = (unsigned char)type;
  head[3] = (unsigned char)t->ndim;
  for (int i = 0; i < t->ndim; i++) put_be32(head + 4 + 4 * i, (uint32_t)t->shape[i]);
  int hlen = 4 + 4 * t->ndim;
  if (gzwrite(f, head, (unsigned)hlen) != hlen) st = HN_ERR_IO;
  unsigned char buf[8192];
  int esize = type == HN_IDX_U8 ? 1 : 4;
  int64_t per = (int64_t)sizeof buf / esize;
  for (int64_t i0 = 0; st == HN_OK && i0 < t->numel; i0 += per) {
    int64_t n = HN_MIN(per, t->numel - i0);
    for (int64_t i = 0; i < n; i++) {
      float v = t->data[i0 + i];
      if (type == HN_IDX_U8) {
        buf[i] = (unsigned char)v;
      } else {
        uint32_t u;
        memcpy(&u, &v, 4);
        put_be32(buf + 4 * i, u);
      }
    }
    int len = (int)(n * esize);
    if (gzwrite(f, buf, (unsigned)len) != len) st = HN_ERR_IO;
  }
  const char *why = NULL;
  if (st != HN_OK) {
    int code;
    why = gzerror(f, &code);
    if (code == Z_ERRNO) why = strerror(errno);
  }
  int rc = gzclose(f);
  if (st == HN_OK && rc != Z_OK) {
    st = HN_ERR_IO;
    why = rc == Z_ERRNO ? strerror(errno) : "gzip close failed";
  }
  if (st == HN_OK && rename(tmp, path) != 0) {
    st = HN_ERR_IO;
    why = strerror(errno);
  }
  if (st != HN_OK) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s", why ? why : "write failed");
    remove(tmp);
    return hn_fail(HN_ERR_IO, "hn_idx_write: file %s: cannot write: %s", path, msg);
  }
  return HN_OK;
}

/* ---- CIFAR-10 ----------------------------------------------------------- */

#define CIFAR_REC 3073

hn_status hn_cifar10_read(const char *path, hn_tensor *images, hn_tensor *labels) {
  if (!path || !images || !labels) return hn_fail(HN_ERR_ARG, "hn_cifar10_read: NULL argument");
  FILE *f = fopen(path, "rb");
  if (!f) return hn_fail(HN_ERR_IO, "hn_cifar10_read: file %s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return hn_fail(HN_ERR_IO, "hn_cifar10_read: file %s: not a regular file", path);
  }
  int64_t size = (int64_t)sb.st_size;
  if (size == 0 || size % CIFAR_REC != 0) {
    fclose(f);
    return hn_fail(HN_ERR_FORMAT,
                   "hn_cifar10_read: file %s: %lld bytes is not a positive multiple of the 3073-byte "
                   "CIFAR-10 record (1 label byte + 3x32x32 pixels): truncated or not a CIFAR-10 binary batch",
                   path, (long long)size);
  }
  int64_t n = size / CIFAR_REC;
  hn_tensor x, y;
  hn_status st = hn_tensor_init(&x, 4, (int64_t[]){n, 3, 32, 32});
  if (st != HN_OK) {
    fclose(f);
    return st;
  }
  st = hn_tensor_init(&y, 1, &n);
  if (st != HN_OK) {
    hn_tensor_release(&x);
    fclose(f);
    return st;
  }
  unsigned char rec[CIFAR_REC];
  for (int64_t i = 0; i < n && st == HN_OK; i++) {
    if (fread(rec, 1, CIFAR_REC, f) != CIFAR_REC) {
      st = hn_fail(HN_ERR_IO, "hn_cifar10_read: file %s: read error in record %lld: %s", path,
                   (long long)i, ferror(f) ? strerror(errno) : "file shrank while reading");
      break;
    }
    if (rec[0] > 9) {
      st = hn_fail(HN_ERR_FORMAT, "hn_cifar10_read: file %s: record %lld has label %d; CIFAR-10 labels are 0..9",
                   path, (long long)i, rec[0]);
      break;
    }
    y.data[i] = (float)rec[0];
    float *dst = x.data + i * 3072;
    for (int j = 0; j < 3072; j++) dst[j] = (float)rec[1 + j];
  }
  fclose(f);
  if (st != HN_OK) {
    hn_tensor_release(&x);
    hn_tensor_release(&y);
    return st;
  }
  *images = x;
  *labels = y;
  return HN_OK;
}
