/*
 * afile.h: a file written atomically (after git's lockfile): the bytes go to a temporary name in
 * the target's own directory, and afile_commit() flushes, fsyncs, closes, checks every step,
 * renames over the final name and fsyncs the directory. A crash or a full disk therefore never
 * leaves a half file under a final name; at worst a dot-named temporary (".NAME.XXXXXX") that
 * the next run ignores and SHA256SUMS does not list.
 *
 * Files are created owner-only (0600) whatever the umask. An afile owns its FILE and its names;
 * afile_commit() and afile_abort() both free it, so exactly one of them is called per afile_open().
 * Errors are KG_EIO with a message naming the file (the final name) and the system's reason.
 */
#ifndef AFILE_H
#define AFILE_H

#include <stdio.h>

#include "kg.h"
#include "sbuf.h"

struct afile;

/* Opens a temporary file for dir/name (name may not contain '/'). */
enum kg_err afile_open(const char *dir, const char *name, struct afile **out) KG_WUR;
/* The stream to write to (buffered; errors surface at commit). */
FILE *afile_stream(struct afile *f);
/* The temporary's path, for libraries that open a file by name (libxlsxwriter): they may
 * truncate and rewrite it; the inode, its mode and the commit stay ours. */
const char *afile_temp_path(const struct afile *f);
/* The final path (for messages). */
const char *afile_path(const struct afile *f);
/* Makes the file durable under its final name and frees f. On failure the temporary is removed. */
enum kg_err afile_commit(struct afile *f) KG_WUR;
/* Drops the temporary and frees f; NULL is a no-op. */
void afile_abort(struct afile *f);

/* Writes text (its whole buffer; a failed sbuf is its error) to dir/name atomically. */
enum kg_err afile_write_sbuf(const char *dir, const char *name, const struct sbuf *text) KG_WUR;

/* Removes dir/name if it exists and fsyncs dir (e.g. SHA256SUMS before a batch is rewritten). */
enum kg_err afile_remove(const char *dir, const char *name) KG_WUR;

/* fsync of a folder, after a rename into it (EINVAL/EROFS from the file system are not errors). */
enum kg_err afile_sync_dir(const char *dir) KG_WUR;

#endif
