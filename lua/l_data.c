/*
 * l_data.c — data I/O, task transforms and bulk generators for Lua.
 *
 *   hnet.idx_read(path, {max_elems=, scale=, shape=, type=})  -> tensor
 *   hnet.idx_read_labeled(images, labels, {n_classes=, max_elems=, scale=, shape=,
 *                                          type=, label_type=}) -> x, y
 *       type / label_type: the element type the file must store ("u8", "i8",
 *       "i16", "i32", "f32", "f64"; absent: any)
 *   hnet.idx_write(path, t, {type = "u8"|"f32", gz = bool})     (gz: default from ".gz")
 *   hnet.cifar10_read(path or {paths...}, {scale=})            -> images [n,3,32,32], labels [n]
 *
 *   hnet.transform.permute(x, perm, {out=})        perm: table or tensor, 1-based
 *   hnet.transform.rotate(x, degrees, {out=})      counter-clockwise, bilinear
 *   hnet.transform.noise(x, std, rng, {lo=0, hi=1, clamp=true, out=})
 *   hnet.transform.brightness_contrast(x, {brightness=0, contrast=1, lo=0, hi=1, clamp=true, out=})
 *                                                  per image: contrast*(x-mean)+mean+brightness
 *   hnet.transform.pad(x, h, w, {out=})            centred zero padding
 *   hnet.transform.gather(x, index, {out=})        rows, 1-based indices
 *   hnet.transform.class_subset(x, y, classes)     -> x', y' (classes 0-based, relabelled
 *                                                     0..k-1 in the given order)
 *   hnet.transform.k_shot(x, y, k, n_classes, rng) -> x', y' (exactly k per class)
 *   hnet.transform.subsample(x, y, n, rng)         -> x', y' (n random rows, in order)
 *   hnet.transform.class_counts(y, n_classes)      -> {count of class 0, class 1, ...}
 *
 *   hnet.gen.linspace(lo, hi, n)                   -> [n] evenly spaced, ends included
 *   hnet.gen.sinusoid(x, amplitude, phase)         -> amplitude * sin(x - phase)
 *   hnet.gen.blobs(centres, n_per_class, spread, rng) -> x [k*n, dim], y [k*n]
 *
 * Each transform returns a new tensor, or writes into `out` (checked) and
 * returns it. Label tensors hold 0-based class indices (as the data files do);
 * row and permutation indices coming from Lua are 1-based and converted here.
 * Everything per sample runs in C; Lua only decides what to do.
 */
#include "lhn.h"

#include <math.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------------- */

/* A new tensor userdata, empty and harmless (STYLE §10.4), for an engine call
 * that fills u->t only on success. */
static hnl_tensor *push_empty_tensor(lua_State *L) {
  hnl_tensor *u = lua_newuserdatauv(L, sizeof *u, 1);
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, HNL_TENSOR);
  return u;
}

/* Scratch memory owned by the collector (freed even if a later check raises). */
static void *push_scratch(lua_State *L, size_t bytes) {
  return lua_newuserdatauv(L, bytes ? bytes : 1, 0);
}

/* Per-sample shape option: {d1, ...} -> the full shape {n, d1, ...} in place. */
static void apply_shape_opt(lua_State *L, int opt, hnl_tensor *u) {
  int64_t s[HN_MAX_DIMS];
  int k = hnl_opt_int_list(L, opt, "shape", s, HN_MAX_DIMS - 1, 1, INT32_MAX);
  if (k == 0) return;
  int64_t shape[HN_MAX_DIMS] = {u->t.shape[0]};
  for (int i = 0; i < k; i++) shape[i + 1] = s[i];
  if (hn_shape_numel(k + 1, shape) != u->t.numel)
    luaL_argerror(L, opt, lua_pushfstring(L, "field 'shape': %s does not hold the %s read "
                                             "(%I values per sample)",
                                          hn_shape_fmt(k + 1, shape).s, hn_tensor_str(&u->t),
                                          (lua_Integer)(u->t.shape[0] ? u->t.numel / u->t.shape[0] : 0)));
  hnl_check(L, hn_tensor_reshape(&u->t, k + 1, shape));
}

/* The output of a transform: opts.out if given (shape checked by the engine),
 * else a new tensor of `shape`. Leaves the result on the stack. */
static hnl_tensor *push_out(lua_State *L, int opt, int ndim, const int64_t *shape) {
  hnl_tensor *o = lua_istable(L, opt) ? hnl_opt_tensor(L, opt, "out") : NULL;
  if (!o) return hnl_tensor_push_new(L, ndim, shape);
  lua_getfield(L, opt, "out");
  return o;
}

/* Read a list of 1-based indices (a table, or a tensor of integral values) in
 * 1..n into a collector-owned int64 array of 0-based indices (pushed). */
static int64_t *check_index_list(lua_State *L, int arg, int64_t n, int64_t *count, const char *what) {
  hnl_tensor *t = luaL_testudata(L, arg, HNL_TENSOR);
  int64_t k;
  if (t) {
    t = hnl_tensor_check(L, arg);
    k = t->t.numel;
  } else {
    luaL_argexpected(L, lua_type(L, arg) == LUA_TTABLE, arg, "table or hnet.Tensor of indices");
    k = (int64_t)luaL_len(L, arg);
  }
  int64_t *idx = push_scratch(L, (size_t)k * sizeof *idx);
  for (int64_t i = 0; i < k; i++) {
    double v;
    if (t) {
      v = (double)t->t.data[i];
    } else {
      lua_geti(L, arg, i + 1);
      int isnum = 0;
      v = lua_tonumberx(L, -1, &isnum);
      if (!isnum || lua_type(L, -1) != LUA_TNUMBER) v = (double)NAN;
      lua_pop(L, 1);
    }
    if (!(v >= 1.0 && v <= (double)n && v == floor(v)))
      luaL_argerror(L, arg, lua_pushfstring(L, "%s entry %I is %f; expected an integer in 1..%I",
                                            what, (lua_Integer)(i + 1), v, (lua_Integer)n));
    idx[i] = (int64_t)v - 1;
  }
  *count = k;
  return idx;
}

static int64_t row_len(const hn_tensor *t) { return t->shape[0] ? t->numel / t->shape[0] : 0; }

/* Push x[idx] and y[idx] (rows) as new tensors. */
static void push_rows(lua_State *L, const hnl_tensor *x, const hnl_tensor *y, const int64_t *idx,
                      int64_t k) {
  int64_t shape[HN_MAX_DIMS];
  memcpy(shape, x->t.shape, sizeof shape);
  shape[0] = k;
  hnl_tensor *ox = hnl_tensor_push_new(L, x->t.ndim, shape);
  hnl_check(L, hn_transform_gather(&x->t, idx, k, &ox->t));
  memcpy(shape, y->t.shape, sizeof shape);
  shape[0] = k;
  hnl_tensor *oy = hnl_tensor_push_new(L, y->t.ndim, shape);
  hnl_check(L, hn_transform_gather(&y->t, idx, k, &oy->t));
}

/* x and y at args 1, 2 must have the same number of rows; y is [n]. */
static void check_xy(lua_State *L, hnl_tensor **x, hnl_tensor **y) {
  *x = hnl_tensor_check(L, 1);
  *y = hnl_tensor_check(L, 2);
  if ((*y)->t.ndim != 1 || (*y)->t.shape[0] != (*x)->t.shape[0])
    luaL_error(L, "labels are %s for inputs %s; expected [%I] (one label per row)",
               hn_tensor_str(&(*y)->t), hn_tensor_str(&(*x)->t), (lua_Integer)(*x)->t.shape[0]);
}

/* ---- files ----------------------------------------------------------------------- */

static const char *const read_opts[] = {"max_elems", "scale", "shape", "type", NULL};

/* Option `key`: the IDX element type a file must store, by name; 0 when absent. */
static int idx_type_opt(lua_State *L, int opt, const char *key) {
  static const char *const names[] = {"u8", "i8", "i16", "i32", "f32", "f64", NULL};
  static const int codes[] = {HN_IDX_U8, HN_IDX_I8, HN_IDX_I16, HN_IDX_I32, HN_IDX_F32, HN_IDX_F64};
  const char *v = hnl_opt_string(L, opt, key, NULL);
  if (!v) return 0;
  for (int i = 0; names[i]; i++)
    if (strcmp(v, names[i]) == 0) return codes[i];
  return luaL_argerror(L, opt, lua_pushfstring(L, "field '%s': \"u8\", \"i8\", \"i16\", \"i32\", \"f32\" or "
                                                  "\"f64\" expected, got \"%s\"", key, v));
}

static void scale_opt(lua_State *L, int opt, hnl_tensor *u) {
  double s = hnl_opt_number(L, opt, "scale", 1.0, -HUGE_VAL, HUGE_VAL);
  if (!isfinite(s)) luaL_argerror(L, opt, "field 'scale': finite number expected");
  if (s != 1.0) hn_ops_scale(u->t.data, (float)s, u->t.numel);
}

static int l_idx_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  hnl_check_options(L, 2, read_opts);
  int64_t max_elems = hnl_opt_int(L, 2, "max_elems", 0, 0, INT64_MAX);
  int type = idx_type_opt(L, 2, "type");
  hnl_tensor *u = push_empty_tensor(L);
  hnl_check(L, hn_idx_read_typed(path, type, &u->t, max_elems));
  hnl_gc_pace(L, (size_t)u->t.numel * sizeof(float));
  scale_opt(L, 2, u);
  apply_shape_opt(L, 2, u);
  return 1;
}

static const char *const labeled_opts[] = {"max_elems", "scale", "shape", "n_classes", "type", "label_type", NULL};

static int l_idx_read_labeled(lua_State *L) {
  const char *ipath = luaL_checkstring(L, 1);
  const char *lpath = luaL_checkstring(L, 2);
  hnl_check_options(L, 3, labeled_opts);
  int64_t max_elems = hnl_opt_int(L, 3, "max_elems", 0, 0, INT64_MAX);
  int n_classes = (int)hnl_opt_int(L, 3, "n_classes", 0, 0, INT32_MAX);
  int itype = idx_type_opt(L, 3, "type"), ltype = idx_type_opt(L, 3, "label_type");
  hnl_tensor *x = push_empty_tensor(L);
  hnl_tensor *y = push_empty_tensor(L);
  hn_tensor tx, ty;
  hnl_check(L, hn_idx_read_labeled(ipath, lpath, max_elems, n_classes, itype, ltype, &tx, &ty));
  x->t = tx; /* nothing can raise between the read and these two moves */
  y->t = ty;
  hnl_gc_pace(L, (size_t)(tx.numel + ty.numel) * sizeof(float));
  scale_opt(L, 3, x);
  apply_shape_opt(L, 3, x);
  return 2;
}

static const char *const write_opts[] = {"type", "gz", NULL};

static int l_idx_write(lua_State *L) {
  size_t plen;
  const char *path = luaL_checklstring(L, 1, &plen);
  hnl_tensor *u = hnl_tensor_check(L, 2);
  hnl_check_options(L, 3, write_opts);
  const char *type = hnl_opt_string(L, 3, "type", "f32");
  int code;
  if (strcmp(type, "u8") == 0) code = HN_IDX_U8;
  else if (strcmp(type, "f32") == 0) code = HN_IDX_F32;
  else return luaL_argerror(L, 3, lua_pushfstring(L, "field 'type': \"u8\" or \"f32\" expected, got \"%s\"", type));
  bool dflt_gz = plen >= 3 && strcmp(path + plen - 3, ".gz") == 0;
  bool gz = hnl_opt_bool(L, 3, "gz", dflt_gz);
  hnl_check(L, hn_idx_write(path, &u->t, code, gz));
  return 0;
}

static const char *const cifar_opts[] = {"scale", NULL};

static int l_cifar10_read(lua_State *L) {
  int list = lua_type(L, 1) == LUA_TTABLE;
  if (!list) luaL_checkstring(L, 1);
  hnl_check_options(L, 2, cifar_opts);
  int n_files = list ? (int)luaL_len(L, 1) : 1;
  luaL_argcheck(L, n_files >= 1, 1, "no files given");
  int base = lua_gettop(L);
  int64_t total = 0;
  for (int i = 1; i <= n_files; i++) {
    const char *path;
    if (list) {
      lua_geti(L, 1, i);
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_argerror(L, 1, lua_pushfstring(L, "entry %d is a %s; file names expected", i, luaL_typename(L, -1)));
      path = lua_tostring(L, -1);
      lua_pop(L, 1); /* the list keeps the string alive */
    } else {
      path = lua_tostring(L, 1);
    }
    hnl_tensor *x = push_empty_tensor(L);
    hnl_tensor *y = push_empty_tensor(L);
    hn_tensor tx, ty;
    hnl_check(L, hn_cifar10_read(path, &tx, &ty));
    x->t = tx;
    y->t = ty;
    total += tx.shape[0];
  }
  if (n_files == 1) {
    scale_opt(L, 2, luaL_checkudata(L, base + 1, HNL_TENSOR));
    return 2;
  }
  hnl_tensor *ox = hnl_tensor_push_new(L, 4, (int64_t[]){total, 3, 32, 32});
  hnl_tensor *oy = hnl_tensor_push_new(L, 1, &total);
  int64_t row = 0;
  for (int i = 0; i < n_files; i++) {
    hnl_tensor *x = lua_touserdata(L, base + 1 + 2 * i);
    hnl_tensor *y = lua_touserdata(L, base + 2 + 2 * i);
    hn_ops_copy(ox->t.data + row * 3072, x->t.data, x->t.numel);
    hn_ops_copy(oy->t.data + row, y->t.data, y->t.numel);
    row += x->t.shape[0];
    hn_tensor_release(&x->t); /* fresh, never viewed: free the batch now */
    hn_tensor_release(&y->t);
    x->freed = y->freed = true;
  }
  scale_opt(L, 2, ox);
  return 2;
}

/* ---- transforms ------------------------------------------------------------------- */

static const char *const out_opts[] = {"out", NULL};

static int t_permute(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  hnl_check_options(L, 3, out_opts);
  int64_t d = row_len(&x->t), k;
  int64_t *perm = check_index_list(L, 2, d, &k, "permutation");
  if (k != d)
    return luaL_argerror(L, 2, lua_pushfstring(L, "permutation has %I entries; x is %s (%I values per sample)",
                                               (lua_Integer)k, hn_tensor_str(&x->t), (lua_Integer)d));
  unsigned char *seen = push_scratch(L, (size_t)d);
  memset(seen, 0, (size_t)d);
  for (int64_t j = 0; j < d; j++) {
    if (seen[perm[j]])
      return luaL_argerror(L, 2, lua_pushfstring(L, "not a permutation: value %I appears twice (again at entry %I)",
                                                 (lua_Integer)(perm[j] + 1), (lua_Integer)(j + 1)));
    seen[perm[j]] = 1;
  }
  hnl_tensor *y = push_out(L, 3, x->t.ndim, x->t.shape);
  hnl_check(L, hn_transform_permute(&x->t, perm, d, &y->t));
  return 1;
}

static int t_rotate(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  double deg = luaL_checknumber(L, 2);
  luaL_argcheck(L, isfinite(deg), 2, "degrees must be finite");
  hnl_check_options(L, 3, out_opts);
  hnl_tensor *y = push_out(L, 3, x->t.ndim, x->t.shape);
  hnl_check(L, hn_transform_rotate(&x->t, (float)deg, &y->t));
  return 1;
}

static const char *const clamp_opts[] = {"lo", "hi", "clamp", "out", NULL};

static void clamp_range(lua_State *L, int opt, float *lo, float *hi) {
  double l = hnl_opt_number(L, opt, "lo", 0.0, -HUGE_VAL, HUGE_VAL);
  double h = hnl_opt_number(L, opt, "hi", 1.0, -HUGE_VAL, HUGE_VAL);
  bool clamp = hnl_opt_bool(L, opt, "clamp", true);
  if (!clamp) {
    *lo = *hi = 0.0f;
    return;
  }
  if (!(isfinite(l) && isfinite(h) && l < h))
    luaL_argerror(L, opt, lua_pushfstring(L, "clamp range [%f, %f] needs finite lo < hi (or clamp = false)", l, h));
  *lo = (float)l;
  *hi = (float)h;
}

static int t_noise(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  double std = luaL_checknumber(L, 2);
  luaL_argcheck(L, std >= 0 && isfinite(std), 2, "standard deviation must be finite and >= 0");
  hn_rng *r = hnl_rng_opt(L, 3);
  hnl_check_options(L, 4, clamp_opts);
  float lo, hi;
  clamp_range(L, 4, &lo, &hi);
  hnl_tensor *y = push_out(L, 4, x->t.ndim, x->t.shape);
  hnl_check(L, hn_transform_noise(&x->t, (float)std, lo, hi, r, &y->t));
  return 1;
}

static const char *const brightness_contrast_opts[] = {"brightness", "contrast", "lo", "hi", "clamp", "out", NULL};

static int t_brightness_contrast(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  hnl_check_options(L, 2, brightness_contrast_opts);
  double b = hnl_opt_number(L, 2, "brightness", 0.0, -HUGE_VAL, HUGE_VAL);
  double c = hnl_opt_number(L, 2, "contrast", 1.0, -HUGE_VAL, HUGE_VAL);
  luaL_argcheck(L, isfinite(b) && isfinite(c), 2, "brightness and contrast must be finite");
  float lo, hi;
  clamp_range(L, 2, &lo, &hi);
  hnl_tensor *y = push_out(L, 2, x->t.ndim, x->t.shape);
  hnl_check(L, hn_transform_brightness_contrast(&x->t, (float)b, (float)c, lo, hi, &y->t));
  return 1;
}

static int t_pad(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  lua_Integer h = luaL_checkinteger(L, 2), w = luaL_checkinteger(L, 3);
  hnl_check_options(L, 4, out_opts);
  if (x->t.ndim < 3)
    return luaL_argerror(L, 1, lua_pushfstring(L, "images [n, c, h, w] or [n, h, w] expected, got %s",
                                               hn_tensor_str(&x->t)));
  int64_t shape[HN_MAX_DIMS];
  memcpy(shape, x->t.shape, sizeof shape);
  luaL_argcheck(L, h >= shape[x->t.ndim - 2] && h <= INT32_MAX, 2, "height must be >= the image height");
  luaL_argcheck(L, w >= shape[x->t.ndim - 1] && w <= INT32_MAX, 3, "width must be >= the image width");
  shape[x->t.ndim - 2] = h;
  shape[x->t.ndim - 1] = w;
  hnl_tensor *y = push_out(L, 4, x->t.ndim, shape);
  hnl_check(L, hn_transform_pad(&x->t, h, w, &y->t));
  return 1;
}

static int t_gather(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  hnl_check_options(L, 3, out_opts);
  int64_t k;
  int64_t *idx = check_index_list(L, 2, x->t.shape[0], &k, "row index");
  int64_t shape[HN_MAX_DIMS];
  memcpy(shape, x->t.shape, sizeof shape);
  shape[0] = k;
  hnl_tensor *y = push_out(L, 3, x->t.ndim, shape);
  hnl_check(L, hn_transform_gather(&x->t, idx, k, &y->t));
  return 1;
}

static int t_class_subset(lua_State *L) {
  hnl_tensor *x, *y;
  check_xy(L, &x, &y);
  luaL_checktype(L, 3, LUA_TTABLE);
  int n_cls = (int)luaL_len(L, 3);
  luaL_argcheck(L, n_cls >= 1 && n_cls <= 65536, 3, "list of 1 or more class labels expected");
  int64_t *cls = push_scratch(L, (size_t)n_cls * sizeof *cls);
  for (int a = 0; a < n_cls; a++) {
    lua_geti(L, 3, a + 1);
    int isnum = 0;
    lua_Integer c = lua_tointegerx(L, -1, &isnum);
    if (!isnum || c < 0)
      luaL_argerror(L, 3, lua_pushfstring(L, "entry %d is not a class label (0-based integer)", a + 1));
    cls[a] = c;
    lua_pop(L, 1);
  }
  int64_t n_sel;
  hnl_check(L, hn_transform_select_classes(&y->t, cls, n_cls, NULL, NULL, 0, &n_sel));
  int64_t *idx = push_scratch(L, (size_t)n_sel * sizeof *idx);
  int64_t shape[HN_MAX_DIMS];
  memcpy(shape, x->t.shape, sizeof shape);
  shape[0] = n_sel;
  hnl_tensor *ox = hnl_tensor_push_new(L, x->t.ndim, shape);
  hnl_tensor *oy = hnl_tensor_push_new(L, 1, &n_sel);
  hnl_check(L, hn_transform_select_classes(&y->t, cls, n_cls, idx, oy->t.data, n_sel, &n_sel));
  hnl_check(L, hn_transform_gather(&x->t, idx, n_sel, &ox->t));
  return 2;
}

static int t_k_shot(lua_State *L) {
  hnl_tensor *x, *y;
  check_xy(L, &x, &y);
  lua_Integer k = luaL_checkinteger(L, 3);
  luaL_argcheck(L, k >= 1, 3, "k must be >= 1");
  lua_Integer n_classes = luaL_checkinteger(L, 4);
  luaL_argcheck(L, n_classes >= 1 && n_classes <= 4096, 4, "n_classes must be in 1..4096");
  hn_rng *r = hnl_rng_opt(L, 5);
  luaL_argcheck(L, k <= y->t.numel, 3, "k is larger than the number of samples");
  int64_t n = y->t.numel, total = k * n_classes;
  int64_t *scratch = push_scratch(L, (size_t)n * sizeof *scratch);
  int64_t *idx = push_scratch(L, (size_t)total * sizeof *idx);
  hnl_check(L, hn_transform_k_shot(&y->t, (int)n_classes, k, r, scratch, idx));
  push_rows(L, x, y, idx, total);
  return 2;
}

static int t_subsample(lua_State *L) {
  hnl_tensor *x, *y;
  check_xy(L, &x, &y);
  lua_Integer n = luaL_checkinteger(L, 3);
  int64_t n_total = x->t.shape[0];
  luaL_argcheck(L, n >= 0 && n <= n_total, 3, "sample count must be in 0..(number of rows)");
  hn_rng *r = hnl_rng_opt(L, 4);
  int64_t *scratch = push_scratch(L, (size_t)n_total * sizeof *scratch);
  int64_t *idx = push_scratch(L, (size_t)n * sizeof *idx);
  hnl_check(L, hn_transform_sample_indices(n_total, n, r, scratch, idx));
  push_rows(L, x, y, idx, n);
  return 2;
}

static int t_class_counts(lua_State *L) {
  hnl_tensor *y = hnl_tensor_check(L, 1);
  lua_Integer n_classes = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n_classes >= 1 && n_classes <= 1 << 20, 2, "n_classes must be in 1..2^20");
  lua_Integer *cnt = push_scratch(L, (size_t)n_classes * sizeof *cnt);
  memset(cnt, 0, (size_t)n_classes * sizeof *cnt);
  for (int64_t i = 0; i < y->t.numel; i++) {
    float v = y->t.data[i];
    if (!(v >= 0.0f && v < (float)n_classes && v == floorf(v)))
      return luaL_error(L, "class_counts: label %f at index %I is not a class in 0..%I", (double)v,
                        (lua_Integer)(i + 1), n_classes - 1);
    cnt[(int64_t)v]++;
  }
  lua_createtable(L, (int)n_classes, 0);
  for (lua_Integer c = 0; c < n_classes; c++) {
    lua_pushinteger(L, cnt[c]);
    lua_rawseti(L, -2, c + 1);
  }
  return 1;
}

/* ---- generators ---------------------------------------------------------------------- */

static int g_linspace(lua_State *L) {
  double lo = luaL_checknumber(L, 1), hi = luaL_checknumber(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  luaL_argcheck(L, isfinite(lo) && isfinite(hi), 2, "ends must be finite");
  luaL_argcheck(L, n >= 1 && n <= INT32_MAX, 3, "n must be >= 1");
  int64_t nn = n;
  hnl_tensor *u = hnl_tensor_push_new(L, 1, &nn);
  for (int64_t i = 0; i < nn; i++)
    u->t.data[i] = nn == 1 ? (float)lo : (float)(lo + (hi - lo) * (double)i / (double)(nn - 1));
  return 1;
}

static int g_sinusoid(lua_State *L) {
  hnl_tensor *x = hnl_tensor_check(L, 1);
  double a = luaL_checknumber(L, 2), ph = luaL_checknumber(L, 3);
  luaL_argcheck(L, isfinite(a), 2, "amplitude must be finite");
  luaL_argcheck(L, isfinite(ph), 3, "phase must be finite");
  hnl_tensor *y = hnl_tensor_push_new(L, x->t.ndim, x->t.shape);
  const float *xd = x->t.data;
  float *yd = y->t.data;
  int64_t n = x->t.numel;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; i++) yd[i] = (float)(a * sin((double)xd[i] - ph));
  return 1;
}

static int g_blobs(lua_State *L) {
  hnl_tensor *c = hnl_tensor_check(L, 1);
  lua_Integer n_per = luaL_checkinteger(L, 2);
  double spread = luaL_checknumber(L, 3);
  hn_rng *r = hnl_rng_opt(L, 4);
  luaL_argcheck(L, c->t.ndim == 2, 1, "centres must be [n_classes, dim]");
  luaL_argcheck(L, n_per >= 1, 2, "samples per class must be >= 1");
  luaL_argcheck(L, spread >= 0 && isfinite(spread), 3, "spread must be finite and >= 0");
  int64_t k = c->t.shape[0], dim = c->t.shape[1], n = k * n_per;
  hnl_tensor *x = hnl_tensor_push_new(L, 2, (int64_t[]){n, dim});
  hnl_tensor *y = hnl_tensor_push_new(L, 1, &n);
  hn_rng_fill_normal(r, x->t.data, x->t.numel, 0.0f, (float)spread);
  for (int64_t i = 0; i < n; i++) {
    int64_t cls = i / n_per;
    y->t.data[i] = (float)cls;
    hn_ops_add(x->t.data + i * dim, c->t.data + cls * dim, dim);
  }
  return 2;
}

/* ---- registration ---------------------------------------------------------------------- */

static const luaL_Reg data_funcs[] = {
    {"idx_read", l_idx_read},
    {"idx_read_labeled", l_idx_read_labeled},
    {"idx_write", l_idx_write},
    {"cifar10_read", l_cifar10_read},
    {NULL, NULL},
};

static const luaL_Reg transform_funcs[] = {
    {"permute", t_permute},           {"rotate", t_rotate},
    {"noise", t_noise},               {"brightness_contrast", t_brightness_contrast},
    {"pad", t_pad},                   {"gather", t_gather},
    {"class_subset", t_class_subset}, {"k_shot", t_k_shot},
    {"subsample", t_subsample},       {"class_counts", t_class_counts},
    {NULL, NULL},
};

static const luaL_Reg gen_funcs[] = {
    {"linspace", g_linspace},
    {"sinusoid", g_sinusoid},
    {"blobs", g_blobs},
    {NULL, NULL},
};

void hnl_open_data(lua_State *L) {
  luaL_setfuncs(L, data_funcs, 0);
  luaL_newlib(L, transform_funcs);
  lua_setfield(L, -2, "transform");
  luaL_newlib(L, gen_funcs);
  lua_setfield(L, -2, "gen");
}
