/*
 * atrium commit, atrium checkout: a file up as a project's next revision,
 * a revision down into a file. Both stream, so memory does not grow with
 * the file, and a checkout writes a temporary file beside the target that
 * is renamed into place only once its SHA-256 matches the revision's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "atrium/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/delta.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "cli/url.h"

#define MESSAGE_MAX 4096 /* bytes of a commit message (docs/api.md) */

enum { COMMIT_MESSAGE, COMMIT_BASE, COMMIT_BRANCH, COMMIT_ELEMENTS, COMMIT_KEEP_LOCKS, COMMIT_WHOLE };

static const struct cli_opt commit_opts[] = {
	[COMMIT_MESSAGE] = {"message", 'm', "MSG", "what changed (required)"},
	[COMMIT_BASE] = {"base", 0, "N",
	    "the revision FILE is based on (default: the newest this client has "
	    "checked out or committed on the branch)"},
	[COMMIT_BRANCH] = {"branch", 0, "BRANCH", "the branch to commit to (default: trunk)"},
	[COMMIT_ELEMENTS] = {"elements", 0, "E1,E2,...",
	    "the elements this revision changed (at most 1000): refused if someone else "
	    "locked one; your locks on them are released"},
	[COMMIT_KEEP_LOCKS] = {"keep-locks", 0, NULL, "keep your locks on --elements"},
	[COMMIT_WHOLE] = {"whole", 0, NULL,
	    "send the whole file, not only the chunks the server lacks"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage commit_usage = {
	"atrium commit",
	"NAME FILE -m MSG [--base N] [--branch B] [--elements E1,E2] [--keep-locks] [--whole]",
	"Sends FILE as the next revision of project NAME. The server takes it only\n"
	"when the base is still the newest revision of the branch; otherwise it says\n"
	"who committed what, and you check that revision out, merge, and commit\n"
	"again with --base set to it. Only the chunks of FILE the server does not\n"
	"have yet are sent (docs/delta.md); --whole sends all of it.",
	commit_opts,
};

enum { CHECKOUT_REVISION, CHECKOUT_OUTPUT, CHECKOUT_BRANCH, CHECKOUT_TAG, CHECKOUT_WHOLE };

static const struct cli_opt checkout_opts[] = {
	[CHECKOUT_REVISION] = {"revision", 'r', "N", "the revision to get (default: the newest)"},
	[CHECKOUT_OUTPUT] = {"output", 'o', "FILE",
	    "where to write it (default: ./NAME; a directory gets NAME inside; "
	    "- for standard output)"},
	[CHECKOUT_BRANCH] = {"branch", 0, "BRANCH", "the branch (default: trunk)"},
	[CHECKOUT_TAG] = {"tag", 0, "TAG", "the revision a tag names (instead of --branch, -r)"},
	[CHECKOUT_WHOLE] = {"whole", 0, NULL,
	    "download the whole file, not only the chunks the file there lacks"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage checkout_usage = {
	"atrium checkout", "NAME [-r N] [--branch B | --tag T] [-o FILE] [--whole]",
	"Downloads a revision of project NAME. The file appears under its name\n"
	"only when complete and its SHA-256 matches the server's; an interrupted\n"
	"checkout leaves the old file as it was. The chunks the file already there\n"
	"holds are taken from it and only the others downloaded; --whole\n"
	"downloads all of it.",
	checkout_opts,
};

/* Prints the hints after a conflict: how to get the newer revision and retry. */
static void
conflict_hints(const struct cli_reply *rep, const char *name, const char *branch,
    const char *file)
{
	const json_t *head = json_object_get(rep->json, "head");
	const json_t *num = json_object_get(head, "number");
	char *qn, *qf, *qo = NULL, *other = NULL;
	json_int_t n;

	if (!json_is_integer(num))
		return;
	n = json_integer_value(num);
	qn = cli_shell_quote(name);
	qf = cli_shell_quote(file);
	if (asprintf(&other, "%s.r%" JSON_INTEGER_FORMAT, file, n) != -1)
		qo = cli_shell_quote(other);
	if (qn != NULL && qf != NULL && qo != NULL) {
		char *qb = branch != NULL ? cli_shell_quote(branch) : NULL;
		char on[300] = "";
		if (qb != NULL)
			snprintf(on, sizeof(on), " --branch %s", qb);
		fprintf(stderr,
		    "To go on:\n"
		    "  atrium checkout %s%s -r %" JSON_INTEGER_FORMAT " -o %s\n"
		    "  (merge the changes of %s into %s)\n"
		    "  atrium commit %s %s -m MESSAGE%s --base %" JSON_INTEGER_FORMAT "\n",
		    qn, on, n, qo, qo, qf, qn, qf, on, n);
		free(qb);
	}
	free(other);
	free(qo);
	free(qf);
	free(qn);
}

/* "Sent 3 of 1,110 chunks (190 KiB raw, 40 KiB on the wire)." */
static void
delta_report(const char *verb, const struct cli_delta_stats *ds)
{
	char raw[32], wire[32];

	cli_format_size(ds->raw_bytes, raw, sizeof(raw));
	cli_format_size(ds->wire_bytes, wire, sizeof(wire));
	printf("%s %" PRIu64 " of %" PRIu64 " chunks (%s, %s on the wire; %" PRIu64
	    " bytes).\n", verb, ds->moved, ds->chunks, raw, wire, ds->wire_bytes);
}

/* The key of a branch's head in the client's heads file: the project's
 * name for trunk (as before branches), "NAME:BRANCH" otherwise. */
static int
cli_head_key(const char *name, const char *branch, char **key)
{
	if (branch == NULL || strcmp(branch, "trunk") == 0)
		*key = strdup(name);
	else if (asprintf(key, "%s:%s", name, branch) == -1)
		*key = NULL;
	return *key != NULL ? 0 : -1;
}

/* "E1,E2" as the percent-encoded JSON array of ?elements=; NULL without memory. */
static char *
elements_query(const char *list)
{
	json_t *a = json_array();
	char *copy = strdup(list), *save = NULL, *e, *text = NULL, *enc = NULL;

	if (a == NULL || copy == NULL)
		goto out;
	for (e = strtok_r(copy, ",", &save); e != NULL; e = strtok_r(NULL, ",", &save))
		if (*e != '\0' && json_array_append_new(a, json_string(e)) == -1)
			goto out;
	if ((text = json_dumps(a, JSON_COMPACT)) != NULL)
		enc = cli_pct_encode(text);
out:
	if (text != NULL) {
		/* jansson's allocator (cli_init() sets one that wipes). */
		json_malloc_t m;
		json_free_t f;
		json_get_alloc_funcs(&m, &f);
		f(text);
	}
	free(copy);
	json_decref(a);
	return enc;
}

static int
commit_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	struct cli_progress *pg = NULL;
	struct stat st, st2;
	const char *name, *file, *msg, *sha;
	char *path = NULL, *emsg = NULL, *label = NULL, sent[65], size_s[32];
	char *ebranch = NULL, *eelements = NULL, *key = NULL;
	uint64_t base = 0;
	json_t *rev;
	int fd = -1, status, delta, chunked = 0;
	struct cli_delta_stats ds;

	if (cli_args_get(&commit_usage, argc, argv, 2, 2, &a, &status) == -1)
		return status;
	name = a.pos[0];
	file = a.pos[1];
	msg = a.val[COMMIT_MESSAGE];
	if (msg == NULL)
		return cli_usage_error(&commit_usage, "a message is required: -m MSG");
	if (strlen(msg) > MESSAGE_MAX)
		return cli_usage_error(&commit_usage, "the message is longer than %d bytes",
		    MESSAGE_MAX);
	if (a.val[COMMIT_BASE] != NULL &&
	    cli_parse_u64(a.val[COMMIT_BASE], 0, INT64_MAX, &base) == -1)
		return cli_usage_error(&commit_usage, "--base wants a revision number, not '%s'",
		    a.val[COMMIT_BASE]);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		status = cli_failf("cannot open %s: %s", file, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		status = cli_failf("%s is not a regular file", file);
		goto out;
	}
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if (cli_head_key(name, a.val[COMMIT_BRANCH], &key) == -1)
		goto nomem;
	if (a.val[COMMIT_BASE] == NULL &&
	    cli_heads_get(c.home, c.session.server, key, &base) == -1)
		base = 0; /* never seen: right for a new project, a conflict otherwise */
	if ((path = cli_api_path("projects", name, "revisions", NULL)) == NULL ||
	    (emsg = cli_pct_encode(msg)) == NULL ||
	    (ebranch = cli_pct_encode(a.val[COMMIT_BRANCH] != NULL ? a.val[COMMIT_BRANCH] : "trunk")) ==
		NULL)
		goto nomem;
	if (a.val[COMMIT_ELEMENTS] != NULL &&
	    (eelements = elements_query(a.val[COMMIT_ELEMENTS])) == NULL)
		goto nomem;
	{
		char *full;

		if (asprintf(&full, "%s?base=%" PRIu64 "&branch=%s%s%s%s&message=%s", path, base,
		    ebranch, eelements != NULL ? "&elements=" : "", eelements != NULL ? eelements : "",
		    a.val[COMMIT_KEEP_LOCKS] != NULL ? "&keep_locks=true" : "", emsg) == -1)
			goto nomem;
		free(path);
		path = full;
	}
	if (asprintf(&label, "commit %s", name) == -1) {
		label = NULL;
		goto nomem;
	}
	pg = cli_progress_new(label, (uint64_t)st.st_size);
	delta = (a.val[COMMIT_WHOLE] != NULL) ? CLI_DELTA_FALLBACK :
	    cli_delta_commit(c.http, path, fd, (uint64_t)st.st_size, pg, sent, &rep, &ds, &err);
	if (delta == CLI_DELTA_FALLBACK) {
		cli_reply_clear(&rep);
		delta = cli_http_upload(c.http, path, fd, (uint64_t)st.st_size, pg, sent, 201,
		    &rep, &err);
	} else if (delta == 0) {
		chunked = 1;
	}
	if (delta == -1) {
		cli_progress_finish(pg, 0);
		status = cli_fail(&err);
		if (err.code == ATR_E_CONFLICT)
			conflict_hints(&rep, name, a.val[COMMIT_BRANCH], file);
		goto out;
	}
	cli_progress_finish(pg, 1);
	rev = json_object_get(rep.json, "revision");
	sha = json_string_value(json_object_get(rep.json, "sha256"));
	if (!json_is_integer(rev) || json_integer_value(rev) < 1) {
		status = cli_failf("the server took the file but its answer has no revision "
		    "number; check with: atrium project log %s", name);
		goto out;
	}
	if (sha != NULL && strcasecmp(sha, sent) != 0) {
		status = cli_failf("the server stored revision %" JSON_INTEGER_FORMAT
		    " with SHA-256 %.64s, but %s was sent; commit again",
		    json_integer_value(rev), sha, sent);
		goto out;
	}
	if (cli_heads_set(c.home, c.session.server, key, (uint64_t)json_integer_value(rev),
	    0, &err) == -1)
		fprintf(stderr, "atrium: warning: %s\n", atr_err_msg(&err));
	if (fstat(fd, &st2) == 0 && (st2.st_size != st.st_size ||
	    st2.st_mtim.tv_sec != st.st_mtim.tv_sec || st2.st_mtim.tv_nsec != st.st_mtim.tv_nsec))
		fprintf(stderr, "atrium: warning: %s changed while it was being sent; the "
		    "revision holds what was read\n", file);
	cli_format_size((uint64_t)st.st_size, size_s, sizeof(size_s));
	if (a.val[COMMIT_BRANCH] != NULL)
		printf("Committed %s as %s revision %" JSON_INTEGER_FORMAT " on %s (%s, sha256 "
		       "%.12s).\n",
		    file, name, json_integer_value(rev), a.val[COMMIT_BRANCH], size_s, sent);
	else
		printf("Committed %s as %s revision %" JSON_INTEGER_FORMAT " (%s, sha256 %.12s).\n",
		    file, name, json_integer_value(rev), size_s, sent);
	if (json_integer_value(json_object_get(rep.json, "locks_released")) > 0)
		printf("Released %" JSON_INTEGER_FORMAT " of your locks.\n",
		    json_integer_value(json_object_get(rep.json, "locks_released")));
	if (chunked)
		delta_report("Sent", &ds);
	status = CLI_OK;
	goto out;
nomem:
	atr_err_set(&err, ATR_E_NOMEM, NULL);
fail:
	status = cli_fail(&err);
out:
	cli_progress_free(pg);
	free(label);
	free(emsg);
	free(ebranch);
	free(eelements);
	free(key);
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	if (fd != -1)
		close(fd);
	return status;
}

/* Appends ?branch=EBRANCH to *path (replaced); -1 without memory. */
static int
with_branch(char **path, const char *ebranch)
{
	char *full;

	if (asprintf(&full, "%s?branch=%s", *path, ebranch) == -1)
		return -1;
	free(*path);
	*path = full;
	return 0;
}

/* Whether s is 64 lowercase or uppercase hex digits. */
static int
is_sha256(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		    (*p >= 'A' && *p <= 'F')))
			return 0;
	return 1;
}

/*
 * Where the checkout goes: -o FILE, FILE/NAME when FILE is a directory,
 * else ./NAME. Returns a new string.
 */
static char *
target_path(const char *out, const char *name)
{
	struct stat st;
	char *p;

	if (out == NULL)
		return strdup(name);
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
		size_t n = strlen(out);

		return asprintf(&p, "%s%s%s", out, n > 0 && out[n - 1] == '/' ? "" : "/",
		    name) == -1 ? NULL : p;
	}
	return strdup(out);
}

/* The mode a new file gets: the old file's, else 0666 less the umask. */
static mode_t
target_mode(const char *target)
{
	struct stat st;
	mode_t um;

	if (stat(target, &st) == 0 && S_ISREG(st.st_mode))
		return st.st_mode & 07777;
	um = umask(0);
	umask(um);
	return 0666 & ~um;
}

/* Fails when the directory of tmp has fewer than need bytes free. */
static int
check_space(int fd, uint64_t need, const char *target, struct atr_err *err)
{
	struct statvfs vfs;
	uint64_t have;
	char a[32], b[32];

	if (fstatvfs(fd, &vfs) == -1)
		return 0; /* cannot tell: let the writes say */
	have = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (have >= need)
		return 0;
	cli_format_size(need, a, sizeof(a));
	cli_format_size(have, b, sizeof(b));
	return atr_err_set(err, ATR_E_IO, "not enough space for %s: it needs %s, %s is free",
	    target, a, b);
}

static int
checkout_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	struct cli_download dl;
	struct cli_progress *pg = NULL;
	const char *name, *want = "head", *sha;
	char *meta_path = NULL, *content_path = NULL, *target = NULL, *tmp = NULL;
	char *dir_copy = NULL, *base_copy = NULL, *label = NULL, num[32], size_s[32];
	char want_sha[65], branch[256] = "trunk", *ebranch = NULL, *key = NULL;
	uint64_t rev = 0, size;
	const json_t *jnum, *jsize;
	int fd = -1, to_stdout, status, delta = CLI_DELTA_FALLBACK;
	struct cli_delta_stats ds;

	if (cli_args_get(&checkout_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	name = a.pos[0];
	if (a.val[CHECKOUT_REVISION] != NULL) {
		if (cli_parse_u64(a.val[CHECKOUT_REVISION], 1, INT64_MAX, &rev) == -1)
			return cli_usage_error(&checkout_usage,
			    "-r wants a revision number from 1 up, not '%s'",
			    a.val[CHECKOUT_REVISION]);
		snprintf(num, sizeof(num), "%" PRIu64, rev);
		want = num;
	}
	if (a.val[CHECKOUT_TAG] != NULL &&
	    (a.val[CHECKOUT_BRANCH] != NULL || a.val[CHECKOUT_REVISION] != NULL))
		return cli_usage_error(&checkout_usage, "--tag names a branch and a revision: "
		    "give it without --branch and -r");
	to_stdout = a.val[CHECKOUT_OUTPUT] != NULL && strcmp(a.val[CHECKOUT_OUTPUT], "-") == 0;
	if (to_stdout && isatty(STDOUT_FILENO))
		return cli_failf("standard output is a terminal: redirect it, or use -o FILE");
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;

	if (a.val[CHECKOUT_BRANCH] != NULL)
		snprintf(branch, sizeof(branch), "%s", a.val[CHECKOUT_BRANCH]);
	if (a.val[CHECKOUT_TAG] != NULL) {
		/* A tag names a branch and a revision; it never moves. */
		const json_t *tr;
		if ((meta_path = cli_api_path("projects", name, "tags", a.val[CHECKOUT_TAG], NULL)) ==
		    NULL)
			goto nomem;
		if (cli_http_call(c.http, "GET", meta_path, NULL, 200, &rep, &err) == -1)
			goto fail;
		tr = json_object_get(rep.json, "revision");
		if (!json_is_integer(tr) || json_integer_value(tr) < 1 ||
		    json_string_value(json_object_get(rep.json, "branch")) == NULL) {
			status = cli_failf("the server's description of tag %s is incomplete",
			    a.val[CHECKOUT_TAG]);
			goto out;
		}
		snprintf(branch, sizeof(branch), "%s",
		    json_string_value(json_object_get(rep.json, "branch")));
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(tr));
		want = num;
		rev = (uint64_t)json_integer_value(tr);
		cli_reply_clear(&rep);
		free(meta_path);
		meta_path = NULL;
	}
	if ((ebranch = cli_pct_encode(branch)) == NULL)
		goto nomem;
	/* What the revision is: its number (when asked for head), size and SHA-256. */
	if ((meta_path = cli_api_path("projects", name, "revisions", want, NULL)) == NULL ||
	    with_branch(&meta_path, ebranch) == -1)
		goto nomem;
	if (cli_http_call(c.http, "GET", meta_path, NULL, 200, &rep, &err) == -1)
		goto fail;
	jnum = json_object_get(rep.json, "number");
	jsize = json_object_get(rep.json, "size");
	sha = json_string_value(json_object_get(rep.json, "sha256"));
	if (!json_is_integer(jnum) || json_integer_value(jnum) < 1 || !json_is_integer(jsize) ||
	    json_integer_value(jsize) < 0 || !is_sha256(sha)) {
		if (rev == 0 && json_is_integer(jnum) && json_integer_value(jnum) == 0)
			status = cli_failf("project %s has no revisions yet", name);
		else
			status = cli_failf("the server's description of the revision is "
			    "incomplete (number, size, sha256)");
		goto out;
	}
	rev = (uint64_t)json_integer_value(jnum);
	size = (uint64_t)json_integer_value(jsize);
	snprintf(want_sha, sizeof(want_sha), "%s", sha);
	cli_reply_clear(&rep); /* sha pointed into it */
	snprintf(num, sizeof(num), "%" PRIu64, rev);
	/* Ask for that number, not "head": a commit in between must not slip in. */
	if ((content_path = cli_api_path("projects", name, "revisions", num, "content",
	    NULL)) == NULL || with_branch(&content_path, ebranch) == -1)
		goto nomem;

	if (to_stdout) {
		fd = STDOUT_FILENO;
	} else {
		if ((target = target_path(a.val[CHECKOUT_OUTPUT], name)) == NULL ||
		    (dir_copy = strdup(target)) == NULL || (base_copy = strdup(target)) == NULL)
			goto nomem;
		if (asprintf(&tmp, "%s/.%s.atrium-XXXXXX", dirname(dir_copy),
		    basename(base_copy)) == -1) {
			tmp = NULL;
			goto nomem;
		}
		if ((fd = mkstemp(tmp)) == -1) {
			status = cli_failf("cannot create a file beside %s: %s", target,
			    strerror(errno));
			free(tmp);
			tmp = NULL;
			goto out;
		}
		if (check_space(fd, size, target, &err) == -1)
			goto fail;
	}
	if (asprintf(&label, "checkout %s", name) == -1) {
		label = NULL;
		goto nomem;
	}
	pg = cli_progress_new(label, size);
	delta = to_stdout || (a.val[CHECKOUT_WHOLE] != NULL) ? CLI_DELTA_FALLBACK :
	    cli_delta_checkout(c.http, name, ebranch, rev, size, want_sha, target, fd, pg, &ds,
		&err);
	if (delta == -1) {
		cli_progress_finish(pg, 0);
		goto fail;
	}
	if (delta == 0) {
		cli_progress_finish(pg, 1);
		goto written;
	}
	if (cli_http_download(c.http, content_path, fd, pg, &dl, &rep, &err) == -1) {
		cli_progress_finish(pg, 0);
		goto fail;
	}
	cli_progress_finish(pg, 1);
	if (dl.bytes != size) {
		atr_err_set(&err, ATR_E_NETWORK, "the download of %s revision %" PRIu64
		    " stopped after %" PRIu64 " of %" PRIu64 " bytes; try again", name, rev,
		    dl.bytes, size);
		goto fail;
	}
	if (strcasecmp(dl.sha256, want_sha) != 0 || (dl.etag[0] != '\0' &&
	    strcasecmp(dl.etag, want_sha) != 0)) {
		atr_err_set(&err, ATR_E_NETWORK, "the download of %s revision %" PRIu64
		    " is damaged: its SHA-256 is %s, the server's is %s; try again", name, rev,
		    dl.sha256, want_sha);
		goto fail;
	}
written:
	if (!to_stdout) {
		if (fchmod(fd, target_mode(target)) == -1 || fsync(fd) == -1) {
			atr_err_set(&err, ATR_E_IO, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		if (close(fd) == -1) {
			fd = -1;
			atr_err_set(&err, ATR_E_IO, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		fd = -1;
		if (rename(tmp, target) == -1) {
			atr_err_set(&err, ATR_E_IO, "cannot rename %s to %s: %s", tmp, target,
			    strerror(errno));
			goto fail;
		}
		free(tmp);
		tmp = NULL;
		atr_fsync_dir_of(target);
	}
	if (cli_head_key(name, branch, &key) == -1 ||
	    cli_heads_set(c.home, c.session.server, key, rev, 1, &err) == -1)
		fprintf(stderr, "atrium: warning: %s\n", key != NULL ? atr_err_msg(&err) :
		    "out of memory");
	cli_format_size(size, size_s, sizeof(size_s));
	if (strcmp(branch, "trunk") != 0)
		fprintf(to_stdout ? stderr : stdout,
		    "Checked out %s revision %" PRIu64 " of %s to %s (%s).\n", name, rev, branch,
		    to_stdout ? "standard output" : target, size_s);
	else
		fprintf(to_stdout ? stderr : stdout,
		    "Checked out %s revision %" PRIu64 " to %s (%s).\n", name, rev,
		    to_stdout ? "standard output" : target, size_s);
	if (delta == 0)
		delta_report("Fetched", &ds);
	status = CLI_OK;
	goto out;
nomem:
	atr_err_set(&err, ATR_E_NOMEM, NULL);
fail:
	status = cli_fail(&err);
out:
	cli_progress_free(pg);
	if (fd != -1 && !to_stdout)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(label);
	free(dir_copy);
	free(base_copy);
	free(target);
	free(content_path);
	free(meta_path);
	free(ebranch);
	free(key);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

int
cmd_commit(int argc, char **argv)
{
	cli_init();
	return commit_main(argc, argv);
}

int
cmd_checkout(int argc, char **argv)
{
	cli_init();
	return checkout_main(argc, argv);
}
