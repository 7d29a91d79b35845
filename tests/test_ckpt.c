/* test_ckpt.c — checkpoints: round trips, the documented layout, atomic
 * replacement, and refusal of every kind of damaged or foreign file. Each
 * test works in its own mkdtemp directory and removes it. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ------------------------------------------------------------- */

typedef struct tdir {
  char dir[64];
  char path[128]; /* dir/run.ckpt */
} tdir;

/* cmocka per-test setup: a fresh directory in *state. The teardown runs even
 * when the test fails, so nothing is left in /tmp. */
static int tdir_setup(void **state) {
  tdir *t = calloc(1, sizeof *t);
  if (!t) return -1;
  strcpy(t->dir, "/tmp/hnet-ckpt-XXXXXX");
  if (!mkdtemp(t->dir)) {
    free(t);
    return -1;
  }
  snprintf(t->path, sizeof t->path, "%s/run.ckpt", t->dir);
  *state = t;
  return 0;
}

static int tdir_count(const tdir *t) {
  DIR *d = opendir(t->dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* Remove a directory and everything in it. Returns 0 on success. */
static int remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int rc = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat sb;
    if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rc |= remove_tree(p);
    else rc |= unlink(p);
  }
  closedir(d);
  return rc | rmdir(dir);
}

static int tdir_teardown(void **state) {
  tdir *t = *state;
  hn_ckpt_fail_write_after(-1); /* in case a failed test left them armed */
  hn_mem_fail_after(-1);
  int rc = remove_tree(t->dir);
  free(t);
  return rc == 0 ? 0 : -1;
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)len + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

static void spit(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(b, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void wr64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned char *entry(unsigned char *b, int i) { return b + 32 + 72 * i; }

/* Recompute the header CRC (after a deliberate, "consistent" forgery). */
static void fix_header_crc(unsigned char *b) {
  uint32_t n = rd32(b + 12);
  if (rd32(b + 8) != 1) wr32(b + 24, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 24));
  uLong c = crc32(0L, Z_NULL, 0);
  c = crc32(c, b, 28);
  c = crc32(c, b + 32, 72 * n);
  wr32(b + 28, (uint32_t)c);
}

/* Recompute section i's payload CRC, then the header CRC. */
static void fix_section_crc(unsigned char *b, int i) {
  unsigned char *e = entry(b, i);
  uLong c = crc32(0L, Z_NULL, 0);
  c = crc32(c, b + rd64(e + 52), (uInt)rd64(e + 60));
  wr32(e + 68, (uint32_t)c);
  fix_header_crc(b);
}

static void assert_msg(const char *needle) {
  if (!strstr(hn_errmsg(), needle))
    fail_msg("message \"%s\" lacks \"%s\"", hn_errmsg(), needle);
}

/* Open must fail with `st` and a message containing the path and `what`;
 * the output pointer must stay untouched. */
static void expect_refused(const char *path, hn_status st, const char *what) {
  hn_ckpt *c = (hn_ckpt *)(uintptr_t)0x1234;
  hn_status got = hn_ckpt_open(&c, path);
  if (got != st) fail_msg("open '%s': status %d (%s), expected %d", path, got, hn_errmsg(), st);
  assert_ptr_equal(c, (hn_ckpt *)(uintptr_t)0x1234);
  assert_msg(path);
  assert_msg(what);
}

/* The sample checkpoint: every kind, odd sizes, an empty array, special
 * float bit patterns. */
enum { N_THETA = 1001, N_STEPS = 3 };
typedef struct sample {
  float theta[N_THETA];
  int64_t steps[N_STEPS];
  unsigned char blob[13];
  const char *text;
} sample;

static void sample_fill(sample *s, uint64_t seed) {
  hnt_fill_normal(s->theta, N_THETA, 1.0f, seed);
  s->theta[0] = -0.0f;
  s->theta[1] = INFINITY;
  s->theta[2] = -INFINITY;
  uint32_t qnan = 0x7FC01234u; /* a NaN with a payload: must survive bit for bit */
  memcpy(&s->theta[3], &qnan, 4);
  s->theta[4] = 1e-45f; /* denormal */
  s->steps[0] = INT64_MIN;
  s->steps[1] = INT64_MAX;
  s->steps[2] = (int64_t)seed;
  for (int i = 0; i < 13; i++) s->blob[i] = (unsigned char)(i * 37 + seed);
  s->blob[5] = 0;
  s->text = seed == 1 ? "{\"lr\": 0.001, \"name\": \"Füße ∑ 日本\"}" : "second";
}

static void sample_write(const char *path, const sample *s) {
  hn_ckpt_writer *w = NULL;
  assert_int_equal(hn_ckpt_writer_new(&w, path), HN_OK);
  assert_int_equal(hn_ckpt_add_f32(w, "theta", s->theta, N_THETA), HN_OK);
  assert_int_equal(hn_ckpt_add_i64(w, "steps", s->steps, N_STEPS), HN_OK);
  assert_int_equal(hn_ckpt_add_text(w, "config", s->text), HN_OK);
  assert_int_equal(hn_ckpt_add(w, "blob", HN_CKPT_RAW, s->blob, 13), HN_OK);
  assert_int_equal(hn_ckpt_add_f32(w, "empty", NULL, 0), HN_OK);
  assert_int_equal(hn_ckpt_add_text(w, "note", ""), HN_OK);
  assert_int_equal(hn_ckpt_commit(w), HN_OK);
  hn_ckpt_writer_free(w);
}

static void sample_check(hn_ckpt *c, const sample *s) {
  static const char *names[] = {"theta", "steps", "config", "blob", "empty", "note"};
  assert_int_equal(hn_ckpt_n_sections(c), 6);
  for (int i = 0; i < 6; i++) assert_string_equal(hn_ckpt_section_name(c, i), names[i]);
  float theta[N_THETA];
  int64_t steps[N_STEPS];
  assert_int_equal(hn_ckpt_read_f32(c, "theta", theta, N_THETA), HN_OK);
  hnt_assert_bytes_equal(theta, s->theta, sizeof theta, "theta");
  assert_int_equal(hn_ckpt_read_i64(c, "steps", steps, N_STEPS), HN_OK);
  hnt_assert_bytes_equal(steps, s->steps, sizeof steps, "steps");
  const char *text;
  size_t len;
  assert_int_equal(hn_ckpt_read_text(c, "config", &text, &len), HN_OK);
  assert_string_equal(text, s->text);
  assert_int_equal(len, strlen(s->text));
  assert_int_equal(hn_ckpt_read_text(c, "note", &text, NULL), HN_OK);
  assert_string_equal(text, "");
  hn_ckpt_kind kind;
  const void *data;
  int64_t bytes;
  assert_int_equal(hn_ckpt_find(c, "blob", &kind, &data, &bytes), HN_OK);
  assert_int_equal(kind, HN_CKPT_RAW);
  assert_int_equal(bytes, 13);
  hnt_assert_bytes_equal(data, s->blob, 13, "blob");
  assert_int_equal(hn_ckpt_find(c, "empty", &kind, &data, &bytes), HN_OK);
  assert_int_equal(kind, HN_CKPT_F32);
  assert_int_equal(bytes, 0);
  assert_int_equal(hn_ckpt_read_f32(c, "empty", NULL, 0), HN_OK);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(hn_ckpt_find(c, names[i], NULL, &data, NULL), HN_OK);
    assert_true((uintptr_t)data % HN_CKPT_ALIGN == 0);
  }
}

/* A sample checkpoint at t->path, its image in *img (caller frees). */
static unsigned char *sample_image(tdir *t, size_t *n) {
  sample s;
  sample_fill(&s, 1);
  sample_write(t->path, &s);
  return slurp(t->path, n);
}

/* Section index `name` in the image's table. */
static int entry_of(unsigned char *b, const char *name) {
  for (uint32_t i = 0; i < rd32(b + 12); i++)
    if (!strcmp((const char *)entry(b, (int)i), name)) return (int)i;
  fail_msg("no entry %s", name);
  return -1;
}

/* ---- round trips and layout ---------------------------------------------- */

static void test_round_trip_every_kind(void **state) {
  tdir *t = *state;
  sample s;
  sample_fill(&s, 1);
  sample_write(t->path, &s);
  assert_int_equal(tdir_count(t), 1); /* no temporary file left */
  hn_ckpt *c = NULL;
  assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
  assert_string_equal(hn_ckpt_path(c), t->path);
  sample_check(c, &s);
  assert_true(hn_ckpt_has(c, "theta"));
  assert_false(hn_ckpt_has(c, "thet"));
  assert_null(hn_ckpt_section_name(c, 6));
  assert_null(hn_ckpt_section_name(c, -1));
  hn_ckpt_free(c);
  hn_ckpt_free(NULL);
  hn_ckpt_writer_free(NULL);
}

static void test_layout_matches_documentation(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  assert_memory_equal(b, "HNETCKPT", 8);
  assert_int_equal(rd32(b + 8), 2);
  assert_int_equal(rd32(b + 12), 6);
  assert_int_equal(rd64(b + 16), n);
  assert_int_equal(rd32(b + 24), (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 24));
  uLong hc = crc32(crc32(crc32(0L, Z_NULL, 0), b, 28), b + 32, 72 * 6);
  assert_int_equal(rd32(b + 28), (uint32_t)hc);
  uint64_t prev_end = 32 + 72 * 6;
  for (int i = 0; i < 6; i++) {
    unsigned char *e = entry(b, i);
    uint64_t off = rd64(e + 52), size = rd64(e + 60);
    assert_int_equal(off % 64, 0);
    assert_true(off >= prev_end && off < prev_end + 64);
    for (uint64_t k = prev_end; k < off; k++) assert_int_equal(b[k], 0); /* zero padding */
    for (size_t k = strlen((char *)e); k < 48; k++) assert_int_equal(e[k], 0);
    uLong sc = crc32(crc32(0L, Z_NULL, 0), b + off, (uInt)size);
    assert_int_equal(rd32(e + 68), (uint32_t)sc);
    prev_end = off + size;
  }
  assert_int_equal(prev_end, n);
  /* theta is stored little-endian float32: byte-compare with the host (x86). */
  int i_theta = entry_of(b, "theta");
  sample s;
  sample_fill(&s, 1);
  assert_int_equal(rd32(entry(b, i_theta) + 48), HN_CKPT_F32);
  uint32_t bits;
  memcpy(&bits, &s.theta[7], 4);
  assert_int_equal(rd32(b + rd64(entry(b, i_theta) + 52) + 7 * 4), bits);
  free(b);
}

static void test_open_mem_equals_open(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  sample s;
  sample_fill(&s, 1);
  hn_ckpt *c = NULL;
  assert_int_equal(hn_ckpt_open_mem(&c, b, n, "image"), HN_OK);
  sample_check(c, &s);
  hn_ckpt_free(c);
  b[n - 1] ^= 1;
  assert_int_equal(hn_ckpt_open_mem(&c, b, n, "image"), HN_ERR_FORMAT);
  assert_msg("'image'");
  assert_int_equal(hn_ckpt_open_mem(&c, b, 0, NULL), HN_ERR_FORMAT);
  assert_msg("empty");
  free(b);
}

static void test_empty_checkpoint(void **state) {
  tdir *t = *state;
  hn_ckpt_writer *w;
  assert_int_equal(hn_ckpt_writer_new(&w, t->path), HN_OK);
  assert_int_equal(hn_ckpt_commit(w), HN_OK);
  hn_ckpt_writer_free(w);
  hn_ckpt *c;
  assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
  assert_int_equal(hn_ckpt_n_sections(c), 0);
  assert_int_equal(hn_ckpt_find(c, "x", NULL, NULL, NULL), HN_ERR_FORMAT);
  hn_ckpt_free(c);
}

static void test_many_sections_and_limit(void **state) {
  tdir *t = *state;
  hn_ckpt_writer *w;
  assert_int_equal(hn_ckpt_writer_new(&w, t->path), HN_OK);
  char name[32];
  for (int64_t i = 0; i < HN_CKPT_MAX_SECTIONS; i++) {
    snprintf(name, sizeof name, "task/%lld/emb", (long long)i);
    assert_int_equal(hn_ckpt_add_i64(w, name, &i, 1), HN_OK);
  }
  int64_t one = 1;
  assert_int_equal(hn_ckpt_add_i64(w, "one-too-many", &one, 1), HN_ERR_ARG);
  assert_msg("maximum of 4096");
  assert_int_equal(hn_ckpt_commit(w), HN_OK);
  hn_ckpt_writer_free(w);
  hn_ckpt *c;
  assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
  assert_int_equal(hn_ckpt_n_sections(c), HN_CKPT_MAX_SECTIONS);
  int64_t v;
  assert_int_equal(hn_ckpt_read_i64(c, "task/4095/emb", &v, 1), HN_OK);
  assert_int_equal(v, 4095);
  assert_string_equal(hn_ckpt_section_name(c, 17), "task/17/emb");
  hn_ckpt_free(c);
}

/* ---- atomic replacement ------------------------------------------------- */

static void test_second_commit_replaces(void **state) {
  tdir *t = *state;
  sample a, b;
  sample_fill(&a, 1);
  sample_fill(&b, 2);
  sample_write(t->path, &a);
  hn_ckpt *old;
  assert_int_equal(hn_ckpt_open(&old, t->path), HN_OK); /* an earlier reader keeps its copy */
  sample_write(t->path, &b);
  assert_int_equal(tdir_count(t), 1);
  hn_ckpt *c;
  assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
  sample_check(c, &b);
  sample_check(old, &a);
  hn_ckpt_free(c);
  hn_ckpt_free(old);
}

static void test_uncommitted_writer_leaves_previous(void **state) {
  tdir *t = *state;
  size_t n0, n1;
  unsigned char *before = sample_image(t, &n0);
  hn_ckpt_writer *w;
  assert_int_equal(hn_ckpt_writer_new(&w, t->path), HN_OK);
  float x[4] = {1, 2, 3, 4};
  assert_int_equal(hn_ckpt_add_f32(w, "theta", x, 4), HN_OK);
  hn_ckpt_writer_free(w);
  unsigned char *after = slurp(t->path, &n1);
  assert_int_equal(n0, n1);
  hnt_assert_bytes_equal(after, before, n0, "previous checkpoint");
  assert_int_equal(tdir_count(t), 1);
  free(before);
  free(after);
}

static void test_writer_copies_and_commits_once(void **state) {
  tdir *t = *state;
  hn_ckpt_writer *w;
  assert_int_equal(hn_ckpt_writer_new(&w, t->path), HN_OK);
  float x[3] = {1, 2, 3};
  assert_int_equal(hn_ckpt_add_f32(w, "x", x, 3), HN_OK);
  x[1] = 99; /* the writer holds its own copy */
  assert_int_equal(hn_ckpt_commit(w), HN_OK);
  assert_int_equal(hn_ckpt_commit(w), HN_ERR_STATE);
  assert_msg("already committed");
  assert_int_equal(hn_ckpt_add_f32(w, "y", x, 3), HN_ERR_STATE);
  hn_ckpt_writer_free(w);
  hn_ckpt *c;
  float y[3];
  assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
  assert_int_equal(hn_ckpt_read_f32(c, "x", y, 3), HN_OK);
  assert_true(y[0] == 1 && y[1] == 2 && y[2] == 3);
  hn_ckpt_free(c);
}

static void test_write_failure_keeps_previous(void **state) {
  tdir *t = *state;
  size_t n0, n;
  unsigned char *before = sample_image(t, &n0);
  sample b;
  sample_fill(&b, 2);
  char scratch[160]; /* the size of the new checkpoint, to cut at its last byte */
  snprintf(scratch, sizeof scratch, "%s/scratch.ckpt", t->dir);
  sample_write(scratch, &b);
  free(slurp(scratch, &n));
  assert_int_equal(unlink(scratch), 0);
  /* fail at the first byte, inside the header, inside the table, inside a
   * payload, and at the very last byte of the file */
  const int64_t cuts[] = {0, 10, 100, 600, 2000, (int64_t)n - 1};
  for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
    hn_ckpt_writer *w;
    assert_int_equal(hn_ckpt_writer_new(&w, t->path), HN_OK);
    assert_int_equal(hn_ckpt_add_f32(w, "theta", b.theta, N_THETA), HN_OK);
    assert_int_equal(hn_ckpt_add_i64(w, "steps", b.steps, N_STEPS), HN_OK);
    assert_int_equal(hn_ckpt_add_text(w, "config", b.text), HN_OK);
    assert_int_equal(hn_ckpt_add(w, "blob", HN_CKPT_RAW, b.blob, 13), HN_OK);
    assert_int_equal(hn_ckpt_add_f32(w, "empty", NULL, 0), HN_OK);
    assert_int_equal(hn_ckpt_add_text(w, "note", ""), HN_OK);
    hn_ckpt_fail_write_after(cuts[k]);
    hn_status st = hn_ckpt_commit(w);
    hn_ckpt_fail_write_after(-1);
    assert_int_equal(st, HN_ERR_IO);
    assert_msg("No space left on device");
    assert_msg(t->path);
    assert_msg("unchanged");
    assert_msg("free disk space");
    /* the caller may be a process that ends here: no "commit again" */
    assert_null(strstr(hn_errmsg(), "commit again"));
    unsigned char *after = slurp(t->path, &n);
    assert_int_equal(n, n0);
    hnt_assert_bytes_equal(after, before, n0, "previous checkpoint after a failed commit");
    free(after);
    assert_int_equal(tdir_count(t), 1); /* the temporary file is gone */
    if (k + 1 == sizeof cuts / sizeof *cuts) {
      assert_int_equal(hn_ckpt_commit(w), HN_OK); /* a retry after the failure works */
      hn_ckpt *c;
      assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
      sample_check(c, &b);
      hn_ckpt_free(c);
    }
    hn_ckpt_writer_free(w);
  }
  free(before);
}

static void test_commit_io_errors(void **state) {
  tdir *t = *state;
  hn_ckpt_writer *w;
  char p[200];
  snprintf(p, sizeof p, "%s/no/such/dir/x.ckpt", t->dir);
  assert_int_equal(hn_ckpt_writer_new(&w, p), HN_OK);
  assert_int_equal(hn_ckpt_add_text(w, "a", "b"), HN_OK);
  assert_int_equal(hn_ckpt_commit(w), HN_ERR_IO);
  assert_msg("No such file or directory");
  assert_msg(p);
  hn_ckpt_writer_free(w);
  /* the target is a non-empty directory: rename fails, no temp file is left */
  char sub[200], inner[260];
  snprintf(sub, sizeof sub, "%s/taken", t->dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  snprintf(inner, sizeof inner, "%s/taken/keep", t->dir);
  assert_int_equal(mkdir(inner, 0700), 0);
  assert_int_equal(hn_ckpt_writer_new(&w, sub), HN_OK);
  assert_int_equal(hn_ckpt_add_text(w, "a", "b"), HN_OK);
  assert_int_equal(hn_ckpt_commit(w), HN_ERR_IO);
  assert_msg("rename");
  assert_null(strstr(hn_errmsg(), "disk")); /* not a full disk: no such hint */
  hn_ckpt_writer_free(w);
  assert_int_equal(tdir_count(t), 1);
  assert_int_equal(rmdir(inner), 0);
}

/* ---- refusals ------------------------------------------------------------ */

static void test_missing_empty_and_directory(void **state) {
  tdir *t = *state;
  expect_refused(t->path, HN_ERR_IO, "No such file or directory");
  spit(t->path, "", 0);
  expect_refused(t->path, HN_ERR_FORMAT, "empty");
  expect_refused(t->dir, HN_ERR_IO, "directory");
  char fifo[200]; /* refused at once, not waited on */
  snprintf(fifo, sizeof fifo, "%s/fifo", t->dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  expect_refused(fifo, HN_ERR_IO, "not a regular file");
  hn_ckpt *c;
  assert_int_equal(hn_ckpt_open(&c, NULL), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_open(NULL, t->path), HN_ERR_ARG);
}

static void test_foreign_files(void **state) {
  tdir *t = *state;
  const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                               'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0,
                               0x90, 0x77, 0x53, 0xde, 0, 0};
  spit(t->path, png, sizeof png);
  expect_refused(t->path, HN_ERR_FORMAT, "not an hnet checkpoint");
  assert_msg("\\x89PNG");
  spit(t->path, "abc", 3);
  expect_refused(t->path, HN_ERR_FORMAT, "not an hnet checkpoint");
  /* an IDX file (MNIST labels) is foreign too */
  const unsigned char idx[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 4};
  spit(t->path, idx, sizeof idx);
  expect_refused(t->path, HN_ERR_FORMAT, "HNETCKPT");
}

static void test_wrong_version(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  /* A newer file: its header CRC is intact, its table may be laid out
   * otherwise (so the CRC over the table is not what decides). */
  wr32(b + 8, 3);
  wr32(b + 24, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 24));
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "version 3");
  assert_msg("reads versions 1 to 2");
  assert_msg("header is intact");
  wr32(b + 8, 0);
  fix_header_crc(b);
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "version 0");
  free(b);
}

/* One flipped bit in the version, the section count or the file size is
 * damage, and says so: never "format version 65538 ... open it with the hnet
 * version that wrote it". */
static void test_flipped_fixed_header_byte_is_damage(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  const size_t at[] = {8, 9, 10, 11, 12, 13, 16, 23, 24, 27};
  for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
    for (int bit = 0; bit < 8; bit += 7) {
      b[at[k]] ^= (unsigned char)(1u << bit);
      spit(t->path, b, n);
      b[at[k]] ^= (unsigned char)(1u << bit);
      expect_refused(t->path, HN_ERR_FORMAT, "corrupt header");
      assert_msg("damaged");
      if (strstr(hn_errmsg(), "wrote it") || strstr(hn_errmsg(), "format version"))
        fail_msg("byte %zu, bit %d: damage reported as a version: %s", at[k], bit, hn_errmsg());
    }
  }
  free(b);
}

/* Version 1 files (0 at byte 24, only the CRC at byte 28) are still read;
 * a damaged version field in one is damage too. */
static void test_version_1_still_read(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  wr32(b + 8, 1);
  wr32(b + 24, 0);
  fix_header_crc(b);
  spit(t->path, b, n);
  hn_ckpt *c = NULL;
  assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
  assert_int_equal(hn_ckpt_n_sections(c), 6);
  hn_ckpt_free(c);
  b[8] ^= 0x04; /* version 5, byte 24 still 0 */
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "corrupt header");
  b[8] ^= 0x04;
  b[26] = 1; /* a version 1 file has 0 there */
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "corrupt header");
  free(b);
}

static void test_truncated_everywhere(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  const size_t table_end = 32 + 72 * 6;
  const size_t theta_off = (size_t)rd64(entry(b, 0) + 52);
  const size_t cuts[] = {1, 4, 7, 8, 12, 20, 31, 32, 33, 100, table_end - 1, table_end,
                         theta_off, theta_off + 1, theta_off + 2000, n - 13, n - 1};
  for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
    spit(t->path, b, cuts[k]);
    expect_refused(t->path, HN_ERR_FORMAT, "truncated");
    hn_ckpt *c;
    assert_int_equal(hn_ckpt_open_mem(&c, b, cuts[k], "mem"), HN_ERR_FORMAT);
    assert_msg("truncated");
  }
  free(b);
}

static void test_trailing_bytes(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  unsigned char *c2 = calloc(n + 5, 1);
  memcpy(c2, b, n);
  spit(t->path, c2, n + 5);
  expect_refused(t->path, HN_ERR_FORMAT, "5 bytes after the end");
  free(c2);
  free(b);
}

static void test_flipped_payload_byte_names_section(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  static const char *names[] = {"theta", "steps", "config", "blob", "note"};
  for (int k = 0; k < 5; k++) {
    unsigned char *e = entry(b, entry_of(b, names[k]));
    size_t at = (size_t)(rd64(e + 52) + rd64(e + 60) / 2);
    b[at] ^= 0x10;
    spit(t->path, b, n);
    b[at] ^= 0x10;
    expect_refused(t->path, HN_ERR_FORMAT, "corrupt");
    assert_null(strstr(hn_errmsg(), "earlier checkpoint")); /* a run keeps only one */
    char quoted[64];
    snprintf(quoted, sizeof quoted, "section '%s'", names[k]);
    assert_msg(quoted);
  }
  free(b);
}

static void test_flipped_header_or_table_byte(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  /* the file size, the reserved field, the CRC itself, a name, a kind, an
   * offset, a size and a section CRC in the table */
  const size_t at[] = {16, 24, 29, 32 + 2, 32 + 48, 32 + 72 + 53, 32 + 60, 32 + 72 * 5 + 70};
  for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
    b[at[k]] ^= 0x01;
    spit(t->path, b, n);
    b[at[k]] ^= 0x01;
    /* the first 24 bytes have their own CRC; the rest of the header and the
     * table are under the CRC at byte 28 */
    expect_refused(t->path, HN_ERR_FORMAT, at[k] < 28 ? "corrupt header" : "corrupt header or section table");
    assert_msg("damaged");
  }
  free(b);
}

/* Forgeries with consistent CRCs: the structural checks behind the CRC. */
static void forge_and_expect(tdir *t, unsigned char *b, size_t n, const char *what) {
  fix_header_crc(b);
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, what);
}

static void test_forged_offsets_and_sizes(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  unsigned char *orig = malloc(n);
  memcpy(orig, b, n);
  int i = entry_of(b, "blob");
  unsigned char *e = entry(b, i);
  wr64(e + 52, (uint64_t)n + 64 * 10); /* offset beyond the file */
  forge_and_expect(t, b, n, "outside the payload area");
  assert_msg("'blob'");
  memcpy(b, orig, n);
  wr64(e + 52, UINT64_MAX - 63); /* offset + size overflows */
  forge_and_expect(t, b, n, "outside");
  memcpy(b, orig, n);
  wr64(e + 60, UINT64_MAX); /* size beyond the file */
  forge_and_expect(t, b, n, "outside");
  memcpy(b, orig, n);
  wr64(e + 52, rd64(e + 52) + 4); /* misaligned */
  forge_and_expect(t, b, n, "not a multiple of 64");
  memcpy(b, orig, n);
  wr64(entry(b, 0) + 52, 0); /* a payload on top of the header */
  forge_and_expect(t, b, n, "outside");
  memcpy(b, orig, n);
  wr64(entry(b, 1) + 52, rd64(entry(b, 0) + 52) + 64); /* steps inside theta */
  forge_and_expect(t, b, n, "overlap");
  assert_msg("'theta'");
  memcpy(b, orig, n);
  wr64(entry(b, 0) + 60, 4002); /* an f32 section of 1000.5 floats */
  forge_and_expect(t, b, n, "not a whole number of elements");
  memcpy(b, orig, n);
  wr32(entry(b, 0) + 48, 9);
  forge_and_expect(t, b, n, "unknown kind 9");
  free(orig);
  free(b);
}

static void test_forged_section_counts(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  /* forged with the fixed header's own CRC recomputed, to reach the checks
   * behind it */
  const uint32_t own = 24;
  wr32(b + 12, 0xFFFFFFFFu); /* huge: refused before anything is allocated */
  wr32(b + own, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 24));
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "4294967295 sections");
  wr32(b + 12, 4097);
  wr32(b + own, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 24));
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "limit of 4096");
  wr32(b + 12, 4000); /* plausible, but the table would run past the end */
  wr32(b + own, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 24));
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "truncated");
  wr32(b + 12, 5); /* one section fewer: the table CRC no longer matches */
  wr32(b + own, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, 24));
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "corrupt header or section table");
  free(b);
}

static void test_forged_names(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  unsigned char *orig = malloc(n);
  memcpy(orig, b, n);
  memcpy(entry(b, 1), "theta", 6); /* steps renamed to theta */
  forge_and_expect(t, b, n, "two sections named 'theta'");
  memcpy(b, orig, n);
  memset(entry(b, 2), 'A', 48); /* no terminating NUL */
  forge_and_expect(t, b, n, "bad name");
  memcpy(b, orig, n);
  entry(b, 2)[40] = 'x'; /* garbage after the NUL */
  forge_and_expect(t, b, n, "section 2 has a bad name");
  memcpy(b, orig, n);
  entry(b, 3)[1] = '\n'; /* a control character */
  forge_and_expect(t, b, n, "bad name");
  memcpy(b, orig, n);
  memset(entry(b, 3), 0, 48); /* empty */
  forge_and_expect(t, b, n, "bad name");
  free(orig);
  free(b);
}

static void test_forged_text(void **state) {
  tdir *t = *state;
  size_t n;
  unsigned char *b = sample_image(t, &n);
  int i = entry_of(b, "config");
  unsigned char *p = b + rd64(entry(b, i) + 52);
  size_t len = (size_t)rd64(entry(b, i) + 60);
  unsigned char save = p[3];
  p[3] = 0xC0; /* an overlong lead byte */
  fix_section_crc(b, i);
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "not valid UTF-8 at byte 3");
  assert_msg("'config'");
  p[3] = save;
  p[len - 1] = '}'; /* lost its NUL */
  fix_section_crc(b, i);
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "not NUL-terminated");
  p[len - 1] = 0;
  p[2] = 0; /* an embedded NUL */
  fix_section_crc(b, i);
  spit(t->path, b, n);
  expect_refused(t->path, HN_ERR_FORMAT, "NUL byte at 2");
  free(b);
}

static void test_too_large_file(void **state) {
  tdir *t = *state;
  int fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "HNETCKPT", 8), 8);
  /* sparse: no disk space is used */
  assert_int_equal(ftruncate(fd, (off_t)HN_CKPT_MAX_BYTES + 1), 0);
  close(fd);
  expect_refused(t->path, HN_ERR_FORMAT, "limit");
}

/* ---- lookups and argument checks ---------------------------------------- */

static void test_read_checks_size_kind_and_presence(void **state) {
  tdir *t = *state;
  size_t n;
  free(sample_image(t, &n));
  hn_ckpt *c;
  assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
  float dst[N_THETA + 1];
  memset(dst, 0x5A, sizeof dst);
  float sentinel[N_THETA + 1];
  memcpy(sentinel, dst, sizeof dst);
  assert_int_equal(hn_ckpt_read_f32(c, "theta", dst, N_THETA + 1), HN_ERR_SHAPE);
  assert_msg("1001 elements");
  assert_msg("expects 1002");
  assert_msg("'theta'");
  assert_msg(t->path);
  assert_int_equal(hn_ckpt_read_f32(c, "theta", dst, N_THETA - 1), HN_ERR_SHAPE);
  assert_int_equal(hn_ckpt_read_f32(c, "steps", dst, 3), HN_ERR_FORMAT);
  assert_msg("holds i64 data, not f32");
  int64_t i64[3];
  assert_int_equal(hn_ckpt_read_i64(c, "theta", i64, 3), HN_ERR_FORMAT);
  const char *text = (const char *)dst;
  assert_int_equal(hn_ckpt_read_text(c, "blob", &text, NULL), HN_ERR_FORMAT);
  assert_msg("holds raw data, not text");
  assert_ptr_equal(text, (const char *)dst);
  assert_int_equal(hn_ckpt_read_f32(c, "thetaa", dst, N_THETA), HN_ERR_FORMAT);
  assert_msg("no section 'thetaa'");
  assert_msg(t->path);
  hn_ckpt_kind kind = (hn_ckpt_kind)77;
  const void *data = dst;
  int64_t bytes = -5;
  assert_int_equal(hn_ckpt_find(c, "optim.m", &kind, &data, &bytes), HN_ERR_FORMAT);
  assert_msg("no section 'optim.m'");
  assert_true(kind == (hn_ckpt_kind)77 && data == dst && bytes == -5);
  assert_int_equal(hn_ckpt_read_f32(c, "theta", dst, -1), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_read_f32(c, "theta", NULL, N_THETA), HN_ERR_ARG);
  hnt_assert_bytes_equal(dst, sentinel, sizeof dst, "dst after failed reads");
  hn_ckpt_free(c);
}

static void test_writer_argument_checks(void **state) {
  tdir *t = *state;
  hn_ckpt_writer *w = (hn_ckpt_writer *)(uintptr_t)0x99;
  assert_int_equal(hn_ckpt_writer_new(&w, ""), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_writer_new(&w, NULL), HN_ERR_ARG);
  assert_ptr_equal(w, (hn_ckpt_writer *)(uintptr_t)0x99);
  assert_int_equal(hn_ckpt_writer_new(&w, t->path), HN_OK);
  float x[2] = {1, 2};
  char long_name[49];
  memset(long_name, 'n', 48);
  long_name[48] = 0;
  assert_int_equal(hn_ckpt_add_f32(w, long_name, x, 2), HN_ERR_ARG);
  assert_msg("1 to 47 printable");
  long_name[47] = 0; /* 47 characters: the longest allowed */
  assert_int_equal(hn_ckpt_add_f32(w, long_name, x, 2), HN_OK);
  assert_int_equal(hn_ckpt_add_f32(w, "", x, 2), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_add_f32(w, NULL, x, 2), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_add_f32(w, "tab\there", x, 2), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_add_f32(w, "x", x, -1), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_add_f32(w, "x", NULL, 2), HN_ERR_ARG);
  assert_msg("NULL");
  assert_int_equal(hn_ckpt_add(w, "x", (hn_ckpt_kind)4, x, 8), HN_ERR_ARG);
  assert_msg("unknown kind 4");
  assert_int_equal(hn_ckpt_add(w, "x", HN_CKPT_F32, x, 6), HN_ERR_ARG);
  assert_msg("not a multiple of 4");
  assert_int_equal(hn_ckpt_add(w, "x", HN_CKPT_I64, x, 4), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_add(w, "x", HN_CKPT_TEXT, "ab", 2), HN_ERR_ARG);
  assert_msg("NUL-terminated");
  assert_int_equal(hn_ckpt_add(w, "x", HN_CKPT_TEXT, "\xED\xA0\x80", 4), HN_ERR_ARG);
  assert_msg("UTF-8"); /* an encoded surrogate */
  assert_int_equal(hn_ckpt_add_text(w, "x", "\xF4\x90\x80\x80"), HN_ERR_ARG); /* > U+10FFFF */
  assert_int_equal(hn_ckpt_add_text(w, "x", NULL), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_add(w, "x", HN_CKPT_RAW, x, HN_CKPT_MAX_BYTES + 1), HN_ERR_ARG);
  assert_int_equal(hn_ckpt_add_f32(w, "x", x, 2), HN_OK);
  assert_int_equal(hn_ckpt_add_f32(w, "x", x, 1), HN_ERR_ARG);
  assert_msg("already in the checkpoint");
  assert_int_equal(hn_ckpt_commit(w), HN_OK);
  hn_ckpt_writer_free(w);
  hn_ckpt *c;
  assert_int_equal(hn_ckpt_open(&c, t->path), HN_OK);
  assert_int_equal(hn_ckpt_n_sections(c), 2); /* only the two that were accepted */
  assert_string_equal(hn_ckpt_section_name(c, 0), long_name);
  hn_ckpt_free(c);
  assert_int_equal(hn_ckpt_commit(NULL), HN_ERR_ARG);
}

static void test_allocation_failures(void **state) {
  tdir *t = *state;
  sample s;
  sample_fill(&s, 1);
  sample_write(t->path, &s);
  /* open: every allocation in turn fails cleanly, then it succeeds */
  int k;
  for (k = 0; k < 50; k++) {
    hn_ckpt *c = NULL;
    hn_mem_fail_after(k);
    hn_status st = hn_ckpt_open(&c, t->path);
    hn_mem_fail_after(-1);
    if (st == HN_OK) {
      sample_check(c, &s);
      hn_ckpt_free(c);
      break;
    }
    assert_int_equal(st, HN_ERR_NOMEM);
    assert_null(c);
  }
  assert_true(k > 2 && k < 50);
  /* write: writer, adds and commit */
  char p2[160];
  snprintf(p2, sizeof p2, "%s/b.ckpt", t->dir);
  for (k = 0; k < 50; k++) {
    hn_ckpt_writer *w = NULL;
    hn_mem_fail_after(k);
    hn_status st = hn_ckpt_writer_new(&w, p2);
    if (st == HN_OK) st = hn_ckpt_add_f32(w, "theta", s.theta, N_THETA);
    if (st == HN_OK) st = hn_ckpt_add_text(w, "config", s.text);
    if (st == HN_OK) st = hn_ckpt_commit(w);
    hn_mem_fail_after(-1);
    hn_ckpt_writer_free(w);
    if (st == HN_OK) break;
    assert_int_equal(st, HN_ERR_NOMEM);
    assert_int_equal(tdir_count(t), 1); /* nothing written before success */
  }
  assert_true(k > 3 && k < 50);
  assert_int_equal(tdir_count(t), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip_every_kind, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_layout_matches_documentation, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_open_mem_equals_open, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_empty_checkpoint, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_many_sections_and_limit, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_second_commit_replaces, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_uncommitted_writer_leaves_previous, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_writer_copies_and_commits_once, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_write_failure_keeps_previous, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_commit_io_errors, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_missing_empty_and_directory, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_foreign_files, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_wrong_version, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_flipped_fixed_header_byte_is_damage, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_version_1_still_read, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_truncated_everywhere, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_trailing_bytes, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_flipped_payload_byte_names_section, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_flipped_header_or_table_byte, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_forged_offsets_and_sizes, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_forged_section_counts, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_forged_names, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_forged_text, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_too_large_file, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_read_checks_size_kind_and_presence, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_writer_argument_checks, tdir_setup, tdir_teardown),
      cmocka_unit_test_setup_teardown(test_allocation_failures, tdir_setup, tdir_teardown),
  };
  return cmocka_run_group_tests_name("ckpt", tests, NULL, NULL);
}
