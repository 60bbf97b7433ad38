/*
 * Backends of the store (store.h). A backend embeds struct store and
 * struct store_conn at the start of its own structures and fills a
 * struct store_ops; store.c dispatches every call through it.
 */
#ifndef ATRIUM_SERVER_STORE_INT_H
#define ATRIUM_SERVER_STORE_INT_H

#include "server/store.h"

struct store_ops {
	const char *name;
	int blocking;
	void (*close)(struct store *st);
	const char *(*describe)(const struct store *st);
	struct store_conn *(*conn_open)(struct store *st, struct atr_err *err);
	void (*conn_close)(struct store_conn *sc);

	int (*user_count)(struct store_conn *, int64_t *, struct atr_err *);
	int (*user_create)(struct store_conn *, const char *, const char *, const char *,
	    const char *, struct atr_err *);
	int (*user_get)(struct store_conn *, const char *, struct store_user *, char *, size_t,
	    struct atr_err *);
	int (*user_list)(struct store_conn *, int (*)(const struct store_user *, void *), void *,
	    struct atr_err *);
	int (*user_delete)(struct store_conn *, const char *, const char *, struct atr_err *);
	int (*user_set_password)(struct store_conn *, const char *, const char *, const char *,
	    struct atr_err *);
	int (*user_set_role)(struct store_conn *, const char *, const char *, struct atr_err *);
	/* Directory sign-in's profile columns (store_user_get_profile(), ...). */
	int (*user_get_profile)(struct store_conn *, const char *, struct store_user_profile *,
	    struct atr_err *);
	int (*user_sync_directory)(struct store_conn *, const char *, const char *, const char *,
	    const char *, int64_t, int *, struct atr_err *);

	int (*session_create)(struct store_conn *, const char *, const char *, int64_t,
	    struct atr_err *);
	int (*session_lookup)(struct store_conn *, const char *, int64_t, struct store_user *,
	    struct atr_err *);
	int (*session_delete)(struct store_conn *, const char *, struct atr_err *);
	int (*session_purge)(struct store_conn *, int64_t, struct atr_err *);

	int (*project_create)(struct store_conn *, const char *, const char *, const char *,
	    int64_t, struct atr_err *);
	int (*project_get)(struct store_conn *, const char *, struct store_project *,
	    struct atr_err *);
	int (*project_list)(struct store_conn *, int (*)(const struct store_project *, void *),
	    void *, struct atr_err *);
	int (*project_delete)(struct store_conn *, const char *, const char *, struct atr_err *);

	int (*revision_list)(struct store_conn *, const char *, const char *,
	    int (*)(const struct store_revision *, void *), void *, struct atr_err *);
	int (*revision_get)(struct store_conn *, const char *, const char *, int64_t,
	    struct store_revision *, struct atr_err *);
	int (*revision_commit)(struct store_conn *, const struct store_commit *,
	    struct store_revision *, struct store_lock *, int64_t *, struct atr_err *);

	int (*branch_create)(struct store_conn *, const char *, const char *, const char *,
	    int64_t, const char *, int64_t, struct store_branch *, struct atr_err *);
	int (*branch_get)(struct store_conn *, const char *, const char *, struct store_branch *,
	    struct atr_err *);
	int (*branch_list)(struct store_conn *, const char *,
	    int (*)(const struct store_branch *, void *), void *, struct atr_err *);
	int (*branch_delete)(struct store_conn *, const char *, const char *, const char *,
	    struct atr_err *);
	int (*tag_create)(struct store_conn *, const char *, const char *, const char *, int64_t,
	    const char *, int64_t, struct store_tag *, struct atr_err *);
	int (*tag_get)(struct store_conn *, const char *, const char *, struct store_tag *,
	    struct atr_err *);
	int (*tag_list)(struct store_conn *, const char *, int (*)(const struct store_tag *, void *),
	    void *, struct atr_err *);
	int (*tag_delete)(struct store_conn *, const char *, const char *, const char *,
	    struct atr_err *);

	/* Elements are deduplicated by store.c before these are called. */
	int (*locks_take)(struct store_conn *, const char *, const char *, const char *const *,
	    size_t, const char *, int64_t, int (*)(const struct store_lock *, void *), void *,
	    int64_t *, struct atr_err *);
	int (*locks_release)(struct store_conn *, const char *, const char *, const char *const *,
	    size_t, const char *, const char *, int, int64_t *, struct atr_err *);
	int (*locks_list)(struct store_conn *, const char *, const char *, const char *,
	    int (*)(const struct store_lock *, void *), void *, struct atr_err *);
	/* The lock on one element: 1 found, 0 none. */
	int (*lock_get)(struct store_conn *, const char *, const char *, const char *,
	    struct store_lock *, struct atr_err *);

	struct store_blob_writer *(*blob_writer_new)(struct store *, struct atr_err *);
	int (*blob_write)(struct store_blob_writer *, struct store_conn *, const void *, size_t,
	    struct atr_err *);
	int64_t (*blob_written)(const struct store_blob_writer *);
	int (*blob_finish)(struct store_blob_writer *, struct store_conn *, char *,
	    struct atr_err *);
	void (*blob_abort)(struct store_blob_writer *);
	struct store_blob_reader *(*blob_reader_open)(struct store_conn *, const char *, int64_t,
	    struct atr_err *);
	int (*blob_reader_fd)(const struct store_blob_reader *);
	int64_t (*blob_read)(struct store_blob_reader *, struct store_conn *, void *, size_t,
	    int64_t, struct atr_err *);
	void (*blob_reader_close)(struct store_blob_reader *);

	/* Chunked content; NULL: ATR_E_NOT_SUPPORTED (store.c). */
	int (*chunk_missing)(struct store_conn *, const char (*)[65], int, unsigned char *,
	    struct atr_err *);
	int (*chunk_put)(struct store_conn *, const char *, const void *, size_t, int,
	    struct atr_err *);
	int (*content_create)(struct store_conn *, const char *, int64_t,
	    const struct store_chunk_ref *, int, unsigned char *, int *, struct atr_err *);
	int (*content_hold)(struct store_conn *, const char *, int64_t *, struct atr_err *);
	int (*content_manifest)(struct store_conn *, const char *, struct store_chunk_ref **, int *,
	    struct atr_err *);
	int (*chunk_get)(struct store_conn *, const char *, const char *, int, unsigned char **,
	    size_t *, int *, struct atr_err *);

	int (*event_add)(struct store_conn *, const char *, const char *, const char *, int64_t,
	    struct atr_err *);
	int (*event_list)(struct store_conn *, int64_t, int,
	    int (*)(const struct store_event *, void *), void *, struct atr_err *);
	int (*event_last)(struct store_conn *, int64_t *, struct atr_err *);
	int (*integration_create)(struct store_conn *, struct store_integration *,
	    struct atr_err *);
	int (*integration_get)(struct store_conn *, const char *, struct store_integration *,
	    struct atr_err *);
	int (*integration_list)(struct store_conn *,
	    int (*)(const struct store_integration *, void *), void *, struct atr_err *);
	int (*integration_update)(struct store_conn *, const struct store_integration *,
	    struct atr_err *);
	int (*integration_set_state)(struct store_conn *, const char *, const char *, const char *,
	    const char *, int64_t, struct atr_err *);
	int (*integration_rotate)(struct store_conn *, const char *, const char *, int64_t,
	    const char *, int64_t, struct atr_err *);
	int (*integration_delete)(struct store_conn *, const char *, struct atr_err *);
	int (*delivery_due)(struct store_conn *, int64_t,
	    int (*)(const struct store_delivery *, void *), void *, struct atr_err *);
	int (*delivery_next_time)(struct store_conn *, int64_t *, struct atr_err *);
	int (*delivery_claim)(struct store_conn *, int64_t, const char *, int64_t, int64_t,
	    struct atr_err *);
	int (*delivery_finish)(struct store_conn *, int64_t, const char *,
	    const struct store_attempt *, const char *, const char *, struct atr_err *);
	int (*delivery_log)(struct store_conn *, const char *, int64_t, int,
	    int (*)(const struct store_attempt *, void *), void *, struct atr_err *);
	int (*delivery_redeliver)(struct store_conn *, const char *, int64_t, int64_t,
	    struct atr_err *);
	int (*delivery_add_test)(struct store_conn *, const char *, const char *, int64_t,
	    int64_t *, struct atr_err *);
	int (*event_purge)(struct store_conn *, int64_t, struct atr_err *);
};

struct store {
	const struct store_ops *ops;
	void (*event_hook)(void *arg); /* store_set_event_hook() */
	void *event_hook_arg;
	void (*change_hook)(void *arg); /* store_set_change_hook() */
	void *change_hook_arg;
};

struct store_conn {
	struct store *st;
	int events; /* store_conn_set_events(); 1 from store_conn_open() */
	int queued; /* deliveries queued by the current call (store.c calls the hook) */
	int wrote;  /* events written by the current call (the change hook) */
};

/* Every writer and reader starts with its store, so calls can dispatch. */
struct store_blob_writer {
	struct store *st;
};

struct store_blob_reader {
	struct store *st;
};

/* The backends' constructors. */
struct store *store_sqlite_open(const struct atr_config *cfg, const char *datadir,
    struct atr_err *err);
/* PostgreSQL (store_pg.c): cfg's `database` is a postgresql:// URL; the
 * database_ssl* settings say how the connections are secured; datadir
 * holds the node's content cache. */
struct store *store_pg_open(const struct atr_config *cfg, const char *datadir,
    struct atr_err *err);

#endif
