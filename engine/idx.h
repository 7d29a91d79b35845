/*
 * idx.h — the IDX format (MNIST, Fashion-MNIST), gzipped or plain, and the
 * CIFAR-10 binary batches.
 *
 * Every header field is validated (magic, type code, dimension count, sizes
 * against the file length and against a caller limit) before any large
 * allocation; a truncated, foreign or inconsistent file is refused with a
 * message naming the file and the problem (HN_ERR_FORMAT), a missing or
 * unreadable one with HN_ERR_IO.
 */
#ifndef HN_IDX_H
#define HN_IDX_H

#include "tensor.h"

/* IDX element type codes. */
enum { HN_IDX_U8 = 0x08, HN_IDX_I8 = 0x09, HN_IDX_I16 = 0x0B, HN_IDX_I32 = 0x0C,
       HN_IDX_F32 = 0x0D, HN_IDX_F64 = 0x0E };

/* Read an IDX file (plain or .gz, detected from the content) into an owned
 * float tensor `out` holding the stored values unscaled (uint8 images come as
 * 0..255). 1..4 dimensions. max_elems bounds the claimed size (0 = 1<<31).
 * Refused with HN_ERR_FORMAT: wrong magic, unknown type code, 0 or > 4
 * dimensions, a claim over max_elems, truncated data ("header claims N bytes
 * of data, found M"), bytes after the data, non-finite float values.
 * out is written only on success. */
hn_status hn_idx_read(const char *path, hn_tensor *out, int64_t max_elems);
/* hn_idx_read, and the file must store elements of `type` (an HN_IDX_* code;
 * 0 accepts any): a file of another type is refused with HN_ERR_FORMAT naming
 * both types (uint8 pixels stored as signed bytes, 0x09, would otherwise load
 * as other values without a word); an unknown `type` is HN_ERR_ARG. */
hn_status hn_idx_read_typed(const char *path, int type, hn_tensor *out, int64_t max_elems);
/* An images file and its labels file together: both read as above (each of
 * its declared type, 0 for any), then checked to match (as many labels as
 * images: a label-count mismatch names both files and both counts; labels
 * 1-D, integers in 0..n_classes-1, or any non-negative integer when
 * n_classes is 0). Outputs written only on success. */
hn_status hn_idx_read_labeled(const char *images_path, const char *labels_path,
                              int64_t max_elems, int n_classes, int images_type, int labels_type,
                              hn_tensor *images, hn_tensor *labels);
/* Write t as IDX with element type `type`: HN_IDX_U8 requires every value to
 * be an integer in 0..255 (HN_ERR_ARG otherwise, naming the first bad one);
 * HN_IDX_F32 stores the floats as they are (finite only). gz != 0 writes gzip.
 * Every value is checked before the disk is touched; the file is written to a
 * temporary name and renamed, so it is whole or absent. */
hn_status hn_idx_write(const char *path, const hn_tensor *t, int type, int gz);

/* Read one CIFAR-10 binary batch (N records of 1 label byte + 3072 pixel
 * bytes) into images [N, 3, 32, 32] (0..255) and labels [N]. The file length
 * must be a positive multiple of 3073 and every label in 0..9. Outputs written
 * only on success. */
hn_status hn_cifar10_read(const char *path, hn_tensor *images, hn_tensor *labels);

#endif
