/*
 * ckpt.h — checkpoints: a versioned binary file of named, typed sections,
 * each with a CRC32, written atomically (temporary file + fsync + rename).
 *
 * File format, version 2. All integers little-endian, fixed width.
 *
 *   offset  size  field
 *   0       8     magic "HNETCKPT"
 *   8       4     u32 format version (HN_CKPT_VERSION)
 *   12      4     u32 n_sections (<= HN_CKPT_MAX_SECTIONS)
 *   16      8     u64 file size in bytes (the whole file)
 *   24      4     u32 CRC32 of bytes 0..23: the fixed header's own CRC
 *   28      4     u32 header CRC32 (zlib crc32 of bytes 0..27, then of the table)
 *   32      72*n  section table, one entry per section:
 *                   char name[48]  NUL-terminated and NUL-padded, 1..47 printable
 *                                  ASCII characters, unique in the file
 *                   u32  kind      an hn_ckpt_kind
 *                   u64  offset    of the payload; a multiple of HN_CKPT_ALIGN,
 *                                  at or after the end of the table
 *                   u64  size      of the payload in bytes (may be 0)
 *                   u32  crc32     zlib crc32 of the payload
 *   ...           the payloads, each starting at its (aligned) offset; the gaps
 *                 are zero padding. Payloads do not overlap and end within the
 *                 file.
 *
 * Payload kinds: RAW (any bytes), F32 (float32 little-endian, size a multiple
 * of 4), I64 (int64 little-endian, size a multiple of 8), TEXT (UTF-8 with one
 * terminating NUL, no other NUL: size = strlen + 1).
 *
 * Writing: hn_ckpt_commit writes "<path>.tmp.<pid>.<n>" in the same directory
 * (created with O_EXCL, mode 0666 less the umask), fsyncs it, closes it,
 * renames it over <path> and fsyncs the directory. A crash or a failed write
 * (disk full, I/O error) therefore leaves either the previous checkpoint or
 * the new one, never a mixture; on failure the temporary file is removed.
 *
 * The first 28 bytes keep this layout in every later format version: the
 * CRC at byte 24 is checked before the version is believed, so a damaged
 * header is reported as damage, not as a format version from elsewhere.
 * Version 1 had 0 at byte 24 (reserved) and is still read: there only the
 * CRC at byte 28 guards the header, and a version 1 file whose version field
 * is damaged is reported as damaged (its byte 24 does not match).
 *
 * Reading: hn_ckpt_open reads the whole file into one 64-byte aligned buffer
 * and validates everything before returning: magic, the header's own CRC,
 * version, section count, header+table CRC, file size, every table entry (name, kind, alignment, bounds,
 * overlaps, unique names, kind-specific size and text rules) and the CRC of
 * EVERY payload. A file that opens is therefore entirely intact; later calls
 * only look up sections. Problems are HN_ERR_FORMAT with a message naming the
 * file and the problem (a damaged section is named); a missing or unreadable
 * file is HN_ERR_IO. Files larger than HN_CKPT_MAX_BYTES are refused.
 *
 * Ownership: the writer copies every payload when it is added (the caller's
 * buffer may change or be freed right after the call). The reader owns the
 * file image; pointers it returns (names, find's data, text) borrow it and are
 * valid until hn_ckpt_free.
 */
#ifndef HN_CKPT_H
#define HN_CKPT_H

#include "base.h"

#define HN_CKPT_MAGIC "HNETCKPT"
#define HN_CKPT_VERSION 2u
#define HN_CKPT_VERSION_OLDEST 1u /* the oldest version this build still reads */
#define HN_CKPT_HEADER_BYTES 32
#define HN_CKPT_ENTRY_BYTES 72
#define HN_CKPT_NAME_BYTES 48 /* including the terminating NUL: names are 1..47 chars */
#define HN_CKPT_ALIGN 64
#define HN_CKPT_MAX_SECTIONS 4096
#define HN_CKPT_MAX_BYTES ((int64_t)1 << 32) /* 4 GiB: larger files are refused */

typedef enum hn_ckpt_kind {
  HN_CKPT_RAW = 0,  /* uninterpreted bytes                 */
  HN_CKPT_F32 = 1,  /* float32 array, little-endian        */
  HN_CKPT_I64 = 2,  /* int64 array, little-endian          */
  HN_CKPT_TEXT = 3  /* UTF-8 text with its terminating NUL */
} hn_ckpt_kind;

/* "raw", "f32", "i64", "text", or "unknown". */
const char *hn_ckpt_kind_name(int kind);

/* ---- writer -------------------------------------------------------------- */

typedef struct hn_ckpt_writer hn_ckpt_writer;

/* A writer for `path` (copied). Nothing touches the file system until
 * hn_ckpt_commit. *out is written only on success. */
hn_status hn_ckpt_writer_new(hn_ckpt_writer **out, const char *path);

/* Add a section, copying `bytes` bytes from data (data may be NULL when bytes
 * is 0). The name must be 1..47 printable ASCII characters and not yet used
 * in this writer (HN_ERR_ARG otherwise); the payload must suit the kind (F32:
 * bytes % 4 == 0, I64: bytes % 8 == 0, TEXT: valid UTF-8 ending in its only
 * NUL). At most HN_CKPT_MAX_SECTIONS sections and HN_CKPT_MAX_BYTES in all.
 * On failure the writer is unchanged. After a successful commit: HN_ERR_STATE. */
hn_status hn_ckpt_add(hn_ckpt_writer *w, const char *name, hn_ckpt_kind kind, const void *data,
                      int64_t bytes);
hn_status hn_ckpt_add_f32(hn_ckpt_writer *w, const char *name, const float *x, int64_t n);
hn_status hn_ckpt_add_i64(hn_ckpt_writer *w, const char *name, const int64_t *x, int64_t n);
/* A NUL-terminated UTF-8 string (the NUL is stored too). */
hn_status hn_ckpt_add_text(hn_ckpt_writer *w, const char *name, const char *text);

/* Write the checkpoint atomically (see the top of this file). On failure
 * (HN_ERR_IO with the errno text, or HN_ERR_NOMEM) the previous file at the
 * path is untouched, no temporary file remains, and commit may be retried.
 * A writer commits once: a second commit is HN_ERR_STATE. One exception to
 * "untouched": if the new file is in place but the directory could not be
 * fsynced, commit returns HN_ERR_IO saying so and the writer counts as
 * committed (the rename may not survive a power loss). */
hn_status hn_ckpt_commit(hn_ckpt_writer *w);

/* Free the writer and its copies. Without a commit, nothing was written: the
 * previous checkpoint is untouched and no temporary file exists (one only
 * lives during hn_ckpt_commit). NULL is a no-op. */
void hn_ckpt_writer_free(hn_ckpt_writer *w);

/* ---- reader -------------------------------------------------------------- */

typedef struct hn_ckpt hn_ckpt;

/* Read and fully validate the checkpoint at path (see the top of this file).
 * *out is written only on success. */
hn_status hn_ckpt_open(hn_ckpt **out, const char *path);
/* The same from a checkpoint image in memory (bytes are copied; `name` is used
 * in messages in place of a path). */
hn_status hn_ckpt_open_mem(hn_ckpt **out, const void *data, size_t bytes, const char *name);
void hn_ckpt_free(hn_ckpt *c); /* NULL is a no-op */

/* The path (or name) the checkpoint was opened from. */
const char *hn_ckpt_path(const hn_ckpt *c);
int hn_ckpt_n_sections(const hn_ckpt *c);
/* Name of section i (file order), or NULL if i is out of range. */
const char *hn_ckpt_section_name(const hn_ckpt *c, int i);
bool hn_ckpt_has(const hn_ckpt *c, const char *name);

/* Look up a section. kind, data and bytes may each be NULL. data points into
 * the reader's buffer (64-byte aligned, stored little-endian) and is valid
 * until hn_ckpt_free. A missing section is HN_ERR_FORMAT naming the section
 * and the file; the outputs are then untouched. */
hn_status hn_ckpt_find(const hn_ckpt *c, const char *name, hn_ckpt_kind *kind, const void **data,
                       int64_t *bytes);

/* Copy an F32 (I64) section of exactly n elements into dst. A missing
 * section or another kind is HN_ERR_FORMAT; another length is HN_ERR_SHAPE
 * with both sizes in the message. dst is untouched on failure. */
hn_status hn_ckpt_read_f32(const hn_ckpt *c, const char *name, float *dst, int64_t n);
hn_status hn_ckpt_read_i64(const hn_ckpt *c, const char *name, int64_t *dst, int64_t n);
/* A TEXT section: *text borrows the reader's buffer (NUL-terminated, valid
 * until hn_ckpt_free); len (may be NULL) receives strlen(*text). */
hn_status hn_ckpt_read_text(const hn_ckpt *c, const char *name, const char **text, size_t *len);

#endif
