/* test_idx.c — IDX read/write (plain and gzip), validation, CIFAR-10 batches.
 * Every file is made by the test in a fresh temporary directory. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hnet_test_idx_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state) {
  (void)state;
  return hnt_remove_dir(tmpdir);
}

static const char *tpath(const char *name) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n, int gz) {
  if (gz) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(f), Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
  }
}

static size_t read_bytes(const char *path, unsigned char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* An IDX header: magic 0 0 type ndim, then big-endian dims. Returns its length. */
static size_t idx_header(unsigned char *p, int type, int ndim, const uint32_t *dims) {
  p[0] = 0, p[1] = 0, p[2] = (unsigned char)type, p[3] = (unsigned char)ndim;
  for (int i = 0; i < ndim; i++) {
    p[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
    p[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
    p[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
    p[7 + 4 * i] = (unsigned char)dims[i];
  }
  return 4 + 4 * (size_t)ndim;
}

/* A u8 IDX file [rows, cols] with values (i*7) % 256, `extra` bytes more or
 * fewer (negative) than the header claims. */
static void write_u8_file(const char *path, uint32_t rows, uint32_t cols, int extra, int gz) {
  static unsigned char buf[65536];
  size_t h = idx_header(buf, HN_IDX_U8, 2, (uint32_t[]){rows, cols});
  size_t n = (size_t)rows * cols;
  for (size_t i = 0; i < n + (extra > 0 ? (size_t)extra : 0); i++) buf[h + i] = (unsigned char)(i * 7);
  write_bytes(path, buf, h + n + (size_t)extra, gz);
}

static hn_tensor sentinel(void) {
  hn_tensor t;
  memset(&t, 0x5A, sizeof t);
  return t;
}

/* Read must fail with st, leave out untouched, and name the file and `what`. */
static void expect_refusal(const char *path, hn_status st, const char *what, int64_t max_elems) {
  hn_tensor out = sentinel(), before = out;
  hn_status got = hn_idx_read(path, &out, max_elems);
  if (got != st) fail_msg("%s: status %d, expected %d (%s)", path, got, st, hn_errmsg());
  assert_memory_equal(&out, &before, sizeof out);
  if (!strstr(hn_errmsg(), path)) fail_msg("message lacks the file name: %s", hn_errmsg());
  if (!strstr(hn_errmsg(), what)) fail_msg("message lacks '%s': %s", what, hn_errmsg());
}

static void test_roundtrip(void **state) {
  (void)state;
  hn_tensor t;
  assert_int_equal(hn_tensor_init(&t, 3, (int64_t[]){5, 3, 7}), HN_OK);
  for (int64_t i = 0; i < t.numel; i++) t.data[i] = (float)((i * 37) % 256);
  hn_tensor f;
  assert_int_equal(hn_tensor_init(&f, 2, (int64_t[]){4, 9}), HN_OK);
  hnt_fill_normal(f.data, f.numel, 3.0f, 5);
  f.data[0] = -0.0f, f.data[1] = 1e-30f, f.data[2] = 3.4e38f;
  for (int gz = 0; gz < 2; gz++) {
    const char *pu = tpath(gz ? "u8.idx.gz" : "u8.idx"), *pf = tpath(gz ? "f32.idx.gz" : "f32.idx");
    assert_int_equal(hn_idx_write(pu, &t, HN_IDX_U8, gz), HN_OK);
    assert_int_equal(hn_idx_write(pf, &f, HN_IDX_F32, gz), HN_OK);
    unsigned char head[4];
    assert_int_equal(read_bytes(pu, head, 4), 4);
    if (gz) {
      assert_true(head[0] == 0x1f && head[1] == 0x8b); /* really gzip */
    } else {
      assert_true(head[0] == 0 && head[1] == 0 && head[2] == 0x08 && head[3] == 3);
    }
    hn_tensor r;
    assert_int_equal(hn_idx_read(pu, &r, 0), HN_OK);
    assert_true(hn_tensor_same_shape(&r, &t));
    hnt_assert_bytes_equal(r.data, t.data, (size_t)t.numel * 4, "u8 round trip");
    hn_tensor_release(&r);
    assert_int_equal(hn_idx_read(pf, &r, 0), HN_OK);
    assert_true(hn_tensor_same_shape(&r, &f));
    hnt_assert_bytes_equal(r.data, f.data, (size_t)f.numel * 4, "f32 round trip (bit exact)");
    hn_tensor_release(&r);
  }
  /* No temporary file is left behind. */
  char cmd[400];
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", tmpdir);
  assert_int_not_equal(system(cmd), 0);
  hn_tensor_release(&t);
  hn_tensor_release(&f);
}

static void test_other_types(void **state) {
  (void)state;
  unsigned char buf[256];
  /* i8 */
  size_t h = idx_header(buf, HN_IDX_I8, 1, (uint32_t[]){3});
  buf[h] = 0x80, buf[h + 1] = 0xFF, buf[h + 2] = 0x7F;
  write_bytes(tpath("i8.idx"), buf, h + 3, 0);
  hn_tensor r;
  assert_int_equal(hn_idx_read(tpath("i8.idx"), &r, 0), HN_OK);
  assert_true(r.data[0] == -128.0f && r.data[1] == -1.0f && r.data[2] == 127.0f);
  hn_tensor_release(&r);
  /* i16, big-endian */
  h = idx_header(buf, HN_IDX_I16, 1, (uint32_t[]){2});
  buf[h] = 0x01, buf[h + 1] = 0x02, buf[h + 2] = 0xFF, buf[h + 3] = 0xFE;
  write_bytes(tpath("i16.idx.gz"), buf, h + 4, 1);
  assert_int_equal(hn_idx_read(tpath("i16.idx.gz"), &r, 0), HN_OK);
  assert_true(r.data[0] == 258.0f && r.data[1] == -2.0f);
  hn_tensor_release(&r);
  /* i32 [1, 1, 1, 2] (4-D) */
  h = idx_header(buf, HN_IDX_I32, 4, (uint32_t[]){1, 1, 1, 2});
  memcpy(buf + h, (unsigned char[]){0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xF6}, 8);
  write_bytes(tpath("i32.idx"), buf, h + 8, 0);
  assert_int_equal(hn_idx_read(tpath("i32.idx"), &r, 0), HN_OK);
  assert_int_equal(r.ndim, 4);
  assert_true(r.data[0] == 65536.0f && r.data[1] == -10.0f);
  hn_tensor_release(&r);
  /* f64: 1.5 and -2.25 */
  h = idx_header(buf, HN_IDX_F64, 1, (uint32_t[]){2});
  memcpy(buf + h, (unsigned char[]){0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0xC0, 0x02, 0, 0, 0, 0, 0, 0}, 16);
  write_bytes(tpath("f64.idx"), buf, h + 16, 0);
  assert_int_equal(hn_idx_read(tpath("f64.idx"), &r, 0), HN_OK);
  assert_true(r.data[0] == 1.5f && r.data[1] == -2.25f);
  hn_tensor_release(&r);
  /* a NaN in f32 data is refused */
  h = idx_header(buf, HN_IDX_F32, 1, (uint32_t[]){2});
  memcpy(buf + h, (unsigned char[]){0x3F, 0x80, 0, 0, 0x7F, 0xC0, 0, 0}, 8);
  write_bytes(tpath("nan.idx"), buf, h + 8, 0);
  expect_refusal(tpath("nan.idx"), HN_ERR_FORMAT, "element 1 is not a finite", 0);
  /* A declared type: the i8 file is refused as u8 (the same bytes would be
   * other numbers), read as i8; an unknown declared type is an argument error. */
  hn_tensor out = sentinel(), before = out;
  assert_int_equal(hn_idx_read_typed(tpath("i8.idx"), HN_IDX_U8, &out, 0), HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), tpath("i8.idx")));
  assert_non_null(strstr(hn_errmsg(), "stores i8 values (type code 0x09) where u8 (0x08) are expected"));
  assert_memory_equal(&out, &before, sizeof out);
  assert_int_equal(hn_idx_read_typed(tpath("i8.idx"), HN_IDX_I8, &r, 0), HN_OK);
  assert_true(r.data[0] == -128.0f);
  hn_tensor_release(&r);
  assert_int_equal(hn_idx_read_typed(tpath("i8.idx"), 0x0A, &out, 0), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "0x0a is not an IDX type"));
  assert_memory_equal(&out, &before, sizeof out);
}

static void test_truncated(void **state) {
  (void)state;
  write_u8_file(tpath("trunc.idx"), 10, 20, -5, 0);
  expect_refusal(tpath("trunc.idx"), HN_ERR_FORMAT, "truncated: header claims 200 bytes of data, found 195", 0);
  write_u8_file(tpath("trunc.idx.gz"), 10, 20, -5, 1);
  expect_refusal(tpath("trunc.idx.gz"), HN_ERR_FORMAT, "truncated: header claims 200 bytes of data, found 195", 0);
  /* a header cut short */
  unsigned char buf[8] = {0, 0, 0x08, 3, 0, 0, 0, 1};
  write_bytes(tpath("shorthead.idx"), buf, 8, 0);
  expect_refusal(tpath("shorthead.idx"), HN_ERR_FORMAT, "truncated", 0);
  write_bytes(tpath("empty.idx"), buf, 0, 0);
  expect_refusal(tpath("empty.idx"), HN_ERR_FORMAT, "truncated", 0);
  /* a gzip stream cut in the middle (the compressed file itself truncated) */
  static unsigned char big[40000];
  size_t h = idx_header(big, HN_IDX_U8, 1, (uint32_t[]){30000});
  hn_rng r;
  hn_rng_init(&r, 3, 0);
  for (size_t i = 0; i < 30000; i++) big[h + i] = (unsigned char)hn_rng_next(&r); /* incompressible */
  write_bytes(tpath("cut.idx.gz"), big, h + 30000, 1);
  size_t n = read_bytes(tpath("cut.idx.gz"), big, sizeof big);
  assert_true(n > 20000);
  write_bytes(tpath("cut.idx.gz"), big, n / 2, 0);
  expect_refusal(tpath("cut.idx.gz"), HN_ERR_FORMAT, "truncated", 0);
}

static void test_corrupt_gzip(void **state) {
  (void)state;
  write_u8_file(tpath("bad.idx.gz"), 50, 50, 0, 1);
  unsigned char buf[8192];
  size_t n = read_bytes(tpath("bad.idx.gz"), buf, sizeof buf);
  assert_true(n > 40);
  for (size_t i = n / 2; i < n / 2 + 8; i++) buf[i] ^= 0xA5;
  write_bytes(tpath("bad.idx.gz"), buf, n, 0);
  hn_tensor out = sentinel(), before = out;
  assert_int_equal(hn_idx_read(tpath("bad.idx.gz"), &out, 0), HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), tpath("bad.idx.gz")));
  assert_memory_equal(&out, &before, sizeof out);
  /* A stream whose header itself fails the gzip check (found by fuzz_idx):
   * a format error too, not an I/O error. */
  static const unsigned char header_bad[] = {
      0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x63, 0x60, 0xe0, 0x65,
      0x61, 0x60, 0x60, 0x60, 0x04, 0x62, 0x26, 0x18, 0xbd, 0xbf, 0x81, 0x81, 0x61, 0x32,
      0x3f, 0x03, 0x04, 0xd8, 0x03, 0x31, 0x00, 0xd2, 0x96, 0xa9, 0x83, 0x24, 0x00, 0x00,
      0x00};
  write_bytes(tpath("bad2.idx.gz"), header_bad, sizeof header_bad, 0);
  assert_int_equal(hn_idx_read(tpath("bad2.idx.gz"), &out, 0), HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), "corrupt gzip data"));
  assert_memory_equal(&out, &before, sizeof out);
}

static void test_bad_headers(void **state) {
  (void)state;
  unsigned char buf[64];
  size_t h = idx_header(buf, HN_IDX_U8, 1, (uint32_t[]){4});
  memset(buf + h, 1, 4);
  buf[1] = 0x01; /* wrong magic */
  write_bytes(tpath("magic.idx"), buf, h + 4, 0);
  expect_refusal(tpath("magic.idx"), HN_ERR_FORMAT, "wrong magic", 0);
  write_bytes(tpath("magic.idx.gz"), buf, h + 4, 1);
  expect_refusal(tpath("magic.idx.gz"), HN_ERR_FORMAT, "wrong magic", 0);
  buf[1] = 0;
  buf[2] = 0x0A; /* unknown type code */
  write_bytes(tpath("type.idx"), buf, h + 4, 0);
  expect_refusal(tpath("type.idx"), HN_ERR_FORMAT, "unknown IDX type code 0x0a", 0);
  /* 0 and 5 dimensions */
  h = idx_header(buf, HN_IDX_U8, 0, NULL);
  write_bytes(tpath("dim0.idx"), buf, h + 1, 0);
  expect_refusal(tpath("dim0.idx"), HN_ERR_FORMAT, "0 dimensions", 0);
  h = idx_header(buf, HN_IDX_U8, 5, (uint32_t[]){1, 1, 1, 1, 2});
  memset(buf + h, 3, 2);
  write_bytes(tpath("dim5.idx"), buf, h + 2, 0);
  expect_refusal(tpath("dim5.idx"), HN_ERR_FORMAT, "5 dimensions", 0);
}

static void test_oversized_claim(void **state) {
  (void)state;
  unsigned char buf[64];
  /* 60000 x 60000 x 60000 u8 claimed in a 100-byte file: refused from the
   * header, before any large allocation. */
  size_t h = idx_header(buf, HN_IDX_U8, 3, (uint32_t[]){60000, 60000, 60000});
  memset(buf + h, 0, sizeof buf - h);
  write_bytes(tpath("huge.idx"), buf, sizeof buf, 0);
  int64_t allocs = hn_alloc_count();
  expect_refusal(tpath("huge.idx"), HN_ERR_FORMAT, "more than the limit", 0);
  assert_int_equal(hn_alloc_count(), allocs);
  /* A caller limit below the claim. */
  write_u8_file(tpath("limit.idx"), 10, 10, 0, 0);
  expect_refusal(tpath("limit.idx"), HN_ERR_FORMAT, "more than the limit of 99 elements", 99);
  hn_tensor r;
  assert_int_equal(hn_idx_read(tpath("limit.idx"), &r, 100), HN_OK);
  hn_tensor_release(&r);
  /* Within the limit, but more than a small gzip file can hold. */
  h = idx_header(buf, HN_IDX_U8, 2, (uint32_t[]){30000, 30000});
  write_bytes(tpath("huge.idx.gz"), buf, h + 10, 1);
  allocs = hn_alloc_count();
  expect_refusal(tpath("huge.idx.gz"), HN_ERR_FORMAT, "more than a", 0);
  assert_int_equal(hn_alloc_count(), allocs);
}

static void test_trailing_bytes(void **state) {
  (void)state;
  write_u8_file(tpath("trail.idx"), 4, 5, 3, 0);
  expect_refusal(tpath("trail.idx"), HN_ERR_FORMAT, "3 trailing bytes", 0);
  write_u8_file(tpath("trail.idx.gz"), 4, 5, 3, 1);
  expect_refusal(tpath("trail.idx.gz"), HN_ERR_FORMAT, "3 trailing bytes", 0);
  write_u8_file(tpath("exact.idx.gz"), 4, 5, 0, 1);
  hn_tensor r;
  assert_int_equal(hn_idx_read(tpath("exact.idx.gz"), &r, 0), HN_OK);
  assert_int_equal(r.shape[0], 4);
  assert_int_equal(r.shape[1], 5);
  for (int i = 0; i < 20; i++) assert_true(r.data[i] == (float)((i * 7) % 256));
  hn_tensor_release(&r);
}

static void test_missing_file(void **state) {
  (void)state;
  expect_refusal(tpath("no-such-file.idx"), HN_ERR_IO, "cannot open", 0);
  expect_refusal(tmpdir, HN_ERR_IO, "not a regular file", 0);
  hn_tensor out = sentinel();
  assert_int_equal(hn_idx_read(NULL, &out, 0), HN_ERR_ARG);
  assert_int_equal(hn_idx_read(tpath("x"), &out, -1), HN_ERR_ARG);
}

static void test_labeled_pairs(void **state) {
  (void)state;
  hn_tensor x, y;
  assert_int_equal(hn_tensor_init(&x, 3, (int64_t[]){6, 2, 2}), HN_OK);
  assert_int_equal(hn_tensor_init(&y, 1, (int64_t[]){6}), HN_OK);
  for (int i = 0; i < 6; i++) y.data[i] = (float)(i % 3);
  assert_int_equal(hn_idx_write(tpath("img.gz"), &x, HN_IDX_U8, 1), HN_OK);
  assert_int_equal(hn_idx_write(tpath("lab.gz"), &y, HN_IDX_U8, 1), HN_OK);
  hn_tensor a = sentinel(), b = sentinel(), a0 = a, b0 = b;
  assert_int_equal(hn_idx_read_labeled(tpath("img.gz"), tpath("lab.gz"), 0, 3, HN_IDX_U8, HN_IDX_U8, &a, &b), HN_OK);
  assert_int_equal(a.shape[0], 6);
  assert_int_equal(b.numel, 6);
  assert_true(b.data[5] == 2.0f);
  hn_tensor_release(&a);
  hn_tensor_release(&b);
  /* label out of range for 2 classes */
  a = a0, b = b0;
  assert_int_equal(hn_idx_read_labeled(tpath("img.gz"), tpath("lab.gz"), 0, 2, 0, 0, &a, &b), HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), "label 2 at index 2"));
  assert_non_null(strstr(hn_errmsg(), tpath("lab.gz")));
  assert_memory_equal(&a, &a0, sizeof a);
  assert_memory_equal(&b, &b0, sizeof b);
  /* 5 labels for 6 images */
  hn_tensor y5;
  assert_int_equal(hn_tensor_init(&y5, 1, (int64_t[]){5}), HN_OK);
  assert_int_equal(hn_idx_write(tpath("lab5.gz"), &y5, HN_IDX_U8, 1), HN_OK);
  assert_int_equal(hn_idx_read_labeled(tpath("img.gz"), tpath("lab5.gz"), 0, 10, 0, 0, &a, &b), HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), "label-count mismatch"));
  assert_non_null(strstr(hn_errmsg(), "6 images"));
  assert_non_null(strstr(hn_errmsg(), "5 labels"));
  assert_non_null(strstr(hn_errmsg(), tpath("img.gz")));
  assert_non_null(strstr(hn_errmsg(), tpath("lab5.gz")));
  assert_memory_equal(&a, &a0, sizeof a);
  assert_memory_equal(&b, &b0, sizeof b);
  /* images stored as signed bytes where the data set declares u8: refused,
   * naming both types, outputs untouched (read as any type, they load) */
  unsigned char buf[64];
  size_t h = idx_header(buf, HN_IDX_I8, 3, (uint32_t[]){6, 2, 2});
  for (size_t i = 0; i < 24; i++) buf[h + i] = (unsigned char)(0x80 + i);
  write_bytes(tpath("img_i8.gz"), buf, h + 24, 1);
  assert_int_equal(hn_idx_read_labeled(tpath("img_i8.gz"), tpath("lab.gz"), 0, 3, HN_IDX_U8, HN_IDX_U8, &a, &b),
                   HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), tpath("img_i8.gz")));
  assert_non_null(strstr(hn_errmsg(), "stores i8 values (type code 0x09) where u8 (0x08) are expected"));
  assert_memory_equal(&a, &a0, sizeof a);
  assert_memory_equal(&b, &b0, sizeof b);
  /* the labels' declared type is checked too */
  assert_int_equal(hn_idx_read_labeled(tpath("img.gz"), tpath("lab.gz"), 0, 3, HN_IDX_U8, HN_IDX_I32, &a, &b),
                   HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), tpath("lab.gz")));
  assert_non_null(strstr(hn_errmsg(), "stores u8 values (type code 0x08) where i32 (0x0c) are expected"));
  assert_memory_equal(&a, &a0, sizeof a);
  assert_int_equal(hn_idx_read_labeled(tpath("img_i8.gz"), tpath("lab.gz"), 0, 3, 0, 0, &a, &b), HN_OK);
  assert_true(a.data[0] == -128.0f);
  hn_tensor_release(&a);
  hn_tensor_release(&b);
  a = a0, b = b0;
  /* labels that are not 1-D */
  assert_int_equal(hn_idx_read_labeled(tpath("img.gz"), tpath("img.gz"), 0, 0, 0, 0, &a, &b), HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), "one dimension"));
  hn_tensor_release(&x);
  hn_tensor_release(&y);
  hn_tensor_release(&y5);
}

static void test_write_refusals(void **state) {
  (void)state;
  hn_tensor t;
  assert_int_equal(hn_tensor_init(&t, 1, (int64_t[]){4}), HN_OK);
  t.data[2] = 0.5f;
  assert_int_equal(hn_idx_write(tpath("w.idx"), &t, HN_IDX_U8, 0), HN_ERR_ARG);
  assert_non_null(strstr(hn_errmsg(), "value 0.5 at index 2"));
  assert_int_not_equal(access(tpath("w.idx"), F_OK), 0); /* nothing written */
  t.data[2] = 256.0f;
  assert_int_equal(hn_idx_write(tpath("w.idx"), &t, HN_IDX_U8, 1), HN_ERR_ARG);
  t.data[2] = -1.0f;
  assert_int_equal(hn_idx_write(tpath("w.idx"), &t, HN_IDX_U8, 1), HN_ERR_ARG);
  t.data[2] = NAN;
  assert_int_equal(hn_idx_write(tpath("w.idx"), &t, HN_IDX_U8, 1), HN_ERR_ARG);
  assert_int_equal(hn_idx_write(tpath("w.idx"), &t, HN_IDX_F32, 1), HN_ERR_NUMERIC);
  assert_int_not_equal(access(tpath("w.idx"), F_OK), 0);
  t.data[2] = 3.0f;
  assert_int_equal(hn_idx_write(tpath("w.idx"), &t, HN_IDX_I16, 0), HN_ERR_ARG);
  assert_int_equal(hn_idx_write("/nonexistent-dir/x.idx", &t, HN_IDX_U8, 0), HN_ERR_IO);
  assert_non_null(strstr(hn_errmsg(), "/nonexistent-dir/x.idx"));
  /* An existing file is replaced whole. */
  assert_int_equal(hn_idx_write(tpath("w.idx"), &t, HN_IDX_U8, 0), HN_OK);
  t.data[0] = 9.0f;
  assert_int_equal(hn_idx_write(tpath("w.idx"), &t, HN_IDX_U8, 0), HN_OK);
  hn_tensor r;
  assert_int_equal(hn_idx_read(tpath("w.idx"), &r, 0), HN_OK);
  assert_true(r.data[0] == 9.0f && r.data[2] == 3.0f);
  hn_tensor_release(&r);
  hn_tensor_release(&t);
}

static void write_cifar(const char *path, int n, int extra, int bad_label_at) {
  static unsigned char buf[3073 * 4 + 16];
  for (int i = 0; i < n; i++) {
    buf[i * 3073] = (unsigned char)(i == bad_label_at ? 10 : (i * 3) % 10);
    for (int j = 0; j < 3072; j++) buf[i * 3073 + 1 + j] = (unsigned char)((i + j) % 251);
  }
  memset(buf + n * 3073, 0, (size_t)extra);
  write_bytes(path, buf, (size_t)(n * 3073 + extra), 0);
}

static void test_cifar(void **state) {
  (void)state;
  write_cifar(tpath("c.bin"), 3, 0, -1);
  hn_tensor x = sentinel(), y = sentinel(), x0 = x, y0 = y;
  assert_int_equal(hn_cifar10_read(tpath("c.bin"), &x, &y), HN_OK);
  assert_int_equal(x.ndim, 4);
  assert_true(x.shape[0] == 3 && x.shape[1] == 3 && x.shape[2] == 32 && x.shape[3] == 32);
  assert_int_equal(y.numel, 3);
  assert_true(y.data[0] == 0.0f && y.data[1] == 3.0f && y.data[2] == 6.0f);
  assert_true(x.data[1 * 3072 + 1024 + 5] == (float)((1 + 1024 + 5) % 251));
  hn_tensor_release(&x);
  hn_tensor_release(&y);
  x = x0, y = y0;
  write_cifar(tpath("c5.bin"), 2, 5, -1);
  assert_int_equal(hn_cifar10_read(tpath("c5.bin"), &x, &y), HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), tpath("c5.bin")));
  assert_non_null(strstr(hn_errmsg(), "6151 bytes is not a positive multiple of the 3073-byte"));
  write_cifar(tpath("c0.bin"), 0, 0, -1);
  assert_int_equal(hn_cifar10_read(tpath("c0.bin"), &x, &y), HN_ERR_FORMAT);
  write_cifar(tpath("cl.bin"), 3, 0, 1);
  assert_int_equal(hn_cifar10_read(tpath("cl.bin"), &x, &y), HN_ERR_FORMAT);
  assert_non_null(strstr(hn_errmsg(), "record 1 has label 10"));
  assert_int_equal(hn_cifar10_read(tpath("none.bin"), &x, &y), HN_ERR_IO);
  assert_non_null(strstr(hn_errmsg(), tpath("none.bin")));
  assert_memory_equal(&x, &x0, sizeof x);
  assert_memory_equal(&y, &y0, sizeof y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_other_types),
      cmocka_unit_test(test_truncated),       cmocka_unit_test(test_corrupt_gzip),
      cmocka_unit_test(test_bad_headers),     cmocka_unit_test(test_oversized_claim),
      cmocka_unit_test(test_trailing_bytes),  cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_labeled_pairs),   cmocka_unit_test(test_write_refusals),
      cmocka_unit_test(test_cifar),
  };
  return cmocka_run_group_tests_name("idx", tests, setup_dir, remove_dir);
}
