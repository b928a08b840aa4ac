/*
 * manifest_sums.c: SHA256SUMS of a batch folder and its verification (manifest_sums.h).
 */
#include "manifest_sums.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"
#include "banned.h"

/* --- hashing --------------------------------------------------------------------------------- */

enum kg_err manifest_hash_file(const char *path, char hex[65], long long *bytes)
{
	enum kg_err err = KG_OK;
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	long long total = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = kg_fail(errno == ENOENT ? KG_ENOTFOUND : KG_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err = kg_fail(KG_ENOMEM, "%s: SHA-256 unavailable", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += n;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			err = kg_fail(KG_EIO, "%s: SHA-256 failed", path);
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
		err = kg_fail(KG_EIO, "%s: SHA-256 failed", path);
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	*bytes = total;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return err;
}

/* --- SHA256SUMS -------------------------------------------------------------------------------- */

struct names {
	char **v;
	size_t n, alloc;
};

static void names_add(struct names *l, char *s)
{
	KG_GROW(l->v, l->n + 1, l->alloc);
	l->v[l->n++] = s;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct names){0};
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under dir/rel, as paths relative to dir; dot names and SHA256SUMS skipped. */
static enum kg_err list_files(const char *dir, const char *rel, struct names *out)
{
	struct sbuf p = SBUF_INIT;
	sbuf_addf(&p, "%s%s%s", dir, *rel ? "/" : "", rel);
	enum kg_err err = sbuf_check(&p);
	DIR *d = err ? NULL : opendir(p.buf);
	if (!err && !d)
		err = kg_fail(KG_EIO, "%s: %s", p.buf, strerror(errno));
	struct dirent *e;
	while (!err && (errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.' || (!*rel && !strcmp(e->d_name, "SHA256SUMS")))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			err = kg_fail(KG_EIO, "%s/%s: %s", p.buf, e->d_name, strerror(errno));
			break;
		}
		struct sbuf r = SBUF_INIT;
		sbuf_addf(&r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if ((err = sbuf_check(&r))) {
			sbuf_release(&r);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			err = list_files(dir, r.buf, out);
			sbuf_release(&r);
		} else if (S_ISREG(st.st_mode)) {
			names_add(out, sbuf_detach(&r));
		} else {
			sbuf_release(&r);
		}
	}
	if (!err && d && errno)
		err = kg_fail(KG_EIO, "%s: %s", p.buf, strerror(errno));
	if (d)
		closedir(d);
	sbuf_release(&p);
	return err;
}

enum kg_err manifest_list_files(const char *dir, char ***names, size_t *n)
{
	struct names l = {0};
	enum kg_err err = list_files(dir, "", &l);
	if (err) {
		names_free(&l);
		return err;
	}
	qsort(l.v, l.n, sizeof *l.v, by_name);
	*names = l.v;
	*n = l.n;
	return KG_OK;
}

enum kg_err manifest_seal(const char *dir)
{
	struct names files = {0};
	struct sbuf sums = SBUF_INIT, path = SBUF_INIT;
	enum kg_err err = list_files(dir, "", &files);
	if (err)
		goto out;
	qsort(files.v, files.n, sizeof *files.v, by_name);
	for (size_t i = 0; !err && i < files.n; i++) {
		char hex[65];
		long long bytes;
		sbuf_reset(&path);
		sbuf_addf(&path, "%s/%s", dir, files.v[i]);
		if (!(err = sbuf_check(&path)) && !(err = manifest_hash_file(path.buf, hex, &bytes)))
			sbuf_addf(&sums, "%s  %s\n", hex, files.v[i]);
	}
	if (!err)
		err = afile_write_sbuf(dir, "SHA256SUMS", &sums);
out:
	names_free(&files);
	sbuf_release(&sums);
	sbuf_release(&path);
	return err;
}

/* A listed path must stay inside the batch folder. */
static bool safe_path(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *s = p; s; s = strchr(s, '/')) {
		if (*s == '/')
			s++;
		if (!strncmp(s, "..", 2) && (s[2] == '/' || !s[2]))
			return false;
	}
	return true;
}

enum kg_err manifest_verify(const char *dir, struct sbuf *report, bool *ok)
{
	struct names listed = {0}, present = {0};
	struct sbuf path = SBUF_INIT;
	char *line = NULL;
	size_t cap = 0;
	long good = 0, bad = 0;
	enum kg_err err = KG_OK;
	*ok = false;
	sbuf_addf(&path, "%s/SHA256SUMS", dir);
	FILE *f = (err = sbuf_check(&path)) ? NULL : fopen(path.buf, "r");
	if (!err && !f) {
		if (errno != ENOENT)
			err = kg_fail(KG_EIO, "%s: %s", path.buf, strerror(errno));
		else
			sbuf_adds(report, "SHA256SUMS がありません: このバッチは未完成です\n");
		goto out;
	}
	for (int lineno = 1; !err && getline(&line, &cap, f) > 0; lineno++) {
		line[strcspn(line, "\n")] = 0;
		char *name = line + 66;
		if (strlen(line) < 67 || strspn(line, "0123456789abcdef") != 64 || line[64] != ' ' ||
		    (line[65] != ' ' && line[65] != '*') || !safe_path(name)) {
			sbuf_addf(report, "SHA256SUMS %d 行目: 読めない行です\n", lineno);
			bad++;
			continue;
		}
		line[64] = 0;
		char hex[65];
		long long bytes;
		sbuf_reset(&path);
		sbuf_addf(&path, "%s/%s", dir, name);
		if ((err = sbuf_check(&path)))
			break;
		names_add(&listed, kg_strdup(name));
		enum kg_err e = manifest_hash_file(path.buf, hex, &bytes);
		if (e == KG_ENOTFOUND) {
			sbuf_addf(report, "%s: ファイルがありません\n", name);
			bad++;
		} else if (e) {
			err = e;
		} else if (strcmp(hex, line)) {
			sbuf_addf(report, "%s: SHA-256 が一致しません\n", name);
			bad++;
		} else {
			good++;
		}
	}
	if (!err && ferror(f))
		err = kg_fail(KG_EIO, "%s/SHA256SUMS: %s", dir, strerror(errno));
	if (err || (err = list_files(dir, "", &present)))
		goto out;
	qsort(listed.v, listed.n, sizeof *listed.v, by_name);
	for (size_t i = 0; i < present.n; i++)
		if (!bsearch(&present.v[i], listed.v, listed.n, sizeof *listed.v, by_name)) {
			sbuf_addf(report, "%s: SHA256SUMS に載っていません\n", present.v[i]);
			bad++;
		}
	sbuf_addf(report, "%ld 件一致、%ld 件の問題\n", good, bad);
	*ok = bad == 0;
out:
	if (f)
		fclose(f);
	free(line);
	names_free(&listed);
	names_free(&present);
	sbuf_release(&path);
	if (!err)
		err = sbuf_check(report);
	return err;
}
