/* fuzz_ckpt.c — libFuzzer target for the checkpoint reader (hn_ckpt_open_mem,
 * which shares every check with hn_ckpt_open).
 *
 * Property checked beyond "no crash, no sanitizer report": an input that
 * opens is a consistent checkpoint, so every section can be looked up and
 * read with its own kind and size, and writing those sections again with
 * hn_ckpt_writer and reopening gives the same sections, bit for bit.
 *
 * Built with -DHN_FUZZ_SEEDS this file is instead a program that writes a
 * small seed corpus into the directory given as its argument (make fuzz). */
#include "../../engine/hn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#ifndef HN_FUZZ_SEEDS

static char tmp_path[64];

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_ckpt: property violated: %s (%s)\n", what, hn_errmsg());
    abort();
  }
}

/* Read every section through the typed readers. */
static void read_all(const hn_ckpt *c) {
  for (int i = 0; i < hn_ckpt_n_sections(c); i++) {
    const char *name = hn_ckpt_section_name(c, i);
    check(name != NULL, "section name");
    hn_ckpt_kind kind;
    const void *data;
    int64_t bytes;
    check(hn_ckpt_find(c, name, &kind, &data, &bytes) == HN_OK, "find a listed section");
    if (kind == HN_CKPT_F32) {
      float *x = malloc((size_t)bytes + 1);
      check(hn_ckpt_read_f32(c, name, x, bytes / 4) == HN_OK, "read_f32");
      check(bytes == 0 || memcmp(x, data, (size_t)bytes) == 0, "read_f32 copy");
      check(hn_ckpt_read_f32(c, name, x, bytes / 4 + 1) == HN_ERR_SHAPE, "read_f32 size check");
      free(x);
    } else if (kind == HN_CKPT_I64) {
      int64_t *x = malloc((size_t)bytes + 1);
      check(hn_ckpt_read_i64(c, name, x, bytes / 8) == HN_OK, "read_i64");
      check(bytes == 0 || memcmp(x, data, (size_t)bytes) == 0, "read_i64 copy");
      free(x);
    } else if (kind == HN_CKPT_TEXT) {
      const char *text;
      size_t len;
      check(hn_ckpt_read_text(c, name, &text, &len) == HN_OK, "read_text");
      check(strlen(text) == len && (int64_t)len + 1 == bytes, "text length");
    }
  }
}

/* Write the sections again, reopen, compare. */
static void rewrite_and_compare(const hn_ckpt *c) {
  hn_ckpt_writer *w;
  check(hn_ckpt_writer_new(&w, tmp_path) == HN_OK, "writer_new");
  for (int i = 0; i < hn_ckpt_n_sections(c); i++) {
    const char *name = hn_ckpt_section_name(c, i);
    hn_ckpt_kind kind;
    const void *data;
    int64_t bytes;
    check(hn_ckpt_find(c, name, &kind, &data, &bytes) == HN_OK, "find");
    check(hn_ckpt_add(w, name, kind, data, bytes) == HN_OK, "a valid section is accepted");
  }
  check(hn_ckpt_commit(w) == HN_OK, "commit");
  hn_ckpt_writer_free(w);
  hn_ckpt *d;
  check(hn_ckpt_open(&d, tmp_path) == HN_OK, "reopen what was written");
  check(hn_ckpt_n_sections(d) == hn_ckpt_n_sections(c), "section count");
  for (int i = 0; i < hn_ckpt_n_sections(c); i++) {
    const char *name = hn_ckpt_section_name(c, i);
    check(strcmp(name, hn_ckpt_section_name(d, i)) == 0, "section order");
    hn_ckpt_kind k1, k2;
    const void *p1, *p2;
    int64_t n1, n2;
    check(hn_ckpt_find(c, name, &k1, &p1, &n1) == HN_OK, "find");
    check(hn_ckpt_find(d, name, &k2, &p2, &n2) == HN_OK, "find again");
    check(k1 == k2 && n1 == n2 && (n1 == 0 || memcmp(p1, p2, (size_t)n1) == 0), "same section");
  }
  hn_ckpt_free(d);
  unlink(tmp_path);
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The CRCs are a wall a mutator cannot climb: recompute every section CRC
 * whose payload lies in the image, then the header CRC, so that mutations
 * of the table reach the structural checks behind them. Returns false when
 * the image is too short to have a table. */
static bool fix_crcs(uint8_t *b, size_t size) {
  if (size < HN_CKPT_HEADER_BYTES) return false;
  uint64_t n = rd32(b + 12);
  if (n > HN_CKPT_MAX_SECTIONS || HN_CKPT_HEADER_BYTES + n * HN_CKPT_ENTRY_BYTES > size)
    return false;
  for (uint64_t i = 0; i < n; i++) {
    uint8_t *e = b + HN_CKPT_HEADER_BYTES + i * HN_CKPT_ENTRY_BYTES;
    uint64_t off = rd64(e + 52), len = rd64(e + 60);
    if (off <= size && len <= size - off)
      wr32(e + 68, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b + off, (uInt)len));
  }
  if (rd32(b + 8) != 1) /* version 2 on: the fixed header's own CRC */
    wr32(b + 24, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 24));
  uLong c = crc32(crc32(0L, Z_NULL, 0), b, 28);
  c = crc32(c, b + HN_CKPT_HEADER_BYTES, (uInt)(n * HN_CKPT_ENTRY_BYTES));
  wr32(b + 28, (uint32_t)c);
  return true;
}

/* Open one image: a refusal must be a clean format error; an accepted image
 * must satisfy the properties above. */
static void one(const uint8_t *data, size_t size) {
  hn_ckpt *c = NULL;
  hn_status st = hn_ckpt_open_mem(&c, data, size, "fuzz");
  if (st != HN_OK) {
    check(st == HN_ERR_FORMAT, "a bad image is a format error");
    check(c == NULL, "no reader on failure");
    check(strstr(hn_errmsg(), "'fuzz'") != NULL, "the message names the file");
    return;
  }
  read_all(c);
  check(hn_ckpt_find(c, "no such section, surely", NULL, NULL, NULL) == HN_ERR_FORMAT,
        "missing section");
  rewrite_and_compare(c);
  hn_ckpt_free(c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_file(void) { unlink(tmp_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  atexit(remove_file); /* libFuzzer ends with exit() when its time is up */
  snprintf(tmp_path, sizeof tmp_path, "/tmp/hnet-fuzz-ckpt-%ld.ckpt", (long)getpid());
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size); /* as it is: the CRC checks themselves */
  uint8_t *copy = malloc(size + 1);
  check(copy != NULL, "malloc");
  if (size) memcpy(copy, data, size);
  if (fix_crcs(copy, size)) one(copy, size); /* with consistent CRCs: everything behind them */
  free(copy);
  return 0;
}

#else /* HN_FUZZ_SEEDS: write the seed corpus */

static int seed(const char *dir, const char *name, int variant) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  hn_ckpt_writer *w;
  if (hn_ckpt_writer_new(&w, path) != HN_OK) goto fail;
  float x[37];
  int64_t steps[3] = {1, -2, INT64_MAX};
  for (int i = 0; i < 37; i++) x[i] = (float)i * 0.25f - 3.0f;
  hn_status st = HN_OK;
  if (variant >= 1) st = hn_ckpt_add_f32(w, "theta", x, 37);
  if (st == HN_OK && variant >= 2) st = hn_ckpt_add_i64(w, "optim.step", steps, 3);
  if (st == HN_OK && variant >= 2) st = hn_ckpt_add_text(w, "config", "{\"beta\": 0.01, \"é\": 1}");
  if (st == HN_OK && variant >= 3) st = hn_ckpt_add(w, "rng", HN_CKPT_RAW, "\x01\x00\xff", 3);
  if (st == HN_OK && variant >= 3) st = hn_ckpt_add_f32(w, "empty", NULL, 0);
  if (st == HN_OK) st = hn_ckpt_commit(w);
  hn_ckpt_writer_free(w);
  if (st == HN_OK) return 0;
fail:
  fprintf(stderr, "seeds_ckpt: %s\n", hn_errmsg());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  int bad = 0;
  bad |= seed(argv[1], "seed-empty.ckpt", 0);
  bad |= seed(argv[1], "seed-one.ckpt", 1);
  bad |= seed(argv[1], "seed-three.ckpt", 2);
  bad |= seed(argv[1], "seed-five.ckpt", 3);
  return bad;
}

#endif
