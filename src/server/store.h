/*
 * The store: users, sessions, projects, revisions and revision content.
 *
 * One struct store per process (the backend), one struct store_conn per
 * thread that uses it. Every call is synchronous; a backend whose calls
 * wait on the network (store_is_blocking()) is only called from the job
 * pool, never from an event loop.
 *
 * Revision content ("blobs") is addressed by its SHA-256. It is written
 * through a blob writer: bytes are streamed in, then store_blob_finish()
 * makes them durable under their hash. A revision row is committed only
 * after that, so an acknowledged revision is never lost.
 */
#ifndef ATRIUM_SERVER_STORE_H
#define ATRIUM_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "atrium/config.h"
#include "atrium/err.h"

#define STORE_NAME_MAX 64
#define STORE_MESSAGE_MAX 4096
#define STORE_DESC_MAX 4096
#define STORE_ELEMENT_MAX 256
#define STORE_TRUNK "trunk"      /* every project's first branch */
#define STORE_LOCKS_PER_CALL 100000 /* elements in one lock or release call */

struct store;
struct store_conn;
struct store_blob_writer;
struct store_blob_reader;

struct store_user {
	char name[STORE_NAME_MAX + 1];
	char role[8]; /* "admin" or "user" */
	int64_t created;
};

struct store_revision {
	char branch[STORE_NAME_MAX + 1]; /* numbers count per branch, from 1 */
	int64_t number;
	char author[STORE_NAME_MAX + 1];
	char message[STORE_MESSAGE_MAX + 1];
	int64_t time;
	int64_t size;
	char sha256[65];
};

/* A lock on one element of a project's model on one branch: one holder
 * at a time. */
struct store_lock {
	char branch[STORE_NAME_MAX + 1];
	char element[STORE_ELEMENT_MAX + 1];
	char holder[STORE_NAME_MAX + 1];
	int64_t since;
};

struct store_project {
	char name[STORE_NAME_MAX + 1];
	char description[STORE_DESC_MAX + 1];
	int64_t created;
	char created_by[STORE_NAME_MAX + 1];
	int64_t head;               /* trunk's newest revision; 0: none yet */
	struct store_revision last; /* valid when head > 0 */
};

/* A line of revisions. trunk exists from the project's creation; another
 * branch starts from a revision of an existing one (from_branch,
 * from_revision) and its revision 1 is a copy of that revision. */
struct store_branch {
	char name[STORE_NAME_MAX + 1];
	char from_branch[STORE_NAME_MAX + 1]; /* "" for trunk */
	int64_t from_revision;                /* 0 for trunk */
	int64_t head;                         /* 0: no revision yet */
	int64_t created;
	char created_by[STORE_NAME_MAX + 1];
};

/* A name on one revision of one branch; never changes once made. */
struct store_tag {
	char name[STORE_NAME_MAX + 1];
	char branch[STORE_NAME_MAX + 1];
	int64_t revision;
	int64_t created;
	char created_by[STORE_NAME_MAX + 1];
};

/* Opens the backend named by cfg's `database` with data under datadir
 * (created if missing). */
struct store *store_open(const struct atr_config *cfg, const char *datadir, struct atr_err *err);
void store_close(struct store *st);

/* Whether calls may wait on the network (then: job pool only). */
int store_is_blocking(const struct store *st);

/* A human-readable description for the log, e.g. "sqlite DIR/atrium.db". */
const char *store_describe(const struct store *st);

struct store_conn *store_conn_open(struct store *st, struct atr_err *err);
void store_conn_close(struct store_conn *sc);

/* Users. Hashes are opaque strings from password.h. */
int store_user_count(struct store_conn *sc, int64_t *count, struct atr_err *err);
/* by: who creates it (user.created's created_by); NULL for the server. */
int store_user_create(struct store_conn *sc, const char *name, const char *hash, const char *role,
    const char *by, struct atr_err *err);
/* hash may be NULL; hashlen is its buffer size. ATR_E_NOT_FOUND if none. */
int store_user_get(struct store_conn *sc, const char *name, struct store_user *u, char *hash,
    size_t hashlen, struct atr_err *err);
int store_user_list(struct store_conn *sc, int (*each)(const struct store_user *, void *),
    void *arg, struct atr_err *err);
/* Refuses (ATR_E_CONFLICT) to delete the last admin; ends the user's sessions. */
int store_user_delete(struct store_conn *sc, const char *name, const char *by,
    struct atr_err *err);
/* Replaces the hash and ends the user's sessions except keep_token_hash. */
int store_user_set_password(struct store_conn *sc, const char *name, const char *hash,
    const char *keep_token_hash, struct atr_err *err);
int store_user_set_role(struct store_conn *sc, const char *name, const char *role,
    struct atr_err *err);

/*
 * Where an account comes from, and what the directory says of it
 * (directory sign-in, directory.h). Accounts made by store_user_create()
 * are "local" with an empty display name and email.
 */
#define STORE_PROFILE_TEXT_MAX 256
struct store_user_profile {
	char display_name[STORE_PROFILE_TEXT_MAX + 1];
	char email[STORE_PROFILE_TEXT_MAX + 1];
	char source[12]; /* "local" or "directory" */
};
/* ATR_E_NOT_FOUND when there is no such user. */
int store_user_get_profile(struct store_conn *sc, const char *name, struct store_user_profile *p,
    struct atr_err *err);
/*
 * A directory login's account: makes name (role, display name, email,
 * source "directory", and a password hash no password matches) when
 * there is none, else sets those four on it; *created says which (may be
 * NULL). At now (seconds) when made. The last admin is not protected
 * here: the directory's groups decide a directory account's role.
 */
int store_user_sync_directory(struct store_conn *sc, const char *name, const char *role,
    const char *display_name, const char *email, int64_t now, int *created,
    struct atr_err *err);

/* Sessions, keyed by the hex SHA-256 of the token. */
int store_session_create(struct store_conn *sc, const char *token_hash, const char *user,
    int64_t expires, struct atr_err *err);
/* ATR_E_UNAUTHORIZED when unknown or expired. */
int store_session_lookup(struct store_conn *sc, const char *token_hash, int64_t now,
    struct store_user *u, struct atr_err *err);
int store_session_delete(struct store_conn *sc, const char *token_hash, struct atr_err *err);
int store_session_purge(struct store_conn *sc, int64_t now, struct atr_err *err);

/* Projects. */
int store_project_create(struct store_conn *sc, const char *name, const char *description,
    const char *created_by, int64_t now, struct atr_err *err);
int store_project_get(struct store_conn *sc, const char *name, struct store_project *p,
    struct atr_err *err);
int store_project_list(struct store_conn *sc, int (*each)(const struct store_project *, void *),
    void *arg, struct atr_err *err);
int store_project_delete(struct store_conn *sc, const char *name, const char *by,
    struct atr_err *err);

/* Revisions of trunk (the calls of before branches; see the _in calls). */
int store_revision_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_revision *, void *), void *arg, struct atr_err *err);
int store_revision_get(struct store_conn *sc, const char *project, int64_t number,
    struct store_revision *r, struct atr_err *err);
/* store_revision_commit_in() on trunk, naming no elements. */
int store_revision_commit(struct store_conn *sc, const char *project, int64_t base,
    const char *author, const char *message, int64_t now, int64_t size, const char *sha256,
    struct store_revision *head, struct atr_err *err);

/* Revisions of a branch (NULL: trunk), newest first. ATR_E_NOT_FOUND
 * without such a project or branch. */
int store_revision_list_in(struct store_conn *sc, const char *project, const char *branch,
    int (*each)(const struct store_revision *, void *), void *arg, struct atr_err *err);
/* number < 0: the branch's head. */
int store_revision_get_in(struct store_conn *sc, const char *project, const char *branch,
    int64_t number, struct store_revision *r, struct atr_err *err);

/* A commit: the content must already be durable (store_blob_finish()). */
struct store_commit {
	const char *project;
	const char *branch;             /* NULL: trunk */
	int64_t base;                   /* the branch's head the author saw */
	const char *author;
	const char *message;
	int64_t now;
	int64_t size;
	const char *sha256;
	const char *const *elements;    /* the elements it changed (may be none) */
	size_t nelements;
	int keep_locks;                 /* 1: the author keeps their locks on them */
};

/*
 * Adds revision base+1 to the branch if base is still its head, in one
 * transaction that also releases the author's locks on c->elements
 * (unless keep_locks; one lock.released event) and writes
 * revision.committed. Refusals, with nothing changed:
 *   ATR_E_CONFLICT: a newer head; *head filled with it (may be NULL);
 *   ATR_E_LOCKED: an element is locked by someone else; *locked filled
 *   with the first such lock (may be NULL).
 * *released (may be NULL) counts the locks released.
 */
int store_revision_commit_in(struct store_conn *sc, const struct store_commit *c,
    struct store_revision *head, struct store_lock *locked, int64_t *released,
    struct atr_err *err);

/*
 * Branches. store_branch_create() makes name from revision from_revision
 * (< 0: the head) of from_branch; its revision 1 is a copy of that one
 * (same content and author, message "branch NAME from B:N", time now), or
 * it starts empty when from_branch has no revision yet. ATR_E_EXISTS when
 * the name is taken, ATR_E_NOT_FOUND without the project, branch or
 * revision. Writes branch.created. Fills *b when not NULL.
 */
int store_branch_create(struct store_conn *sc, const char *project, const char *name,
    const char *from_branch, int64_t from_revision, const char *by, int64_t now,
    struct store_branch *b, struct atr_err *err);
int store_branch_get(struct store_conn *sc, const char *project, const char *name,
    struct store_branch *b, struct atr_err *err);
/* By name. */
int store_branch_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_branch *, void *), void *arg, struct atr_err *err);
/*
 * Deletes a branch with its revisions and locks (content no other
 * revision uses goes too). Refused: trunk (ATR_E_FORBIDDEN), a branch
 * that tags point at (ATR_E_CONFLICT naming them). Writes branch.deleted.
 */
int store_branch_delete(struct store_conn *sc, const char *project, const char *name,
    const char *by, struct atr_err *err);

/* Tags: unique per project. revision < 0: the branch's head (a branch
 * without revisions cannot be tagged: ATR_E_NOT_FOUND). ATR_E_EXISTS when
 * the name is taken. Writes tag.created / tag.deleted. */
int store_tag_create(struct store_conn *sc, const char *project, const char *name,
    const char *branch, int64_t revision, const char *by, int64_t now, struct store_tag *t,
    struct atr_err *err);
int store_tag_get(struct store_conn *sc, const char *project, const char *name,
    struct store_tag *t, struct atr_err *err);
int store_tag_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_tag *, void *), void *arg, struct atr_err *err);
int store_tag_delete(struct store_conn *sc, const char *project, const char *name,
    const char *by, struct atr_err *err);

/*
 * Element locks: at most one holder per (project, branch, element).
 *
 * store_lock_acquire() takes element of project's trunk for user at time
 * now. Returns 1 when taken now, 0 when user already held it (its `since`
 * is kept), -1 on failure: ATR_E_NOT_FOUND without such a project,
 * ATR_E_CONFLICT when someone else holds it. When held is not NULL it is
 * filled with the lock as it stands (on 1, 0 and ATR_E_CONFLICT).
 */
int store_lock_acquire(struct store_conn *sc, const char *project, const char *element,
    const char *user, int64_t now, struct store_lock *held, struct atr_err *err);
/*
 * Releases element of project's trunk. Only its holder may, unless force
 * (an admin). ATR_E_NOT_FOUND when the project or the lock does not
 * exist, ATR_E_FORBIDDEN when user is not the holder and force is 0.
 */
int store_lock_release(struct store_conn *sc, const char *project, const char *element,
    const char *user, int force, struct atr_err *err);
/* Every lock of project on every branch, by branch then element. */
int store_lock_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_lock *, void *), void *arg, struct atr_err *err);

/*
 * Takes the n elements (at most STORE_LOCKS_PER_CALL; duplicates count
 * once) of branch (NULL: trunk) for user: all or none. Elements user
 * holds already are kept as they are. When any is held by someone else
 * nothing is taken: conflict() is called with each such lock, by element
 * (bytewise), and the call fails with ATR_E_CONFLICT. *taken (may be
 * NULL) counts the locks taken now; they are written as one lock.taken
 * event.
 */
int store_locks_take(struct store_conn *sc, const char *project, const char *branch,
    const char *const *elements, size_t n, const char *user, int64_t now,
    int (*conflict)(const struct store_lock *, void *), void *arg, int64_t *taken,
    struct atr_err *err);
/*
 * Releases locks of branch (NULL: trunk): the n elements given, or with
 * elements NULL every lock held by holder. Elements not locked are
 * skipped. Locks held by someone other than user are released only with
 * force; without it the call fails (ATR_E_FORBIDDEN, naming the first)
 * and releases nothing. One lock.released event; *released (may be NULL)
 * counts them.
 */
int store_locks_release(struct store_conn *sc, const char *project, const char *branch,
    const char *const *elements, size_t n, const char *holder, const char *user, int force,
    int64_t *released, struct atr_err *err);
/* The lock on element of branch (NULL: trunk) into *l: 1 when there is
 * one, 0 when not. */
int store_lock_get(struct store_conn *sc, const char *project, const char *branch,
    const char *element, struct store_lock *l, struct atr_err *err);
/* Locks of project on branch (NULL: every branch) held by holder (NULL:
 * anyone), by branch then element. each() returning non-zero stops. */
int store_locks_list(struct store_conn *sc, const char *project, const char *branch,
    const char *holder, int (*each)(const struct store_lock *, void *), void *arg,
    struct atr_err *err);

/*
 * Blobs (revision content), written and read in pieces so that nothing
 * holds a whole file in memory.
 *
 * Writing: store_blob_writer_new() (any thread, cheap), store_blob_write()
 * for each piece, store_blob_finish() to make the content durable under
 * its SHA-256 (job pool: it fsyncs or commits), or store_blob_abort()
 * (any thread, cheap; a backend may leave garbage that it collects later).
 * `sc` is the store connection of the calling thread; a non-blocking
 * backend may ignore it and accept NULL.
 */
struct store_blob_writer *store_blob_writer_new(struct store *st, struct atr_err *err);
int store_blob_write(struct store_blob_writer *w, struct store_conn *sc, const void *buf,
    size_t len, struct atr_err *err);
int64_t store_blob_written(const struct store_blob_writer *w);
/* Fills sha256 (65 bytes) and frees w whatever happens. */
int store_blob_finish(struct store_blob_writer *w, struct store_conn *sc, char *sha256,
    struct atr_err *err);
void store_blob_abort(struct store_blob_writer *w);

/*
 * Reading: a reader for the blob sha256 of the given size. When
 * store_blob_reader_fd() is not -1 the content is a plain file the caller
 * may send directly (sendfile); otherwise it is read with
 * store_blob_read() on the job pool. Closing is cheap and thread-free.
 */
struct store_blob_reader *store_blob_reader_open(struct store_conn *sc, const char *sha256,
    int64_t size, struct atr_err *err);
int store_blob_reader_fd(const struct store_blob_reader *rd);
/* Reads up to n bytes at off; returns the count (0 at the end) or -1. */
int64_t store_blob_read(struct store_blob_reader *rd, struct store_conn *sc, void *buf,
    size_t n, int64_t off, struct atr_err *err);
void store_blob_reader_close(struct store_blob_reader *rd);

/*
 * Events: what changed, in the one event model that integrations (deliver.h)
 * and live change streams read (event.h lists the types and builds their
 * data). Every store call that changes something the events describe
 * writes its event in the same transaction as the change, before the
 * change is acknowledged:
 *
 *   store_project_create   project.created   {project, description, created_by}
 *   store_project_delete   project.deleted   {project, deleted_by}
 *   store_revision_commit  revision.committed {project, branch, revision, author,
 *                                              message, size, sha256}
 *                          (and lock.released for the locks the commit releases)
 *   store_branch_create    branch.created    {project, branch, from_branch, from_revision,
 *                                              created_by}
 *   store_branch_delete    branch.deleted    {project, branch, deleted_by}
 *   store_tag_create       tag.created       {project, tag, branch, revision, created_by}
 *   store_tag_delete       tag.deleted       {project, tag, branch, revision, deleted_by}
 *   store_lock_acquire,    lock.taken        {project, branch, elements: [...], holder}
 *   store_locks_take                         plus element when there is exactly one
 *                                            (one event per call, when any is newly taken)
 *   store_lock_release,    lock.released     {project, branch, elements: [...], holder,
 *   store_locks_release                       released_by, forced} plus element when
 *                                            exactly one; holder is "" when several
 *                                            holders' locks went in one call; forced
 *                                            when any was someone else's
 *   store_user_create      user.created      {user, role, created_by}
 *   store_user_delete      user.deleted      {user, deleted_by}
 *
 * (store_project_delete, store_user_create and store_user_delete take the
 * acting user as `by`; NULL for the server itself, e.g. the first admin.)
 *
 * In the same transaction each event is queued as one delivery for every
 * integration whose kinds and project filter match (an integration with a
 * project gets only events about that project) and whose state is not
 * "disabled" (paused ones queue: `resume` sends what waited), numbered per
 * integration from 1 without gaps (`seq`). Events are stamped with the
 * clock (atr_now_ms()) and new deliveries are due at once. When a transaction that queued
 * deliveries has committed, the store calls the hook set with
 * store_set_event_hook() on the committing thread; after every one that
 * wrote events, the hook set with store_set_change_hook().
 */
#define STORE_EVENT_TYPE_MAX 40
#define STORE_URL_MAX 2048
#define STORE_EVENTS_MAX 512 /* an integration's kinds: "*" or "a,b,c" */
#define STORE_SECRET_MAX 96  /* "whsec_" + base64 */
#define STORE_ERROR_MAX 1024

struct store_event {
	int64_t id;                          /* increasing over the whole store */
	char type[STORE_EVENT_TYPE_MAX + 1]; /* "revision.committed", ... */
	char project[STORE_NAME_MAX + 1];    /* "" when about no project */
	int64_t time;                        /* milliseconds since 1970 */
	const char *data;                    /* JSON object text; valid during the callback */
};

/* Called after a commit that queued deliveries (any thread; must be cheap
 * and must not call the store). One hook per store; NULL removes it. */
void store_set_event_hook(struct store *st, void (*hook)(void *arg), void *arg);

/* Called after every commit that wrote events, whether or not it queued
 * deliveries (the live change streams, evstream.h). Same rules as the
 * event hook; NULL removes it. */
void store_set_change_hook(struct store *st, void (*hook)(void *arg), void *arg);

/* The highest event id written so far (0 when none). */
int store_event_last(struct store_conn *sc, int64_t *id, struct atr_err *err);

/* Whether the calls on sc write events (default 1). 0 for a migration,
 * which replays history that already happened. */
void store_conn_set_events(struct store_conn *sc, int on);

/* Writes an event that no other call writes (certificate.renewed,
 * certificate.expiring) in a transaction of its own. data: JSON object
 * text; project may be NULL. */
int store_event_add(struct store_conn *sc, const char *type, const char *project,
    const char *data, int64_t now_ms, struct atr_err *err);

/* Events with id > after, oldest first, at most limit (<= 0: all). */
int store_event_list(struct store_conn *sc, int64_t after, int limit,
    int (*each)(const struct store_event *, void *), void *arg, struct atr_err *err);

/*
 * Integrations: where events are delivered (docs/integrations.md).
 * ca_pem and client_pem are owned by the struct: store_integration_clear()
 * frees them (and is safe on a zeroed struct).
 */
struct store_integration {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	char url[STORE_URL_MAX + 1];
	char events[STORE_EVENTS_MAX + 1];  /* "*" or comma-separated types */
	char project[STORE_NAME_MAX + 1];   /* "" for every project */
	char pin[65];                       /* lower-case hex SHA-256 of a certificate, or "" */
	char *ca_pem;                       /* NULL: the server trust store */
	char *client_pem;                   /* NULL, or certificate chain + private key, PEM */
	int allow_plain;                    /* http:// to a non-loopback host allowed */
	char secret[STORE_SECRET_MAX + 1];  /* "whsec_..." */
	char old_secret[STORE_SECRET_MAX + 1]; /* "" or the one before rotation */
	int64_t old_secret_until;           /* ms: old_secret signs too until then */
	char state[12];                     /* "active", "paused" or "disabled" */
	char state_reason[STORE_ERROR_MAX + 1];
	int64_t created, updated;           /* ms */
	char created_by[STORE_NAME_MAX + 1], updated_by[STORE_NAME_MAX + 1];
	int64_t pending;                    /* deliveries waiting (get and list fill it) */
	int64_t last_seq;                   /* the highest seq queued so far */
};

void store_integration_clear(struct store_integration *in);
/* ATR_E_EXISTS when the name is taken. Fills in->id, created (now when
 * 0), updated (created when 0), updated_by (created_by when ""), state
 * ("active" when ""); keeps the rest as given (a migration's copy). */
int store_integration_create(struct store_conn *sc, struct store_integration *in,
    struct atr_err *err);
/* ATR_E_NOT_FOUND when there is none. */
int store_integration_get(struct store_conn *sc, const char *name, struct store_integration *in,
    struct atr_err *err);
/* By name; each() gets a struct it must not keep (cleared after the call). */
int store_integration_list(struct store_conn *sc,
    int (*each)(const struct store_integration *, void *), void *arg, struct atr_err *err);
/* Replaces url, events, project, pin, ca_pem, client_pem, allow_plain,
 * updated(_by) of the integration named in->name (updated 0: now). */
int store_integration_update(struct store_conn *sc, const struct store_integration *in,
    struct atr_err *err);
/* state "active" (resume: the oldest waiting delivery becomes due now),
 * "paused" or "disabled", with why (may be ""). by NULL (the server's
 * own change) keeps updated and updated_by. */
int store_integration_set_state(struct store_conn *sc, const char *name, const char *state,
    const char *reason, const char *by, int64_t now_ms, struct atr_err *err);
/* Rotation: the current secret becomes old_secret until old_until. */
int store_integration_rotate(struct store_conn *sc, const char *name, const char *secret,
    int64_t old_until_ms, const char *by, int64_t now_ms, struct atr_err *err);
/* Removes it with its deliveries and their log. */
int store_integration_delete(struct store_conn *sc, const char *name, struct atr_err *err);

/*
 * Deliveries: one event to one integration. Per integration they go
 * strictly by seq: only the oldest waiting one (its "head") may be sent,
 * and only when its next_attempt has come. A sender claims the head for a
 * lease (so that of several nodes on one database one sends at a time),
 * sends, and records the attempt with store_delivery_finish().
 */
struct store_delivery {
	int64_t id;                         /* shown to admins: `redeliver NAME ID` */
	int64_t integration_id;
	char integration[STORE_NAME_MAX + 1];
	int64_t seq;
	char msg_id[48];                    /* webhook-id: unique, the same on every attempt */
	char state[12];                     /* "pending", "delivered" or "failed" */
	int attempts;
	int64_t next_attempt;               /* ms (pending) */
	int64_t created;                    /* ms */
	struct store_event event;           /* its data valid during the callback */
};

/* The head of every integration in state "active" that is due (next_attempt
 * <= now_ms) and not claimed by an unexpired lease (anyone's), earliest
 * first. The rows are read before each() is called: each() may call the
 * store (claim, finish) on the same connection. */
int store_delivery_due(struct store_conn *sc, int64_t now_ms,
    int (*each)(const struct store_delivery *, void *), void *arg, struct atr_err *err);
/* The earliest time an active head may be sent (its next_attempt, or the
 * end of its lease if later), or 0 when none waits. */
int store_delivery_next_time(struct store_conn *sc, int64_t *when_ms, struct atr_err *err);
/* Claims delivery id for node until lease_until_ms: 1 claimed, 0 when it
 * is not a due head of an active integration or an unexpired lease holds
 * it (anyone's, node's own too), -1 on a failure. */
int store_delivery_claim(struct store_conn *sc, int64_t id, const char *node, int64_t now_ms,
    int64_t lease_until_ms, struct atr_err *err);

/* One attempt, as the log shows it. */
struct store_attempt {
	int64_t delivery_id;
	int64_t seq;
	char event_type[STORE_EVENT_TYPE_MAX + 1];
	int64_t time;                       /* ms, when the attempt started */
	int status;                         /* HTTP status; 0 when none came */
	int64_t duration_ms;
	char error[STORE_ERROR_MAX + 1];    /* "" on success */
	char outcome[12];                   /* "delivered", "retry", "failed" */
	int64_t next_attempt;               /* ms, with "retry" */
};

/*
 * Records attempt a of delivery id (claimed by node) and applies its
 * outcome: "delivered" or "failed" end the delivery, "retry" keeps it
 * waiting until a->next_attempt; the lease ends. When integration_state
 * is not NULL the integration goes to that state with reason (a 410
 * disables; an exhausted schedule pauses; the integration's updated_by
 * is kept). Returns 1 when recorded, 0 when the claim was no longer
 * node's (nothing recorded; err is ATR_E_CONFLICT), -1 on a failure.
 * A lease that ran out but that nobody took over is still node's.
 */
int store_delivery_finish(struct store_conn *sc, int64_t id, const char *node,
    const struct store_attempt *a, const char *integration_state, const char *reason,
    struct atr_err *err);
/* Newest first (by delivery, then attempt), at most limit (<= 0: all),
 * with delivery_id < before (0: from the newest). ATR_E_NOT_FOUND. */
int store_delivery_log(struct store_conn *sc, const char *integration, int64_t before, int limit,
    int (*each)(const struct store_attempt *, void *), void *arg, struct atr_err *err);
/* Queues delivery id of integration again (same msg_id and seq): it
 * becomes pending, due at now_ms, attempts from 0 (a lease in force is
 * kept). ATR_E_NOT_FOUND. */
int store_delivery_redeliver(struct store_conn *sc, const char *integration, int64_t id,
    int64_t now_ms, struct atr_err *err);
/* Queues an integration.test event for that integration alone; *id is its delivery. */
int store_delivery_add_test(struct store_conn *sc, const char *integration, const char *by,
    int64_t now_ms, int64_t *id, struct atr_err *err);
/* Removes log rows, ended deliveries and unreferenced events older than before_ms. */
int store_event_purge(struct store_conn *sc, int64_t before_ms, struct atr_err *err);

/*
 * The embedded store's files, for the commands that work beside a running
 * server or on a copy (backup, restore): DIR/atrium.db, and one file per
 * content, DIR/blobs/XX/SHA256 (XX: the first two hex digits). A content
 * file never changes once it is in place (written aside, fsync'ed,
 * renamed; identical content keeps the file already there); it is only
 * removed when the last revision using it goes with its project.
 *
 * store_sqlite_snapshot() writes one consistent state of DIR/atrium.db to
 * dest (a new file; a single file, no WAL beside it) while an atriumd may
 * be serving DIR: commits go on meanwhile and are either wholly in the
 * snapshot or not at all. DIR is opened read-only and not changed.
 * store_sqlite_blob_path() names the content file of sha256 under dir.
 */
int store_sqlite_snapshot(const char *datadir, const char *dest, struct atr_err *err);
void store_sqlite_blob_path(const char *dir, const char *sha256, char *out, size_t size);

/*
 * Chunked content (docs/delta.md): a content may be stored as a manifest,
 * the ordered list of its chunks (SHA-256 and raw length of each), over
 * chunk files shared by every content and project. Revisions keep naming
 * the whole content's SHA-256 and size; the blob reader reassembles a
 * manifest (store_blob_reader_fd() is -1 for it) and verifies each chunk.
 * A backend without chunks (PostgreSQL, for now) answers these calls with
 * ATR_E_NOT_SUPPORTED.
 */
#define STORE_CHUNKS_PER_ASK 4096 /* hashes per store_chunk_missing() */

struct store_chunk_ref {
	char sha256[65];
	uint32_t size;
};

/* missing[i] = 1 for each shas[i] not stored, else 0. A chunk found is
 * kept by garbage collection for the grace period from now. */
int store_chunk_missing(struct store_conn *sc, const char (*shas)[65], int n,
    unsigned char *missing, struct atr_err *err);
/*
 * Stores one chunk, data[0..len): raw, or one zstd frame when zstd is 1.
 * Verifies its SHA-256 is sha256 (ATR_E_BAD_REQUEST otherwise), and makes
 * it durable. Idempotent.
 */
int store_chunk_put(struct store_conn *sc, const char *sha256, const void *data, size_t len,
    int zstd, struct atr_err *err);
/*
 * Records content sha256 of size bytes as chunks[0..n), in order: checks
 * every chunk is stored (ATR_E_CHUNKS_MISSING otherwise, with missing[i]
 * set as for store_chunk_missing(); missing may be NULL), that their
 * lengths add up to size and their bytes to sha256 (ATR_E_BAD_REQUEST),
 * and commits the manifest durably. *created: 1 when new, 0 when it was
 * there already. Either way the content is kept for the grace period.
 */
int store_content_create(struct store_conn *sc, const char *sha256, int64_t size,
    const struct store_chunk_ref *chunks, int n, unsigned char *missing, int *created,
    struct atr_err *err);
/* Whether content sha256 has a manifest: its size into *size and it is
 * kept for the grace period from now (a commit that names it follows).
 * ATR_E_NOT_FOUND when none. */
int store_content_hold(struct store_conn *sc, const char *sha256, int64_t *size,
    struct atr_err *err);
/* The manifest of content sha256: *chunks malloc'ed (the caller frees),
 * *n entries. ATR_E_NOT_FOUND when the content is a whole file. */
int store_content_manifest(struct store_conn *sc, const char *sha256,
    struct store_chunk_ref **chunks, int *n, struct atr_err *err);
/*
 * One chunk, verified, when it belongs to a revision of project
 * (ATR_E_NOT_FOUND otherwise: a chunk's hash is no way around a project's
 * permissions). *data malloc'ed; *zstd 1 when it is the stored zstd frame
 * (only when accept_zstd), else the raw bytes.
 */
int store_chunk_get(struct store_conn *sc, const char *project, const char *sha256,
    int accept_zstd, unsigned char **data, size_t *len, int *zstd, struct atr_err *err);

#endif
