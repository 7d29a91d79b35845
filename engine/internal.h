/*
 * internal.h — cross-file internals of the engine. Not installed; lua/ and
 * tests/ may include it for test hooks only.
 */
#ifndef HN_INTERNAL_H
#define HN_INTERNAL_H

#include "base.h"
#include "module.h"

/* Work (in elements) below which an OpenMP loop stays serial: forking costs
 * more than it saves on small tensors (the TH threshold idea). */
#define HN_OMP_MIN_WORK 32768

/* Fixed block size for reductions whose bits must not depend on the thread
 * count: partial sums per block in parallel, added serially in block order. */
#define HN_REDUCE_BLOCK 4096

/* Allocation-failure injection (Lua's ltests idea): after k more successful
 * allocations, hn_alloc returns NULL. k < 0 disarms. Test use only. */
void hn_mem_fail_after(int64_t k);

/* Checkpoint write-failure injection (ckpt.c): after `bytes` more bytes
 * written by hn_ckpt_commit, every write fails with ENOSPC until disarmed
 * with a value < 0. Test use only. */
void hn_ckpt_fail_write_after(int64_t bytes);

/* A hot element-wise function built twice, for baseline x86-64 and for AVX2,
 * the one to run chosen at load time (GCC target_clones, an ifunc). The
 * engine builds with -ffp-contract=off, so both run the same IEEE operations
 * in the same order: the same bits on any CPU. Put the loop in a plain
 * function called from inside an OpenMP loop (an outlined OpenMP body does
 * not inherit the attribute). Off for clang and the sanitizer builds. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define HN_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HN_SIMD_CLONES
#endif

/* Sixteen floats in a register (GCC/Clang vector extension: one AVX-512
 * register in the avx512f clone, two or four narrower ones in the others),
 * for the engine's own kernels (blas.c, hnet_out.c, hnet_reg_pass.c), built
 * three times and chosen at load time; -ffp-contract=off keeps the same
 * operations, so the same bits, in every clone. */
typedef float hn_v16f __attribute__((vector_size(64)));
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define HN_V16_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HN_V16_CLONES
#endif
/* Unaligned loads and stores through a temporary: the vectors' own
 * addresses are never taken, so they stay in registers (and no function
 * passes a vector: that would tie the ABI to the clone's instruction set). */
#define HN_LOAD16(dst, p)                  \
  do {                                     \
    hn_v16f t_;                            \
    __builtin_memcpy(&t_, (p), sizeof t_); \
    (dst) = t_;                            \
  } while (0)
#define HN_STORE16(p, src)                 \
  do {                                     \
    hn_v16f t_ = (src);                    \
    __builtin_memcpy((p), &t_, sizeof t_); \
  } while (0)

#define HN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HN_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- shared by the module files (module.c) -------------------------------- */

/* A module's shape rule: checks cfg and an input shape, infers the output
 * shape; `who` opens every message ("linear forward", "conv2d", ...). */
typedef hn_status (*hn_module_shape_fn)(const void *cfg, const char *who, int ndim,
                                        const int64_t *in, int *out_ndim, int64_t *out);

/* t must be exactly `shape` (HN_ERR_SHAPE "who: what is [..], expected [..]
 * (x is [..])", naming x when given) and hold data (HN_ERR_ARG if NULL or
 * without data). */
hn_status hn_module_check_tensor(const char *who, const char *what, const hn_tensor *t, int ndim,
                                 const int64_t *shape, const hn_tensor *x);
/* x is not NULL, passes shape_of (out gets the output shape) and, if
 * need_data, holds data. */
hn_status hn_module_check_x(hn_module_shape_fn shape_of, const void *cfg, const char *who,
                            const hn_tensor *x, bool need_data, int *out_ndim, int64_t *out);
/* A forward call: x as hn_module_check_x (with data), y of the output shape. */
hn_status hn_module_check_forward(hn_module_shape_fn shape_of, const void *cfg, const char *who,
                                  const hn_tensor *x, const hn_tensor *y, int *out_ndim,
                                  int64_t *out);
/* A backward call, in this order: x as hn_module_check_x; y of the output
 * shape if given (required with HN_MODULE_NEED_Y); dy (required) of the
 * output shape; dx, if given, of x's shape. */
#define HN_MODULE_NEED_X_DATA 1u /* backward reads x's values */
#define HN_MODULE_NEED_Y 2u      /* backward reads y's values */
hn_status hn_module_check_backward(hn_module_shape_fn shape_of, const void *cfg, const char *who,
                                   unsigned need, const hn_tensor *x, const hn_tensor *y,
                                   const hn_tensor *dy, const hn_tensor *dx, int *out_ndim,
                                   int64_t *out);

/* param_slices of a module whose parameters are "weight" (w_shape) then, if
 * bias, "bias" [n_bias]; returns the number of slices. */
int hn_module_weight_bias_slices(int w_ndim, const int64_t *w_shape, bool bias, int64_t n_bias,
                                 const char **names, int *ndims, int64_t (*shapes)[4]);
/* init_var of such a module: n parameters of mean 0 (mean may be NULL), the
 * first n_weight with variance var_weight, the rest var_bias. */
void hn_module_weight_bias_var(int64_t n_weight, int64_t n, float var_weight, float var_bias,
                               float *mean, float *var);

/* Vtable entries of a module without parameters, statistics or scratch. */
int64_t hn_module_zero(const void *cfg); /* n_params, n_stats */
int64_t hn_module_ws_none(const void *cfg, int ndim, const int64_t *in);
void hn_module_no_init_var(const void *cfg, float *mean, float *var);
int hn_module_no_slices(const void *cfg, const char **names, int *ndims, int64_t (*shapes)[4]);

/* ---- sequence modules (recurrent.c, embedding.c) ------------------------------ */

/* Largest T: lengths are kept in ws as floats, exact up to 2^24. */
#define HN_SEQ_MAX_T (INT64_C(1) << 24)
/* lengths (n values, may be NULL) each in 1..T, else HN_ERR_ARG naming who,
 * the sample and the value. */
hn_status hn_module_check_lengths(const char *who, const int64_t *lengths, int64_t n, int64_t T);
/* Keep the lengths of a forward in ws (NULL: T each) and return the longest. */
int64_t hn_module_store_lengths(float *L, const int64_t *lengths, int64_t n, int64_t T);
/* A backward's lengths (NULL: those of the forward) must be the forward's. */
hn_status hn_module_same_lengths(const char *who, const float *L, const int64_t *lengths,
                                 int64_t n);

/* ---- the hypernetwork (hnet.c; its output regulariser, hnet_reg.c) ---------- */

#include "hnet.h"

/* Column block for grouped sums and the regulariser's tile strips. */
#define HN_HNET_COL_BLOCK 64
/* The regulariser with stored targets runs the output layer in tiles of
 * HN_HNET_REG_ROWS chunk rows by HN_HNET_REG_COLS output columns: 1 MiB of
 * floats, so a tile stays in cache from its forward GEMM through the
 * difference to the targets to both backward GEMMs. */
#define HN_HNET_REG_ROWS 256
#define HN_HNET_REG_COLS 1024
#define HN_HNET_REG_TILE (HN_HNET_REG_ROWS * HN_HNET_REG_COLS)
/* With fewer rows than a tile holds (a few earlier tasks of a small chunked
 * network) the tile grows wider instead, up to this many columns, so that a
 * step does not pay a fork/join and three small GEMMs for every 1024 columns
 * (Split MNIST: 41 tiles per step became 2 to 8). */
#define HN_HNET_REG_COLS_MAX 16384

struct hn_hnet {
  hn_hnet_cfg cfg;
  hn_layout layout;
  int n_layers;                             /* n_hidden + 1                          */
  int64_t dim[HN_HNET_MAX_HIDDEN + 2];      /* layer widths, dim[0] = input width    */
  int64_t n_chunks;                         /* 1 for a full network                  */
  int64_t off_cemb;                         /* offset of chunk_emb in θ, -1 if full  */
  int64_t off_w[HN_HNET_MAX_HIDDEN + 1], off_b[HN_HNET_MAX_HIDDEN + 1];
  bool truncated;                           /* n_chunks * dim[L] != n_out            */
  int64_t maxw;                             /* widest layer input (gradient buffers) */
  int64_t cap;                              /* tasks per pass the workspace holds    */
  int64_t o_tasks;                          /* tasks the output scratch o holds      */
  float *ws;                                /* the one workspace allocation          */
  float *x0, *z[HN_HNET_MAX_HIDDEN], *a[HN_HNET_MAX_HIDDEN], *o, *g[2];
  float *tile[2];                           /* the regulariser's output tiles        */
  double dbacc[HN_HNET_REG_COLS_MAX];       /* the regulariser's bias sums, a tile   */
  float *gram;     /* the regulariser's Gram scratch (recomputed targets), NULL until used */
  float *out;      /* the fused output layer's scratch (hnet_out.c)                        */
  int64_t fwd_tasks;                        /* tasks of the last forward, -1: none   */
};

/* The input rows and the hidden layers over n_tasks embeddings (Z and A kept
 * for backward); *last: the output layer's input rows [R, dim[L-1]]. */
hn_status hn_hnet_hidden_forward(hn_hnet *h, const float *theta, const float *e, int64_t n_tasks,
                                 const float **last);
/* Backward from layer top down: dz holds dZ_top [R, dim[top+1]] (for top = -1,
 * dX_0), the next input gradient goes to g[buf]; then the input gradient's
 * task part is summed into de and its chunk part into dθ.chunk_emb. */
hn_status hn_hnet_backward_from(hn_hnet *h, const float *theta, int top, const float *dz, int buf,
                                int64_t n_tasks, float *dtheta, float *de);

/* The output layer of a pass of at most HN_HNET_OUT_ROWS rows, fused with the
 * chunk layout (hnet_out.c): forward writes b + U·x_r straight into W's rows
 * (the last chunk truncated); backward reads dW's rows in place and adds
 * dθ.U and dθ.b (when dtheta is not NULL) and writes the input gradient dx
 * [rows, k] (when dx is not NULL). Larger passes use GEMMs (hnet.c). */
#define HN_HNET_OUT_ROWS 64
/* Lanes per row of the scratch for last hidden width k; the scratch's floats. */
int64_t hn_hnet_out_lanes(int64_t k);
int64_t hn_hnet_out_floats(int64_t k);
void hn_hnet_out_forward(const hn_hnet *h, const float *theta, const float *x, int64_t rows,
                         float *W);
void hn_hnet_out_backward(hn_hnet *h, const float *theta, const float *x, const float *dW,
                          int64_t rows, float *dtheta, float *dx);

/* The Gram form's pass over the output layer's columns for m = 2k + 1 ≤
 * HN_HNET_REG_PASS_MAX_M (hnet_reg_pass.c): Gh = Σ_{j<len} M_jᵀM_j and Gt =
 * Σ_{j≥len} M_jᵀM_j ([m, m] each) and, with dtheta, dθ.b_j += s·M_j·S[:, 2k]
 * and dθ.U_j += s·M_j·S[:, 0:k] (S for j < len, Sf after), M_j = [U_j − U*_j |
 * U*_j | b_j − b*_j] never stored; scratch: hn_hnet_reg_pass_floats(m). */
#define HN_HNET_REG_PASS_MAX_M 64
int64_t hn_hnet_reg_pass_floats(int64_t m);
void hn_hnet_reg_pass(const hn_hnet *h, const float *theta, const float *theta_star, int64_t len,
                      const float *S, const float *Sf, float s, float *dtheta, float *scratch,
                      float *Gh, float *Gt);

#endif
