/*
 * manifest_sums.h: the checksums of a batch folder. SHA256SUMS (sha256sum's format) lists every
 * file of the folder but itself and dot-named temporaries; it is written last, so a folder
 * without it is incomplete, and verifying it re-hashes every file and looks for unlisted ones.
 */
#ifndef MANIFEST_SUMS_H
#define MANIFEST_SUMS_H

#include <stdbool.h>

#include "kg.h"
#include "sbuf.h"

/* Writes SHA256SUMS over every regular file under dir (recursively, e.g. proofs/), sorted by
 * path, skipping names that start with '.' (temporaries) and SHA256SUMS itself. Call it again
 * after adding a file to a sealed batch (e.g. the run report). */
enum kg_err manifest_seal(const char *dir) KG_WUR;

/* Re-hashes every file listed in dir/SHA256SUMS. *ok is true only when SHA256SUMS exists, every
 * listed file matches, and every file of the folder is listed. report gets one line per problem
 * (in Japanese, for staff) and a closing summary line. KG_EIO only when a file cannot be read
 * for another reason than being absent. */
enum kg_err manifest_verify(const char *dir, struct sbuf *report, bool *ok) KG_WUR;

/* Every regular file under dir as paths relative to dir, sorted bytewise, skipping dot names and
 * SHA256SUMS (what manifest_seal lists). Caller frees each name and *names. */
enum kg_err manifest_list_files(const char *dir, char ***names, size_t *n) KG_WUR;

/* The SHA-256 of a file as 64 lowercase hex digits, and its size. */
enum kg_err manifest_hash_file(const char *path, char hex[65], long long *bytes) KG_WUR;

#endif
