/* fuzz_idx.c — libFuzzer target for the IDX reader (plain and gzip, through
 * hn_idx_read and hn_idx_read_labeled) and the CIFAR-10 batch reader. The
 * readers take paths, so each input is written to a temporary file first.
 *
 * Properties checked beyond "no crash, no sanitizer report": a refusal is
 * HN_ERR_FORMAT (or HN_ERR_SHAPE/ARG for the labeled pair) with a message
 * naming the file and no tensor; an accepted file gives a tensor of 1..4
 * dimensions whose shape product is its size, within max_elems, with finite
 * values, and writing it back as f32 IDX and reading that gives it again bit
 * for bit.
 *
 * Built with -DHN_FUZZ_SEEDS this file is instead a program that writes a
 * small seed corpus into the directory given as its argument (make fuzz). */
#include "../../engine/hn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_MAX_ELEMS ((int64_t)1 << 20)

#ifndef HN_FUZZ_SEEDS

static char in_path[96], out_path[96];

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_idx: property violated: %s (%s)\n", what, hn_errmsg());
    abort();
  }
}

static void check_tensor(const hn_tensor *t) {
  check(t->data != NULL && t->ndim >= 1 && t->ndim <= HN_MAX_DIMS, "tensor rank");
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  check(n == t->numel && n <= FUZZ_MAX_ELEMS, "tensor size");
  for (int64_t i = 0; i < t->numel; i++) check(isfinite(t->data[i]), "finite values");
}

static void write_input(const uint8_t *data, size_t size) {
  FILE *f = fopen(in_path, "wb");
  check(f != NULL, "create the input file");
  check(size == 0 || fwrite(data, 1, size, f) == size, "write the input file");
  check(fclose(f) == 0, "close the input file");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_files(void) {
  unlink(in_path);
  unlink(out_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  atexit(remove_files); /* libFuzzer ends with exit() when its time is up */
  const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(in_path, sizeof in_path, "%s/hnet-fuzz-idx-%ld.in", dir, (long)getpid());
  snprintf(out_path, sizeof out_path, "%s/hnet-fuzz-idx-%ld.out", dir, (long)getpid());
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  write_input(data, size);
  hn_tensor t, l;
  memset(&t, 0, sizeof t);
  hn_status st = hn_idx_read(in_path, &t, FUZZ_MAX_ELEMS);
  if (st != HN_OK) {
    check(st == HN_ERR_FORMAT, "a bad IDX file is a format error");
    check(t.data == NULL, "no tensor on failure");
    check(strstr(hn_errmsg(), in_path) != NULL, "the message names the file");
  } else {
    check_tensor(&t);
    /* round trip through the writer (f32 keeps every value exactly) */
    int gz = size > 0 && (data[size - 1] & 1);
    check(hn_idx_write(out_path, &t, HN_IDX_F32, gz) == HN_OK, "write back as f32");
    hn_tensor u;
    memset(&u, 0, sizeof u);
    check(hn_idx_read(out_path, &u, FUZZ_MAX_ELEMS) == HN_OK, "read back");
    check(u.ndim == t.ndim && u.numel == t.numel, "same shape after a round trip");
    for (int i = 0; i < t.ndim; i++) check(u.shape[i] == t.shape[i], "same dims");
    check(memcmp(u.data, t.data, (size_t)t.numel * sizeof(float)) == 0, "same values");
    hn_tensor_release(&u);
    unlink(out_path);
    hn_tensor_release(&t);
  }

  /* the same file as images and as labels */
  memset(&t, 0, sizeof t);
  memset(&l, 0, sizeof l);
  st = hn_idx_read_labeled(in_path, in_path, FUZZ_MAX_ELEMS, 0, 0, 0, &t, &l);
  if (st == HN_OK) {
    check_tensor(&t);
    check_tensor(&l);
    check(l.ndim == 1 && l.shape[0] == t.shape[0], "one label per image");
    hn_tensor_release(&t);
    hn_tensor_release(&l);
  } else {
    check(t.data == NULL && l.data == NULL, "no tensors on failure");
  }

  memset(&t, 0, sizeof t);
  memset(&l, 0, sizeof l);
  st = hn_cifar10_read(in_path, &t, &l);
  if (st == HN_OK) {
    check(size > 0 && size % 3073 == 0, "a CIFAR batch is whole records");
    check(t.ndim == 4 && t.shape[0] == (int64_t)(size / 3073) && l.numel == t.shape[0],
          "CIFAR shapes");
    for (int64_t i = 0; i < l.numel; i++) check(l.data[i] >= 0 && l.data[i] <= 9, "labels");
    hn_tensor_release(&t);
    hn_tensor_release(&l);
  } else {
    check(st == HN_ERR_FORMAT, "a bad CIFAR batch is a format error");
    check(t.data == NULL && l.data == NULL, "no CIFAR tensors on failure");
  }
  return 0;
}

#else /* HN_FUZZ_SEEDS: write the seed corpus */

static int put(const char *dir, const char *name, const void *bytes, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "seeds_idx: cannot write %s\n", path);
    return 1;
  }
  return 0;
}

static int put_idx(const char *dir, const char *name, int ndim, const int64_t *shape, int type,
                   int gz) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  hn_tensor t;
  if (hn_tensor_init(&t, ndim, shape) != HN_OK) goto fail;
  for (int64_t i = 0; i < t.numel; i++) t.data[i] = type == HN_IDX_U8 ? (float)(i % 10) : 0.5f * (float)i - 1;
  hn_status st = hn_idx_write(path, &t, type, gz);
  hn_tensor_release(&t);
  if (st == HN_OK) return 0;
fail:
  fprintf(stderr, "seeds_idx: %s\n", hn_errmsg());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const char *d = argv[1];
  int bad = 0;
  bad |= put_idx(d, "images-u8.idx", 3, (int64_t[]){3, 4, 4}, HN_IDX_U8, 0);
  bad |= put_idx(d, "images-u8.idx.gz", 3, (int64_t[]){3, 4, 4}, HN_IDX_U8, 1);
  bad |= put_idx(d, "labels-u8.idx", 1, (int64_t[]){7}, HN_IDX_U8, 0);
  bad |= put_idx(d, "values-f32.idx", 2, (int64_t[]){2, 3}, HN_IDX_F32, 0);
  bad |= put_idx(d, "values-f32.idx.gz", 4, (int64_t[]){1, 2, 1, 2}, HN_IDX_F32, 1);
  /* types the writer does not produce, by hand (big-endian as IDX wants) */
  const unsigned char i8[] = {0, 0, 0x09, 1, 0, 0, 0, 3, 0x80, 0x00, 0x7f};
  const unsigned char i16[] = {0, 0, 0x0B, 1, 0, 0, 0, 2, 0xff, 0xfe, 0x01, 0x00};
  const unsigned char i32[] = {0, 0, 0x0C, 2, 0, 0, 0, 1, 0, 0, 0, 2,
                               0x80, 0, 0, 0, 0, 0, 0, 5};
  const unsigned char f64[] = {0, 0, 0x0E, 1, 0, 0, 0, 1,
                               0x3f, 0xf8, 0, 0, 0, 0, 0, 0}; /* 1.5 */
  bad |= put(d, "i8.idx", i8, sizeof i8);
  bad |= put(d, "i16.idx", i16, sizeof i16);
  bad |= put(d, "i32.idx", i32, sizeof i32);
  bad |= put(d, "f64.idx", f64, sizeof f64);
  unsigned char cifar[2 * 3073];
  for (size_t i = 0; i < sizeof cifar; i++) cifar[i] = (unsigned char)(i * 7);
  cifar[0] = 3;
  cifar[3073] = 9;
  bad |= put(d, "cifar-2.bin", cifar, sizeof cifar);
  return bad;
}

#endif
