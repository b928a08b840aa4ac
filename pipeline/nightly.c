/*
 * nightly.c: the lock, the stages and their bookkeeping. The stages themselves live in their
 * modules (select, render, manifest, report); this file only runs them in order, records each
 * completion in the batch's state, and makes sure a rerun resumes instead of repeating.
 */
#include "nightly.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "afile.h"
#include "fault.h"
#include "fonts.h"
#include "manifest.h"
#include "postal.h"
#include "render.h"
#include "report.h"
#include "rules.h"
#include "sbuf.h"
#include "banned.h"

/* --- the lock ---------------------------------------------------------------------------- */

struct nightly_lock {
	int fd;           /* the lock file next to a SQLite database, or -1 */
	struct store *st; /* a server database: the connection that holds its run lock, or NULL */
};

/* On a server database the lock lives in the database (store_run_lock), so machines that
 * share only the database exclude each other; it dies with this connection. */
static enum kg_err server_lock(const char *db_path, const char *what, struct nightly_lock **out)
{
	struct store *st;
	enum kg_err err = store_open(db_path, &st);
	/* The renderers of one batch work together (render.h's claims); every other run is alone. */
	if (!err && (err = store_run_lock(st, what, !strcmp(what, "render"))))
		store_close(st);
	if (err)
		return err;
	*out = kg_calloc(1, sizeof **out);
	(*out)->fd = -1;
	(*out)->st = st;
	return KG_OK;
}

/* The descriptor of the lock this process holds, closed in every child right after fork: a
 * render worker must never hold the lock (flock belongs to the open file, which a child shares),
 * or a worker that outlived its runner would lock out every later run. */
static int held_fd = -1;

static void close_lock_in_child(void)
{
	if (held_fd >= 0)
		close(held_fd);
	held_fd = -1;
}

/* The lock file must be ours: never a symlink (O_NOFOLLOW: a planted link must not make us
 * truncate its target), a regular file with one link, owned by us, writable by us alone (a lock
 * made by flock(1) at mode 0644 is fine). */
static enum kg_err lock_file_ok(int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		return kg_fail(KG_EIO, "%s is not a plain file of its own (a link or a device?); remove it", path);
	if (st.st_uid != geteuid())
		return kg_fail(KG_EIO, "%s belongs to uid %ld, not to this user (%ld); remove it", path,
		               (long)st.st_uid, (long)geteuid());
	if (st.st_mode & 022)
		return kg_fail(KG_EIO, "%s has mode %03o: others may write it; remove it", path,
		               (unsigned)(st.st_mode & 0777));
	return KG_OK;
}

enum kg_err nightly_lock(const char *db_path, const char *what, struct nightly_lock **out)
{
	if (store_is_server(db_path))
		return server_lock(db_path, what, out);
	static bool atfork_set;
	char path[4096];
	snprintf(path, sizeof path, "%s.lock", db_path);
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return kg_fail(KG_EIO, "%s: %s%s", path, strerror(errno),
		               errno == ELOOP ? " (a symbolic link where the lock file belongs; remove it)" : "");
	enum kg_err err = lock_file_ok(fd, path);
	if (err) {
		close(fd);
		return err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		char holder[256] = "";
		ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		close(fd);
		return kg_fail(KG_ELOCKED, "another run holds the lock %s (%s)", path, *holder ? holder : "starting");
	}
	/* Who holds it, for the message a second run prints. flock dies with the process. */
	char who[256], when[32];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
	int len = snprintf(who, sizeof who, "kigen %s, pid %ld, since %s\n", what, (long)getpid(), when);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)len, 0) != len) {
		close(fd);
		return kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
	}
	if (!atfork_set && pthread_atfork(NULL, NULL, close_lock_in_child) == 0)
		atfork_set = true;
	if (!atfork_set) {
		close(fd);
		return kg_fail(KG_ENOMEM, "pthread_atfork failed");
	}
	held_fd = fd;
	*out = kg_calloc(1, sizeof **out);
	(*out)->fd = fd;
	return KG_OK;
}

void nightly_unlock(struct nightly_lock *l)
{
	if (!l)
		return;
	if (l->fd >= 0) {
		close(l->fd); /* releases the flock; the file stays for the next run */
		held_fd = -1;
	}
	store_close(l->st);
	free(l);
}

/* --- logging ------------------------------------------------------------------------------ */

static void logf_(const struct nightly_io *io, const char *fmt, ...) KG_PRINTF(2, 3);
static void logf_(const struct nightly_io *io, const char *fmt, ...)
{
	if (!io->log)
		return;
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
	fprintf(io->log, "%s kigen: ", when);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(io->log, fmt, ap);
	va_end(ap);
	fputc('\n', io->log);
	fflush(io->log);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void nightly_batch_dir(const char *out_dir, int run_date, int64_t batch, char *buf, size_t size)
{
	char d[RULES_DATE_LEN];
	rules_format_date(run_date, d);
	snprintf(buf, size, "%s/%s/batch-%04lld", out_dir, d, (long long)batch);
}

static enum kg_err make_dirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return kg_fail(KG_EIO, "%s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return kg_fail(KG_EIO, "%s: %s", tmp, strerror(errno));
	return KG_OK;
}

/* The output folders from out_dir down to dir must be ours: real folders (not links), owned by
 * this user and writable by no one else, so nobody else can swap a file between our checks and
 * the print shop. With create, each missing one is made (0700) before the next is looked at, so
 * nothing is ever made inside a folder that fails the check. */
static enum kg_err dirs_ours(const char *out_dir, const char *dir, bool create)
{
	char path[4096];
	enum kg_err err;
	if (create && (err = make_dirs(out_dir)))
		return err;
	snprintf(path, sizeof path, "%s", dir);
	for (size_t i = strlen(out_dir);; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		struct stat st;
		if (create && *path && mkdir(path, 0700) != 0 && errno != EEXIST)
			return kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
		if (*path && lstat(path, &st) != 0)
			return errno == ENOENT ? KG_OK : kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
		if (*path && !S_ISDIR(st.st_mode))
			return kg_fail(KG_EIO, "%s is not a folder (a symbolic link?): refused as an output folder",
			               path);
		if (*path && (st.st_uid != geteuid() || (st.st_mode & 022)))
			return kg_fail(KG_EIO,
			               "%s: owner uid %ld, mode %03o: an output folder must be this user's (%ld) and "
			               "writable by no one else",
			               path, (long)st.st_uid, (unsigned)(st.st_mode & 0777), (long)geteuid());
		if (!(path[i] = c))
			break;
	}
	return KG_OK;
}

/* --- the sets, loaded in whichever process needs them --------------------------------------- */

struct loader {
	const char *db_path;
	int64_t batch;
	const struct settings *set;
	struct store *st; /* opened on first use, in the process that uses it (never across fork) */
	const struct nightly_io *io;
	struct store *main; /* the caller's: render claims are made there, before a fork */
	char holder[300];   /* this renderer in the claims: host and pid */
};

/* A progress bar on stderr when it is a terminal: "render [#####.....] 12/40". */
static void progress_bar(void *ctx, int done, int total)
{
	const struct loader *l = ctx;
	if (!l->io || !l->io->progress || total <= 0)
		return;
	int width = 30, full = done * width / total;
	fprintf(stderr, "\r  render [%.*s%.*s] %d/%d", full, "##############################", width - full,
	        "..............................", done, total);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

static void add_barcode(const struct settings *set, struct mailset *m)
{
	struct postal_code pc;
	if (postal_encode(set, m->postal_code, m->addr_block, m->addr_building, &pc)) {
		m->no_barcode_reason = kg_strdup("住所表示番号を読み取れません");
		return;
	}
	if (pc.skip) {
		m->no_barcode_reason = kg_strdup(pc.skip);
		return;
	}
	struct sbuf code = SBUF_INIT;
	for (size_t i = 0; i < POSTAL_CHARS; i++)
		sbuf_addf(&code, "%s%s", i ? " " : "", pc.chars[i]);
	sbuf_addf(&code, " (%s)", pc.check);
	m->barcode_code = sbuf_detach(&code);
	m->barcode = kg_strdup(pc.bars);
}

static enum kg_err load_sets(void *ctx, int from, int to, struct mailset **sets, size_t *n)
{
	struct loader *l = ctx;
	enum kg_err err;
	if (!l->st && (err = store_open(l->db_path, &l->st)))
		return err;
	if ((err = store_batch_sets(l->st, l->batch, from, to, sets, n)))
		return err;
	for (size_t i = 0; i < *n; i++)
		add_barcode(l->set, &(*sets)[i]);
	return KG_OK;
}

static void release_sets(void *ctx, struct mailset *sets, size_t n)
{
	(void)ctx;
	store_sets_free(sets, n);
}

/* --- resume hygiene ---------------------------------------------------------------------------- */

/* Removes what a killed run left half-written: every dot-file or dot-folder in the batch
 * folder is a temporary by the writers' convention (afile: .NAME.XXXXXX, proofs: .proofs.tmp-PID).
 * Nothing under a final name is touched. */
static enum kg_err remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return KG_OK;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
		struct dirent *e;
		enum kg_err err = KG_OK;
		while (!err && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[4096];
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			err = remove_tree(sub);
		}
		closedir(d);
		if (!err && rmdir(path) != 0)
			err = kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
		return err;
	}
	return unlink(path) == 0 ? KG_OK : kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
}

static enum kg_err remove_temporaries(const char *dir, time_t before);

/* How long a renderer's claim on a file lasts before another machine may take it over (render.h):
 * longer than the slowest file takes; a file made twice is the same bytes, renamed into place. */
static int render_lease(void)
{
	const char *v = getenv("KIGEN_RENDER_LEASE");
	long n = v ? strtol(v, NULL, 10) : 0;
	return n > 0 && n < 86400 ? (int)n : 120;
}

/* Several machines on one batch (a server database): each file is claimed in the database first. */
static enum kg_err claim_file(void *ctx, const char *name)
{
	struct loader *l = ctx;
	enum kg_err err = store_render_claim(l->main, l->batch, name, l->holder, render_lease());
	if (!err)
		fault_point("render_claimed", name);
	return err;
}

/* Removes the temporaries of dir, only those older than before when it is not 0: on a shared
 * folder another machine's are in use until its claim runs out. */
static enum kg_err remove_temporaries(const char *dir, time_t before)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? KG_OK : kg_fail(KG_EIO, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	enum kg_err err = KG_OK;
	while (!err && (e = readdir(d))) {
		if (e->d_name[0] != '.' || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (before && lstat(path, &st) == 0 && st.st_mtime >= before)
			continue;
		err = remove_tree(path);
	}
	closedir(d);
	return err;
}

/* A rendered batch whose files are gone (deleted by hand, or lost with a full tmpfs) goes back
 * to render: the renderer remakes only what is missing, byte for byte as before. */
static enum kg_err check_rendered(const struct nightly_env *env, int64_t batch, const char *dir, bool *missing)
{
	struct store_file *f = NULL;
	size_t n = 0;
	*missing = false;
	enum kg_err err = store_batch_files(env->store, batch, &f, &n);
	for (size_t i = 0; !err && i < n && !*missing; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, f[i].name);
		struct stat st; /* a symbolic link under a final name is not a written file */
		*missing = lstat(path, &st) != 0 || !S_ISREG(st.st_mode);
	}
	free(f);
	return err;
}

/* --- stages ---------------------------------------------------------------------------------- */

static enum kg_err set_state(struct store *st, int64_t batch, enum store_batch_state s)
{
	enum kg_err err = store_batch_set_state(st, batch, s);
	return err ? err : store_batch_set_error(st, batch, "");
}

/* --- holds ------------------------------------------------------------------------------------ */

/* Moves notice n to `to` inside the caller's transaction. A notice that leaves its batch (it
 * was QUEUED) has the batch renumbered 1..n and its files marked stale, and the batch goes back
 * to render: so the printed sets of a batch are always numbered without a gap, and a resumed
 * batch is still the one an uninterrupted run makes (held first, then rendered). */
static enum kg_err move_notice(struct store *st, const struct store_notice_ref *n, enum store_notice_state to,
                               const char *action, const char *by, const char *reason)
{
	bool moved;
	enum kg_err err;
	if (n->state == STORE_QUEUED && n->batch_state >= STORE_EXPORTED)
		return kg_fail(KG_ESTATE, "notice %s: its batch %lld is already exported", n->app_id,
		               (long long)n->batch);
	if ((err = store_notice_move(st, n, to, action, by, reason, &moved)))
		return err;
	if (!moved)
		return kg_fail(KG_ESTATE, "notice %s changed meanwhile; try again", n->app_id);
	if (n->state != STORE_QUEUED || !n->batch)
		return KG_OK;
	if ((err = store_batch_renumber(st, n->batch)) ||
	    (err = store_batch_add_exclusion(st, n->batch, select_reason_name(SELECT_HELD), 1)) ||
	    (err = store_batch_set_stale(st, n->batch, true)))
		return err;
	return n->batch_state > STORE_SELECTED ? store_batch_set_state(st, n->batch, STORE_SELECTED) : KG_OK;
}

/* A batch whose numbering a hold changed: whatever its folder holds goes (every file there is an
 * output the stages make again, deterministically), the removal is made durable, then the mark
 * is cleared. A crash in between only repeats the removal. */
static enum kg_err clear_stale(const struct nightly_env *env, int64_t batch, const char *dir)
{
	struct store_batch b;
	enum kg_err err = store_batch_get(env->store, batch, &b);
	if (err || !b.stale_files)
		return err;
	DIR *d = opendir(dir);
	if (!d && errno != ENOENT)
		return kg_fail(KG_EIO, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	while (d && !err && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		err = remove_tree(path);
	}
	if (d)
		closedir(d);
	fault_point("stale_removed", NULL);
	if (!err && d)
		err = afile_sync_dir(dir);
	return err ? err : store_batch_set_stale(env->store, batch, false);
}

/* A hold's reason from the renderer's message, without the folder of the template: the reason
 * staff read names the template file, the line and the field. */
static char *hold_reason(const char *msg)
{
	const char *colon = strstr(msg, ": ");
	const char *slash = NULL;
	for (const char *p = msg; colon && p < colon; p++)
		if (*p == '/')
			slash = p;
	return kg_strdup(slash ? slash + 1 : msg);
}

struct unprintable {
	char app_id[24];
	char *reason;
};

/* The render stage's last line of defence, after a render failed: checks every set of the batch
 * (render_check, the renderer's own rules) and holds those that cannot be printed, in one
 * transaction. *held = 0 when every set can be printed: the failure was not a record's. */
static enum kg_err hold_unprintable(const struct nightly_env *env, struct render *r, int64_t batch, int n_sets,
                                    long *held)
{
	struct unprintable *bad = NULL;
	size_t n_bad = 0, alloc = 0;
	enum kg_err err = KG_OK;
	*held = 0;
	for (int from = 1; !err && from <= n_sets; from += 1000) {
		int to = from + 999 < n_sets ? from + 999 : n_sets;
		struct mailset *sets = NULL;
		size_t k = 0;
		if ((err = store_batch_sets(env->store, batch, from, to, &sets, &k)))
			break;
		for (size_t i = 0; i < k; i++) {
			add_barcode(env->settings, &sets[i]);
			if (!render_check(r, &sets[i]))
				continue;
			KG_GROW(bad, n_bad + 1, alloc);
			snprintf(bad[n_bad].app_id, sizeof bad[n_bad].app_id, "%s", sets[i].app_id);
			bad[n_bad++].reason = hold_reason(kg_last_message());
		}
		store_sets_free(sets, k);
	}
	if (!err && n_bad && !(err = store_begin(env->store))) {
		for (size_t i = 0; !err && i < n_bad; i++) {
			struct store_notice_ref ref;
			if (!(err = store_notice_ref(env->store, bad[i].app_id, &ref)))
				err = move_notice(env->store, &ref, STORE_HELD, "hold", "kigen", bad[i].reason);
		}
		if (err || (err = store_commit(env->store)))
			store_rollback(env->store);
		else
			*held = (long)n_bad;
	}
	for (size_t i = 0; i < n_bad; i++)
		free(bad[i].reason);
	free(bad);
	return err;
}

enum kg_err nightly_notice(const struct nightly_env *env, enum nightly_notice_action action, const char *app_id,
                           const char *by, const char *reason, struct store_notice_ref *before)
{
	static const char *const names[] = {"hold", "release", "void"};
	if (!rules_appid_valid(app_id))
		return kg_fail(KG_EINPUT, "%s is not an application ID (23 digits, the last a check digit)", app_id);
	if (action != NIGHTLY_RELEASE && (!reason || !*reason))
		return kg_fail(KG_EUSAGE, "notice %s: --reason is required", names[action]);
	enum kg_err err = store_begin(env->store);
	if (err)
		return err;
	struct store_notice_ref n;
	if ((err = store_notice_ref(env->store, app_id, &n)))
		goto out;
	*before = n;
	enum store_notice_state st = n.state;
	switch (action) {
	case NIGHTLY_HOLD:
		if (st == STORE_PRINTED)
			err = kg_fail(KG_ESTATE, "notice %s was handed to the print shop (batch %lld): void it instead",
			              app_id, (long long)n.batch);
		else if (st != STORE_QUEUED && st != STORE_RELEASED)
			err = kg_fail(KG_ESTATE, "notice %s is %s: only a notice not yet printed can be held", app_id,
			              store_notice_state_name(st));
		else
			err = move_notice(env->store, &n, STORE_HELD, "hold", by, reason);
		break;
	case NIGHTLY_RELEASE:
		if (st != STORE_HELD)
			err = kg_fail(KG_ESTATE, "notice %s is %s, not held", app_id, store_notice_state_name(st));
		else
			err = move_notice(env->store, &n, STORE_RELEASED, "release", by, reason ? reason : "");
		break;
	case NIGHTLY_VOID:
		if (st == STORE_REDEEMED || st == STORE_REINQUIRED || st == STORE_VOID)
			err = kg_fail(KG_ESTATE, "notice %s is %s: that is final", app_id, store_notice_state_name(st));
		else
			err = move_notice(env->store, &n, STORE_VOID, "void", by, reason);
		break;
	}
	if (!err)
		err = store_commit(env->store);
out:
	store_rollback(env->store);
	return err;
}

/* --- stages (continued) ---------------------------------------------------------------------- */

enum kg_err nightly_render(const struct nightly_env *env, int64_t batch, struct nightly_batch_report *rep)
{
	struct store_batch b;
	enum kg_err err = store_batch_get(env->store, batch, &b);
	if (err || b.state >= STORE_RENDERED)
		return err;
	double t0 = now_seconds();
	nightly_batch_dir(env->out_dir, b.run_date, batch, rep->dir, sizeof rep->dir);
	logf_(&env->io, "batch %lld: render: %ld sets into %s", (long long)batch, b.notices, rep->dir);

	unsigned char *kinds = NULL, *pieces = NULL;
	int n = 0;
	struct render *r = NULL;
	struct render_file_info *files = NULL;
	size_t n_files = 0;
	struct loader l = {env->db_path, batch, env->settings, NULL, &env->io, env->store, ""};
	bool shared = store_is_server(env->db_path); /* other machines may render this batch too */
	char host[256] = "?";
	gethostname(host, sizeof host - 1);
	snprintf(l.holder, sizeof l.holder, "%s pid %ld", host, (long)getpid());
	if ((err = dirs_ours(env->out_dir, rep->dir, true)) || (err = render_new(env->settings, &r)))
		goto out;
	for (;;) {
		if ((err = clear_stale(env, batch, rep->dir)) ||
		    (err = remove_temporaries(rep->dir, shared ? time(NULL) - render_lease() : 0)) ||
		    (err = store_batch_plan(env->store, batch, &kinds, &n)))
			goto out;
		pieces = kg_malloc((size_t)n + 1);
		for (int i = 0; i < n; i++)
			pieces[i] = render_pieces(kinds[i] >> 1, kinds[i] & 1);
		struct render_source src = {
			n, pieces, load_sets, release_sets, &l, progress_bar, shared ? claim_file : NULL};
		if ((err = render_batch(r, rep->dir, &src, env->workers, &files, &n_files)) != KG_ERENDER)
			break;
		/* A page could not be drawn: hold the sets that cannot be printed and render again,
		 * or, when none is to blame, stop with the renderer's message. */
		char *why = kg_strdup(kg_last_message());
		long held = 0;
		if (!(err = hold_unprintable(env, r, batch, n, &held)) && !held)
			err = kg_fail(KG_ERENDER, "%s", why);
		free(why);
		if (err)
			goto out;
		logf_(&env->io,
		      "batch %lld: render: %ld sets cannot be printed and are held (kigen notice list --held)",
		      (long long)batch, held);
		free(kinds);
		free(pieces);
		kinds = pieces = NULL;
	}
	if (err)
		goto out;
	fault_point("after_render", NULL);
	if ((err = store_begin(env->store)))
		goto out;
	for (size_t i = 0; !err && i < n_files; i++) {
		struct store_file f = {"", files[i].doc, files[i].pages, files[i].seq_from, files[i].seq_to};
		snprintf(f.name, sizeof f.name, "%s", files[i].name);
		err = store_batch_file_add(env->store, batch, &f);
	}
	if (err || (err = set_state(env->store, batch, STORE_RENDERED)) || (err = store_commit(env->store))) {
		store_rollback(env->store);
		goto out;
	}
	rep->seconds[1] = now_seconds() - t0;
	rep->stage_ran[1] = true;
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	logf_(&env->io, "batch %lld: render: %zu files in %.1f s (peak memory: runner %.1f MB, largest worker %.1f MB)",
	      (long long)batch, n_files, rep->seconds[1], self.ru_maxrss / 1024.0, kids.ru_maxrss / 1024.0);
out:
	store_close(l.st);
	render_free(r);
	free(files);
	free(kinds);
	free(pieces);
	return err;
}

static enum kg_err collect_exclusion(void *ctx, const char *reason, long count)
{
	struct manifest_batch *mb = ctx;
	char **reasons = (char **)mb->excluded_reasons;
	long *counts = (long *)mb->excluded_counts;
	reasons = kg_realloc(reasons, (mb->n_excluded + 1) * sizeof *reasons);
	counts = kg_realloc(counts, (mb->n_excluded + 1) * sizeof *counts);
	reasons[mb->n_excluded] = kg_strdup(reason);
	counts[mb->n_excluded] = count;
	mb->excluded_reasons = (const char *const *)reasons;
	mb->excluded_counts = counts;
	mb->n_excluded++;
	return KG_OK;
}

enum kg_err nightly_export(const struct nightly_env *env, int64_t batch, struct nightly_batch_report *rep)
{
	struct store_batch b;
	enum kg_err err = store_batch_get(env->store, batch, &b);
	if (err || b.state >= STORE_EXPORTED)
		return err;
	if (b.state < STORE_RENDERED)
		return kg_fail(KG_ESTATE, "batch %lld is not rendered yet (kigen render --batch %lld)",
		               (long long)batch, (long long)batch);
	double t0 = now_seconds();
	nightly_batch_dir(env->out_dir, b.run_date, batch, rep->dir, sizeof rep->dir);
	bool missing;
	if ((err = dirs_ours(env->out_dir, rep->dir, false)) || (err = check_rendered(env, batch, rep->dir, &missing)))
		return err;
	if (missing)
		return kg_fail(KG_ESTATE, "batch %lld: rendered files are missing from %s; render it again",
		               (long long)batch, rep->dir);
	if ((err = remove_temporaries(rep->dir, 0)))
		return err;
	logf_(&env->io, "batch %lld: export: manifests and checksums", (long long)batch);

	struct store_file *sf = NULL;
	size_t n_files = 0;
	struct manifest_file *mf = NULL;
	struct manifest_batch mb = {.id = batch, .run_date = b.run_date};
	unsigned char *kinds = NULL;
	int n = 0;
	struct loader l = {env->db_path, batch, env->settings, NULL, NULL, NULL, ""};
	if ((err = store_batch_files(env->store, batch, &sf, &n_files)) ||
	    (err = store_batch_exclusions(env->store, batch, collect_exclusion, &mb)) ||
	    (err = store_batch_plan(env->store, batch, &kinds, &n)))
		goto out;
	mf = kg_calloc(n_files + 1, sizeof *mf);
	for (size_t i = 0; i < n_files; i++) {
		snprintf(mf[i].name, sizeof mf[i].name, "%s", sf[i].name);
		mf[i].pages = sf[i].pages;
		mf[i].seq_from = sf[i].seq_from;
		mf[i].seq_to = sf[i].seq_to;
	}
	mb.files = mf;
	mb.n_files = n_files;
	struct manifest_source src = {n, load_sets, release_sets, &l};
	if ((err = manifest_write(rep->dir, env->settings, &mb, &src)))
		goto out;
	fault_point("after_export", NULL);
	if ((err = store_begin(env->store)) || (err = set_state(env->store, batch, STORE_EXPORTED)) ||
	    (err = store_batch_mark_printed(env->store, batch)) || (err = store_commit(env->store))) {
		store_rollback(env->store);
		goto out;
	}
	rep->seconds[2] = now_seconds() - t0;
	rep->stage_ran[2] = true;
	logf_(&env->io, "batch %lld: export: done in %.1f s", (long long)batch, rep->seconds[2]);
out:
	store_close(l.st);
	for (size_t i = 0; i < mb.n_excluded; i++)
		free((char *)mb.excluded_reasons[i]);
	free((void *)mb.excluded_reasons);
	free((void *)mb.excluded_counts);
	free(mf);
	free(sf);
	free(kinds);
	return err;
}

/* Counts of a batch by what is mailed. */
static enum kg_err count_kinds(struct store *st, int64_t batch, struct nightly_batch_report *rep)
{
	unsigned char *kinds;
	int n;
	enum kg_err err = store_batch_plan(st, batch, &kinds, &n);
	if (err)
		return err;
	rep->card = rep->cert = rep->reinquiries = 0;
	for (int i = 0; i < n; i++) {
		if (kinds[i] >> 1 == MAILSET_REINQUIRY)
			rep->reinquiries++;
		else if ((kinds[i] & 1) == MAILSET_CARD)
			rep->card++;
		else
			rep->cert++;
	}
	free(kinds);
	return store_batch_count_no_jlis(st, batch, &rep->card_without_jlis_id);
}

#define FORECAST_WEEKS 26

struct holds {
	struct report_hold *list;
	size_t n, alloc;
};

static enum kg_err collect_hold(void *ctx, const char *app_id, const char *by, const char *reason)
{
	struct holds *h = ctx;
	KG_GROW(h->list, h->n + 1, h->alloc);
	h->list[h->n++] = (struct report_hold){kg_strdup(app_id), kg_strdup(by), kg_strdup(reason)};
	return KG_OK;
}

/* The run's report beside the batch folders (out/DATE/report.html, forecast.png): the batch
 * folder itself stays exactly what SHA256SUMS lists. */
static enum kg_err write_report(const struct nightly_env *env, int64_t batch, struct nightly_batch_report *rep,
                                struct sbuf *summary)
{
	double t0 = now_seconds();
	struct manifest_batch mb = {0};
	long forecast[FORECAST_WEEKS], returned_waiting = 0, returned_remailed = 0;
	char day_dir[512];
	snprintf(day_dir, sizeof day_dir, "%s", rep->dir);
	*strrchr(day_dir, '/') = '\0';
	struct holds holds = {0};
	enum kg_err err;
	if ((err = count_kinds(env->store, batch, rep)) ||
	    (err = store_batch_exclusions(env->store, batch, collect_exclusion, &mb)) ||
	    (err = store_batch_holds(env->store, batch, collect_hold, &holds)) ||
	    (err = select_forecast(env->store, env->settings, rep->run_date + 1, FORECAST_WEEKS, forecast)) ||
	    (err = store_returned_count(env->store, &returned_waiting, &returned_remailed)))
		goto out;
	static const char *const names[] = {"select", "render", "export", "report"};
	struct report_stage stages[4];
	size_t n_stages = 0;
	rep->seconds[3] = now_seconds() - t0;
	rep->stage_ran[3] = true;
	for (int i = 0; i < 4; i++)
		if (rep->stage_ran[i])
			stages[n_stages++] = (struct report_stage){names[i], rep->seconds[i]};
	struct report_input in = {
		.batch = batch,
		.run_date = rep->run_date,
		.card = rep->card,
		.card_without_jlis_id = rep->card_without_jlis_id,
		.cert = rep->cert,
		.reinquiries = rep->reinquiries,
		.returned_waiting = returned_waiting,
		.returned_remailed = returned_remailed,
		.excluded_reasons = mb.excluded_reasons,
		.excluded_counts = mb.excluded_counts,
		.n_excluded = mb.n_excluded,
		.holds = holds.list,
		.n_holds = holds.n,
		.stages = stages,
		.n_stages = n_stages,
		.forecast = forecast,
		.forecast_from = rep->run_date + 1,
		.forecast_weeks = FORECAST_WEEKS,
	};
	if ((err = report_write(day_dir, &in)) || (summary && (err = report_summary(rep->dir, &in, summary))))
		goto out;
	logf_(&env->io, "batch %lld: report: %s/report.html", (long long)batch, day_dir);
out:
	for (size_t i = 0; i < holds.n; i++) {
		free((char *)holds.list[i].app_id);
		free((char *)holds.list[i].by);
		free((char *)holds.list[i].reason);
	}
	free(holds.list);
	for (size_t i = 0; i < mb.n_excluded; i++)
		free((char *)mb.excluded_reasons[i]);
	free((void *)mb.excluded_reasons);
	free((void *)mb.excluded_counts);
	return err;
}

/* Every stage a batch still needs, in order. */
static enum kg_err finish_batch(const struct nightly_env *env, int64_t batch, struct nightly_batch_report *rep)
{
	struct store_batch b;
	enum kg_err err = store_batch_get(env->store, batch, &b);
	if (err)
		return err;
	rep->batch = batch;
	rep->run_date = b.run_date;
	rep->notices = b.notices;
	nightly_batch_dir(env->out_dir, b.run_date, batch, rep->dir, sizeof rep->dir);
	if (b.state >= STORE_RENDERED && b.state < STORE_DONE) {
		bool missing;
		if ((err = check_rendered(env, batch, rep->dir, &missing)))
			goto fail;
		if (missing) {
			logf_(&env->io, "batch %lld: rendered files are missing; rendering again", (long long)batch);
			if ((err = set_state(env->store, batch, STORE_SELECTED)))
				goto fail;
		}
	}
	if ((err = nightly_render(env, batch, rep)) || (err = nightly_export(env, batch, rep)))
		goto fail;
	if (b.state < STORE_DONE) {
		if ((err = write_report(env, batch, rep, env->summary)) ||
		    (err = set_state(env->store, batch, STORE_DONE)))
			goto fail;
	}
	return KG_OK;
fail:
	/* Keep the stage state (the next run resumes from it); remember why this run stopped. */
	if (err != KG_ELOCKED) {
		char why[256];
		snprintf(why, sizeof why, "%s", kg_last_message());
		if (store_batch_set_error(env->store, batch, why) != KG_OK) {
			/* the stage's own failure is the one to report */
		}
		kg_fail(err, "%s", why);
	}
	return err;
}

static struct nightly_batch_report *add_report(struct nightly_batch_report **list, size_t *n)
{
	*list = kg_realloc(*list, (*n + 1) * sizeof **list);
	memset(&(*list)[*n], 0, sizeof **list);
	return &(*list)[(*n)++];
}

/* The vetter of selection: names and addresses no font can draw get their 代替文字, or are held;
 * then the whole set, as it would be printed, is checked by the renderer's own rules. */
struct vet_ctx {
	struct render *render;
	const struct settings *set;
	char app_id[24];
};

static enum kg_err vet(void *ctx, const struct mailset *m, char *print[4], char **hold)
{
	struct vet_ctx *v = ctx;
	const char *const fields[4] = {m->name, m->addr_town, m->addr_block, m->addr_building};
	static const char *const labels[4] = {"氏名", "住所（町域）", "住所（番地・号）", "住所（方書）"};
	struct fonts *fonts = render_fonts(v->render);
	struct sbuf missing = SBUF_INIT;
	enum kg_err err = KG_OK;
	for (int i = 0; i < 4 && !*hold; i++) {
		sbuf_reset(&missing);
		if (!fields[i] || !fonts_missing(fonts, fields[i], &missing))
			continue;
		struct sbuf out = SBUF_INIT;
		err = fonts_substitute(fonts, v->set, fields[i], &out);
		if (err == KG_EINPUT) {
			struct sbuf why = SBUF_INIT;
			sbuf_addf(&why, "%s: 印刷できない文字（代替文字なし）: %s", labels[i], missing.buf);
			*hold = sbuf_detach(&why);
			err = KG_OK;
		} else if (!err) {
			print[i] = sbuf_detach(&out);
		} else {
			sbuf_release(&out);
			break;
		}
		sbuf_release(&out);
	}
	sbuf_release(&missing);
	if (err || *hold)
		return err;
	/* Placeholders as wide as the real ones: the ID and the sequence number are fixed-width. */
	struct mailset p = *m;
	p.batch = 9999;
	p.seq = 999999;
	snprintf(p.app_id, sizeof p.app_id, "%s", v->app_id);
	for (int i = 0; i < 4; i++)
		if (print[i])
			*(i == 0   ? &p.name
			  : i == 1 ? &p.addr_town
			  : i == 2 ? &p.addr_block
			           : &p.addr_building) = print[i];
	add_barcode(v->set, &p);
	if (render_check(v->render, &p))
		*hold = hold_reason(kg_last_message());
	free((char *)p.barcode);
	free((char *)p.barcode_code);
	free((char *)p.no_barcode_reason);
	return KG_OK;
}

enum kg_err nightly_select(const struct nightly_env *env, int run_date, bool dry_run, struct select_result *res)
{
	struct vet_ctx vc = {NULL, env->settings, ""};
	enum kg_err err = render_new(env->settings, &vc.render);
	if (err)
		return err;
	snprintf(vc.app_id, sizeof vc.app_id, "%.6s%017d", env->settings->lgcode ? env->settings->lgcode : "000000", 0);
	struct select_vetter vetter = {vet, &vc};
	err = select_run(env->store, env->settings, run_date, dry_run, &vetter, res);
	render_free(vc.render);
	return err;
}

enum kg_err nightly_run(const struct nightly_env *env, int run_date, struct select_result *sel,
                        struct nightly_batch_report **reports, size_t *n_reports)
{
	*reports = NULL;
	*n_reports = 0;
	memset(sel, 0, sizeof *sel);
	struct store_batch *batches = NULL;
	size_t n = 0;
	enum kg_err err;

	/* First what an earlier run left unfinished, oldest first. */
	if ((err = store_batches(env->store, &batches, &n)))
		return err;
	for (size_t i = n; !err && i-- > 0;) {
		if (batches[i].state >= STORE_DONE)
			continue;
		logf_(&env->io, "batch %lld: resuming from state %s", (long long)batches[i].id,
		      store_batch_state_name(batches[i].state));
		err = finish_batch(env, batches[i].id, add_report(reports, n_reports));
	}
	free(batches);
	if (err)
		return err;

	double t0 = now_seconds();
	if ((err = nightly_select(env, run_date, false, sel)))
		return err;
	if (!sel->batch) {
		logf_(&env->io, "select: nothing due");
		return KG_OK;
	}
	struct nightly_batch_report *rep = add_report(reports, n_reports);
	rep->seconds[0] = now_seconds() - t0;
	rep->stage_ran[0] = true;
	logf_(&env->io, "select: batch %lld, %ld notices in %.1f s", (long long)sel->batch, sel->notices,
	      rep->seconds[0]);
	fault_point("after_select", NULL);
	return finish_batch(env, sel->batch, rep);
}
