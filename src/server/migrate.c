/*
 * Migration from the embedded store to PostgreSQL, through the store
 * interface on both sides, so the copy obeys the same rules as the server
 * (revision numbers follow each other, content is stored under its
 * SHA-256, identical content once).
 *
 * Order: users, then per project its row, its revisions in order (content
 * first, hashed on the way out of SQLite and again by the PostgreSQL
 * writer; both must equal the recorded SHA-256), its locks; then every
 * revision is read back from PostgreSQL and hashed. A revision PostgreSQL
 * already has with the same SHA-256 is kept, so an interrupted run can be
 * run again; one with a different SHA-256 means the two stores have
 * diverged, and that project is left alone. Sessions are not copied:
 * users log in again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "atrium/util.h"
#include "server/migrate.h"
#include "server/server.h"
#include "server/store.h"
#include "server/store_pg_int.h"

#define PIECE (1024 * 1024)

struct names {
	char (*v)[STORE_NAME_MAX + 1];
	size_t n, cap;
};

struct mig {
	struct store *src, *dst;
	struct store_conn *ssc, *dsc;
	unsigned char *buf;
	/* Totals for the summary. */
	int64_t users_new, users_kept, projects_new, projects_kept;
	int64_t revs_new, revs_kept, revs_verified, bytes, locks_new;
	int64_t integrations_new, integrations_kept;
	int failures;
};

static int
add_name(struct names *n, const char *name)
{
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 64;
		void *bigger = realloc(n->v, cap * sizeof(*n->v));
		if (bigger == NULL)
			return 1;
		n->v = bigger;
		n->cap = cap;
	}
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", name);
	return 0;
}

static int
each_user(const struct store_user *u, void *arg)
{
	return add_name(arg, u->name);
}

static int
each_project(const struct store_project *p, void *arg)
{
	return add_name(arg, p->name);
}

static void
fail(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(struct mig *m, const char *fmt, ...)
{
	va_list ap;

	fputs("atriumd: migrate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	m->failures++;
}

static int
copy_users(struct mig *m)
{
	struct names names = {0};
	struct store_user u;
	struct atr_err err;
	char hash[512];
	int rc = 0;

	if (store_user_list(m->ssc, each_user, &names, &err) == -1) {
		fail(m, "cannot list the users: %s", atr_err_msg(&err));
		free(names.v);
		return -1;
	}
	for (size_t i = 0; i < names.n; i++) {
		int added;
		if (store_user_get(m->ssc, names.v[i], &u, hash, sizeof(hash), &err) == -1 ||
		    (added = store_pg_user_import(m->dsc, &u, hash, &err)) == -1) {
			fail(m, "user '%s': %s", names.v[i], atr_err_msg(&err));
			rc = -1;
			continue;
		}
		/* A directory account stays one (its profile, and no usable
		 * password), or it could no longer log in after the move. */
		if (added) {
			struct store_user_profile p;
			if (store_user_get_profile(m->ssc, u.name, &p, &err) == -1 ||
			    (strcmp(p.source, "directory") == 0 &&
				store_user_sync_directory(m->dsc, u.name, u.role, p.display_name,
				    p.email, u.created, NULL, &err) == -1)) {
				fail(m, "user '%s': %s", u.name, atr_err_msg(&err));
				rc = -1;
				continue;
			}
		}
		if (added)
			m->users_new++;
		else
			m->users_kept++;
	}
	atr_wipe(hash, sizeof(hash));
	free(names.v);
	return rc;
}

/* One integration as it is, secret and state included; what it was sent
 * or is still to be sent stays behind (deliveries, their log), so its
 * seq starts again from 1 in PostgreSQL. */
static int
each_integration(const struct store_integration *in, void *arg)
{
	struct mig *m = arg;
	struct store_integration copy = *in;
	struct atr_err err;

	copy.ca_pem = in->ca_pem != NULL ? strdup(in->ca_pem) : NULL;
	copy.client_pem = in->client_pem != NULL ? strdup(in->client_pem) : NULL;
	if ((in->ca_pem != NULL && copy.ca_pem == NULL) ||
	    (in->client_pem != NULL && copy.client_pem == NULL)) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		fail(m, "integration '%s': %s", in->name, atr_err_msg(&err));
	} else if (store_integration_create(m->dsc, &copy, &err) == 0) {
		m->integrations_new++;
	} else if (err.code == ATR_E_EXISTS) {
		m->integrations_kept++;
	} else {
		fail(m, "integration '%s': %s", in->name, atr_err_msg(&err));
	}
	store_integration_clear(&copy);
	return 0;
}

static void
copy_integrations(struct mig *m)
{
	struct atr_err err;

	if (store_integration_list(m->ssc, each_integration, m, &err) == -1)
		fail(m, "cannot list the integrations: %s", atr_err_msg(&err));
}

/* Copies the content of r from the embedded store into PostgreSQL, checking
 * its SHA-256 on the way out and on the way in. */
static int
copy_content(struct mig *m, const char *project, const struct store_revision *r)
{
	struct store_blob_reader *rd = NULL;
	struct store_blob_writer *w = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32];
	char src_sha[65], dst_sha[65];
	struct atr_err err;
	int64_t off = 0;
	int rc = -1;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		fail(m, "out of memory");
		goto out;
	}
	if ((rd = store_blob_reader_open(m->ssc, r->sha256, r->size, &err)) == NULL ||
	    (w = store_blob_writer_new(m->dst, &err)) == NULL) {
		fail(m, "'%s' revision %lld: %s", project, (long long)r->number, atr_err_msg(&err));
		goto out;
	}
	while (off < r->size) {
		int64_t got = store_blob_read(rd, m->ssc, m->buf, PIECE, off, &err);
		if (got <= 0) {
			fail(m, "'%s' revision %lld: reading the embedded store: %s", project,
			    (long long)r->number, got == 0 ? "the content ends early" : atr_err_msg(&err));
			goto out;
		}
		EVP_DigestUpdate(md, m->buf, (size_t)got);
		if (store_blob_write(w, m->dsc, m->buf, (size_t)got, &err) == -1) {
			fail(m, "'%s' revision %lld: %s", project, (long long)r->number,
			    atr_err_msg(&err));
			goto out;
		}
		off += got;
	}
	EVP_DigestFinal_ex(md, digest, NULL);
	atr_hex(digest, sizeof(digest), src_sha);
	if (strcmp(src_sha, r->sha256) != 0) {
		fail(m, "'%s' revision %lld is damaged in the embedded store: its content hashes to "
			"%s, not %s; not copied",
		    project, (long long)r->number, src_sha, r->sha256);
		goto out;
	}
	rc = store_blob_finish(w, m->dsc, dst_sha, &err);
	w = NULL;
	if (rc == -1) {
		fail(m, "'%s' revision %lld: %s", project, (long long)r->number, atr_err_msg(&err));
		goto out;
	}
	if (strcmp(dst_sha, r->sha256) != 0) {
		fail(m, "'%s' revision %lld: PostgreSQL stored content hashing to %s, not %s", project,
		    (long long)r->number, dst_sha, r->sha256);
		rc = -1;
	}
	m->bytes += r->size;
out:
	store_blob_abort(w);
	store_blob_reader_close(rd);
	EVP_MD_CTX_free(md);
	return rc;
}

/* Reads revision n of project back from PostgreSQL and checks it. */
static int
verify(struct mig *m, const char *project, const struct store_revision *want)
{
	struct store_revision r;
	struct store_blob_reader *rd;
	struct atr_err err;
	EVP_MD_CTX *md;
	unsigned char digest[32];
	char sha[65];
	int64_t off = 0;

	if (store_revision_get_in(m->dsc, project, want->branch, want->number, &r, &err) == -1) {
		fail(m, "'%s' revision %lld: %s", project, (long long)want->number, atr_err_msg(&err));
		return -1;
	}
	if (strcmp(r.sha256, want->sha256) != 0 || r.size != want->size) {
		fail(m, "'%s' revision %lld differs in PostgreSQL", project, (long long)want->number);
		return -1;
	}
	if ((rd = store_blob_reader_open(m->dsc, r.sha256, r.size, &err)) == NULL) {
		fail(m, "'%s' revision %lld: %s", project, (long long)r.number, atr_err_msg(&err));
		return -1;
	}
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		store_blob_reader_close(rd);
		fail(m, "out of memory");
		return -1;
	}
	while (off < r.size) {
		int64_t got = store_blob_read(rd, m->dsc, m->buf, PIECE, off, &err);
		if (got <= 0)
			break;
		EVP_DigestUpdate(md, m->buf, (size_t)got);
		off += got;
	}
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	store_blob_reader_close(rd);
	atr_hex(digest, sizeof(digest), sha);
	if (off != r.size || strcmp(sha, r.sha256) != 0) {
		fail(m, "'%s' revision %lld does not verify in PostgreSQL: %lld of %lld bytes, "
			"sha256 %s instead of %s",
		    project, (long long)r.number, (long long)off, (long long)r.size, sha, r.sha256);
		return -1;
	}
	m->revs_verified++;
	return 0;
}

struct lock_copy {
	struct mig *m;
	const char *project;
};

static int
each_lock(const struct store_lock *l, void *arg)
{
	struct lock_copy *lc = arg;
	struct atr_err err;
	const char *el = l->element;
	int64_t taken = 0;
	int rc = store_locks_take(lc->m->dsc, lc->project, l->branch, &el, 1, l->holder, l->since,
	    NULL, NULL, &taken, &err);

	if (rc == 0 && taken == 1)
		lc->m->locks_new++;
	else if (rc == -1 && err.code != ATR_E_CONFLICT)
		fail(lc->m, "'%s' lock on '%s': %s", lc->project, l->element, atr_err_msg(&err));
	return 0;
}

/* A project's branches, copied from the listing. */
struct branch_list {
	struct store_branch *v;
	size_t n, cap;
};

static int
each_branch(const struct store_branch *b, void *arg)
{
	struct branch_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *bigger = realloc(l->v, cap * sizeof(*l->v));
		if (bigger == NULL)
			return 1;
		l->v = bigger;
		l->cap = cap;
	}
	l->v[l->n++] = *b;
	return 0;
}

static int
cmp_branch(const void *a, const void *b)
{
	const struct store_branch *x = a, *y = b;
	int tx = strcmp(x->name, STORE_TRUNK) == 0, ty = strcmp(y->name, STORE_TRUNK) == 0;

	if (tx != ty)
		return ty - tx;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
each_tag(const struct store_tag *t, void *arg)
{
	struct lock_copy *lc = arg;
	struct atr_err err;

	if (store_tag_create(lc->m->dsc, lc->project, t->name, t->branch, t->revision, t->created_by,
		t->created, NULL, &err) == -1 &&
	    err.code != ATR_E_EXISTS)
		fail(lc->m, "'%s' tag '%s': %s", lc->project, t->name, atr_err_msg(&err));
	return 0;
}

/*
 * Copies branch b of project name: creates it (its revision 1 is then the
 * copy of its origin, as in the source), adds the revisions PostgreSQL
 * lacks, and verifies every one. -1 when the project must be left alone.
 */
static int
copy_branch(struct mig *m, const char *name, const struct store_branch *b,
    struct store_revision *r, struct store_revision *have, int64_t *copied, int64_t *kept)
{
	struct store_branch db;
	struct store_revision head;
	struct atr_err err;

	if (strcmp(b->name, STORE_TRUNK) != 0 &&
	    store_branch_get(m->dsc, name, b->name, &db, &err) == -1) {
		if (err.code != ATR_E_NOT_FOUND ||
		    store_branch_create(m->dsc, name, b->name, b->from_branch,
			b->from_revision > 0 ? b->from_revision : -1, b->created_by, b->created, NULL,
			&err) == -1) {
			fail(m, "'%s' branch '%s': %s", name, b->name, atr_err_msg(&err));
			return -1;
		}
	}
	for (int64_t n = 1; n <= b->head; n++) {
		if (store_revision_get_in(m->ssc, name, b->name, n, r, &err) == -1) {
			fail(m, "'%s' %s revision %lld: %s", name, b->name, (long long)n,
			    atr_err_msg(&err));
			return -1;
		}
		if (store_revision_get_in(m->dsc, name, b->name, n, have, &err) == 0) {
			if (strcmp(have->sha256, r->sha256) != 0) {
				fail(m, "'%s' %s revision %lld differs in PostgreSQL (sha256 %.12s... by "
					"%s, here %.12s... by %s): the two stores have diverged; this "
					"project is left alone",
				    name, b->name, (long long)n, have->sha256, have->author, r->sha256,
				    r->author);
				return -1;
			}
			(*kept)++;
			continue;
		}
		if (err.code != ATR_E_NOT_FOUND) {
			fail(m, "'%s' %s revision %lld: %s", name, b->name, (long long)n,
			    atr_err_msg(&err));
			return -1;
		}
		if (copy_content(m, name, r) == -1)
			return -1;
		struct store_commit c = {name, b->name, n - 1, r->author, r->message, r->time,
			r->size, r->sha256, NULL, 0, 0};
		if (store_revision_commit_in(m->dsc, &c, &head, NULL, NULL, &err) == -1) {
			fail(m, "'%s' %s revision %lld: %s", name, b->name, (long long)n,
			    atr_err_msg(&err));
			return -1;
		}
		(*copied)++;
	}
	for (int64_t n = 1; n <= b->head; n++) {
		if (store_revision_get_in(m->ssc, name, b->name, n, r, &err) == -1) {
			fail(m, "'%s' %s revision %lld: %s", name, b->name, (long long)n,
			    atr_err_msg(&err));
			return -1;
		}
		verify(m, name, r);
	}
	return 0;
}

static void
copy_project(struct mig *m, const char *name)
{
	struct store_project sp, dp;
	struct store_revision *r = malloc(sizeof(*r)), *have = malloc(sizeof(*have));
	struct lock_copy lc = {m, name};
	struct branch_list bl = {NULL, 0, 0};
	struct atr_err err;
	int64_t copied = 0, kept = 0, total = 0, verified = m->revs_verified;
	int failures = m->failures;

	memset(&sp, 0, sizeof(sp));
	if (r == NULL || have == NULL) {
		fail(m, "out of memory");
		goto out;
	}
	if (store_project_get(m->ssc, name, &sp, &err) == -1) {
		fail(m, "project '%s': %s", name, atr_err_msg(&err));
		goto out;
	}
	if (store_project_get(m->dsc, name, &dp, &err) == 0) {
		m->projects_kept++;
	} else if (err.code == ATR_E_NOT_FOUND &&
		   store_project_create(m->dsc, name, sp.description, sp.created_by, sp.created,
		       &err) == 0) {
		m->projects_new++;
	} else {
		fail(m, "project '%s': %s", name, atr_err_msg(&err));
		goto out;
	}
	if (store_branch_list(m->ssc, name, each_branch, &bl, &err) == -1) {
		fail(m, "'%s' branches: %s", name, atr_err_msg(&err));
		goto out;
	}
	/* Oldest first (trunk first): a branch's origin is copied before it. */
	qsort(bl.v, bl.n, sizeof(*bl.v), cmp_branch);
	for (size_t k = 0; k < bl.n; k++) {
		total += bl.v[k].head;
		if (copy_branch(m, name, &bl.v[k], r, have, &copied, &kept) == -1)
			goto out;
	}
	if (store_tag_list(m->ssc, name, each_tag, &lc, &err) == -1)
		fail(m, "'%s' tags: %s", name, atr_err_msg(&err));
	if (store_lock_list(m->ssc, name, each_lock, &lc, &err) == -1)
		fail(m, "'%s' locks: %s", name, atr_err_msg(&err));
out:
	m->revs_new += copied;
	m->revs_kept += kept;
	printf("project '%s': %lld revisions: %lld copied, %lld already there; %lld verified "
	       "(sha256)%s\n",
	    name, (long long)total, (long long)copied, (long long)kept,
	    (long long)(m->revs_verified - verified), m->failures > failures ? "; FAILED" : "");
	fflush(stdout);
	free(r);
	free(have);
	free(bl.v);
}

/* Holds DIR/atriumd.lock so that no atriumd serves DIR meanwhile. */
static int
lock_datadir(const char *datadir)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/atriumd.lock", datadir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		fprintf(stderr, "atriumd: migrate: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		fprintf(stderr, "atriumd: migrate: an atriumd is serving %s; stop it first, so that "
				"nothing changes during the copy\n",
		    datadir);
		close(fd);
		return -1;
	}
	return fd;
}

int
migrate_main(const char *datadir, const char *confpath, const char *url,
    struct atr_config *overrides)
{
	struct mig m;
	struct atr_config *cfg = NULL, *scfg = NULL, *dcfg = NULL;
	struct names projects = {0};
	struct atr_err err;
	char path[4200];
	int lockfd = -1, rc = 1;

	memset(&m, 0, sizeof(m));
	atr_err_clear(&err);
	if (datadir == NULL || confpath == NULL || url == NULL ||
	    (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0)) {
		fprintf(stderr, "atriumd: usage: atriumd --data DIR migrate --to "
				"postgresql://USER@HOST:PORT/DBNAME\n");
		atr_config_free(overrides);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/atrium.db", datadir);
	if (access(path, R_OK) == -1) {
		fprintf(stderr, "atriumd: migrate: %s: %s; --data must name the data directory of an "
				"atriumd that used the embedded store\n",
		    path, strerror(errno));
		atr_config_free(overrides);
		return 1;
	}
	if ((lockfd = lock_datadir(datadir)) == -1)
		goto out;
	if ((cfg = server_load_config(confpath, overrides, CONF_USE_DEFAULTS, &err)) == NULL ||
	    (scfg = atr_config_dup(cfg)) == NULL || (dcfg = atr_config_dup(cfg)) == NULL ||
	    atr_config_set(scfg, "database", "sqlite", "migrate", &err) == -1 ||
	    atr_config_set(dcfg, "database", url, "--to", &err) == -1 ||
	    /* Verification must read PostgreSQL, not a local copy. */
	    atr_config_set(dcfg, "database_cache_size", "0", "migrate", &err) == -1) {
		fprintf(stderr, "atriumd: migrate: %s\n", atr_err_msg(&err));
		goto out;
	}
	if ((m.buf = malloc(PIECE)) == NULL ||
	    (m.src = store_open(scfg, datadir, &err)) == NULL ||
	    (m.ssc = store_conn_open(m.src, &err)) == NULL ||
	    (m.dst = store_open(dcfg, datadir, &err)) == NULL ||
	    (m.dsc = store_conn_open(m.dst, &err)) == NULL) {
		fprintf(stderr, "atriumd: migrate: %s\n",
		    m.buf == NULL ? "out of memory" : atr_err_msg(&err));
		goto out;
	}
	/* History that already happened: its events were delivered (or not)
	 * where it happened, and are not written again. */
	store_conn_set_events(m.dsc, 0);
	printf("copying %s into %s\n", store_describe(m.src), store_describe(m.dst));
	copy_users(&m);
	if (store_project_list(m.ssc, each_project, &projects, &err) == -1) {
		fprintf(stderr, "atriumd: migrate: cannot list the projects: %s\n", atr_err_msg(&err));
		goto out;
	}
	for (size_t i = 0; i < projects.n; i++)
		copy_project(&m, projects.v[i]);
	copy_integrations(&m);
	printf("users: %lld copied, %lld already there\n"
	       "projects: %lld copied, %lld already there\n"
	       "revisions: %lld copied (%lld bytes), %lld already there; %lld of %lld verified "
	       "(sha256 read back from PostgreSQL)\n"
	       "locks: %lld copied; sessions are not copied (users log in again)\n"
	       "integrations: %lld copied, %lld already there (their deliveries and log are "
	       "not copied)\n",
	    (long long)m.users_new, (long long)m.users_kept, (long long)m.projects_new,
	    (long long)m.projects_kept, (long long)m.revs_new, (long long)m.bytes,
	    (long long)m.revs_kept, (long long)m.revs_verified,
	    (long long)(m.revs_new + m.revs_kept), (long long)m.locks_new,
	    (long long)m.integrations_new, (long long)m.integrations_kept);
	if (m.failures > 0) {
		printf("migration INCOMPLETE: %d problem(s) above; fix them and run it again (what "
		       "was copied is kept)\n",
		    m.failures);
		goto out;
	}
	printf("migration complete: give every node the --to URL as `database`, with the same "
	       "database_ssl settings, in its settings file (this one's is %s)\n", confpath);
	rc = 0;
out:
	free(projects.v);
	free(m.buf);
	store_conn_close(m.dsc);
	store_close(m.dst);
	store_conn_close(m.ssc);
	store_close(m.src);
	atr_config_free(dcfg);
	atr_config_free(scfg);
	atr_config_free(cfg);
	atr_config_free(overrides);
	if (lockfd != -1)
		close(lockfd);
	return rc;
}
