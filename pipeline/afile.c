/*
 * afile.c: atomic file replacement: mkstemp in the same directory, fsync, rename, fsync the
 * directory. Every stdio and system call is checked, since a full disk shows up first as a
 * failed fflush, fsync or close rather than as a failed fwrite.
 */
#include "afile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "sbuf.h"
#include "banned.h"

struct afile {
	FILE *fp;
	char *dir;
	char *path; /* final */
	char *temp;
};

enum kg_err afile_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kg_fail(KG_EIO, "%s: %s", dir, strerror(errno));
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	/* Some file systems cannot fsync a directory; that is no reason to fail the batch. */
	if (rc && e != EINVAL && e != EROFS)
		return kg_fail(KG_EIO, "%s: fsync: %s", dir, strerror(e));
	return KG_OK;
}

enum kg_err afile_open(const char *dir, const char *name, struct afile **out)
{
	*out = NULL;
	if (!*name || strchr(name, '/'))
		return kg_fail(KG_EINPUT, "afile: bad file name '%s'", name);
	struct sbuf p = SBUF_INIT, t = SBUF_INIT;
	sbuf_addf(&p, "%s/%s", dir, name);
	sbuf_addf(&t, "%s/.%s.XXXXXX", dir, name);
	enum kg_err err = sbuf_check(&p);
	if (!err)
		err = sbuf_check(&t);
	if (err) {
		sbuf_release(&p);
		sbuf_release(&t);
		return err;
	}
	int fd = mkostemp(t.buf, O_CLOEXEC);
	if (fd < 0) {
		err = kg_fail(KG_EIO, "%s: cannot create a temporary file: %s", p.buf, strerror(errno));
		goto fail;
	}
	FILE *fp = NULL;
	if (fchmod(fd, 0600) || !(fp = fdopen(fd, "wb"))) {
		err = kg_fail(KG_EIO, "%s: %s", p.buf, strerror(errno));
		close(fd);
		unlink(t.buf);
		goto fail;
	}
	struct afile *f = kg_calloc(1, sizeof *f);
	f->fp = fp;
	f->dir = kg_strdup(dir);
	f->path = sbuf_detach(&p);
	f->temp = sbuf_detach(&t);
	*out = f;
	return KG_OK;
fail:
	sbuf_release(&p);
	sbuf_release(&t);
	return err;
}

FILE *afile_stream(struct afile *f)
{
	return f->fp;
}

const char *afile_temp_path(const struct afile *f)
{
	return f->temp;
}

const char *afile_path(const struct afile *f)
{
	return f->path;
}

static void afile_free(struct afile *f)
{
	free(f->dir);
	free(f->path);
	free(f->temp);
	free(f);
}

enum kg_err afile_commit(struct afile *f)
{
	enum kg_err err = KG_OK;
	const char *step = NULL;
	int e = 0;
	/* Flush before fsync: fsync covers the inode, also what another writer put there by name. */
	if (ferror(f->fp))
		step = "write", e = EIO;
	else if (fflush(f->fp))
		step = "write", e = errno;
	else if (fsync(fileno(f->fp)))
		step = "fsync", e = errno;
	int rc = fclose(f->fp);
	f->fp = NULL;
	if (!step && rc)
		step = "close", e = errno;
	if (!step && rename(f->temp, f->path))
		step = "rename", e = errno;
	if (step) {
		err = kg_fail(KG_EIO, "%s: %s failed: %s", f->path, step, strerror(e));
		unlink(f->temp);
	} else {
		err = afile_sync_dir(f->dir);
	}
	if (!err) /* the crash tests' "between two files" */
		fault_point("file_written", strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path);
	afile_free(f);
	return err;
}

void afile_abort(struct afile *f)
{
	if (!f)
		return;
	if (f->fp)
		fclose(f->fp);
	unlink(f->temp);
	afile_free(f);
}

enum kg_err afile_remove(const char *dir, const char *name)
{
	struct sbuf p = SBUF_INIT;
	sbuf_addf(&p, "%s/%s", dir, name);
	enum kg_err err = sbuf_check(&p);
	if (!err && unlink(p.buf)) {
		if (errno != ENOENT)
			err = kg_fail(KG_EIO, "%s: %s", p.buf, strerror(errno));
	} else if (!err) {
		err = afile_sync_dir(dir);
	}
	sbuf_release(&p);
	return err;
}

enum kg_err afile_write_sbuf(const char *dir, const char *name, const struct sbuf *text)
{
	struct afile *f;
	enum kg_err err = sbuf_check(text);
	if (err || (err = afile_open(dir, name, &f)))
		return err;
	fwrite(text->buf, 1, text->len, afile_stream(f));
	return afile_commit(f);
}
