/*
 * The kinds of event (store.h "Events") and the JSON documents about them:
 * the one event model that integrations deliver and change streams show.
 */
#ifndef ATRIUM_SERVER_EVENT_H
#define ATRIUM_SERVER_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "atrium/err.h"

/* Every kind an integration may ask for; integration.test is only ever
 * sent by `atrium admin integrations test`, to one integration. */
#define EVENT_TYPES(X)                                   \
	X(REVISION_COMMITTED, "revision.committed")      \
	X(PROJECT_CREATED, "project.created")            \
	X(PROJECT_DELETED, "project.deleted")            \
	X(LOCK_TAKEN, "lock.taken")                      \
	X(LOCK_RELEASED, "lock.released")                \
	X(BRANCH_CREATED, "branch.created")              \
	X(BRANCH_DELETED, "branch.deleted")              \
	X(TAG_CREATED, "tag.created")                    \
	X(TAG_DELETED, "tag.deleted")                    \
	X(USER_CREATED, "user.created")                  \
	X(USER_DELETED, "user.deleted")                  \
	X(CERTIFICATE_RENEWED, "certificate.renewed")    \
	X(CERTIFICATE_EXPIRING, "certificate.expiring")  \
	X(INTEGRATION_TEST, "integration.test")

/* Whether type is one of EVENT_TYPES. */
int event_type_known(const char *type);

/*
 * Checks and normalises an integration's kinds: "" or "*" become "*";
 * otherwise a comma-separated list of known types (spaces ignored, each
 * once, in the table's order) written to out. -1 with err (ATR_E_BAD_REQUEST,
 * field "events") naming the first unknown kind.
 */
int event_kinds_parse(const char *list, char *out, size_t size, struct atr_err *err);

/* Whether an integration with kinds (as event_kinds_parse wrote them)
 * wants type. integration.test is never matched. */
int event_kinds_match(const char *kinds, const char *type);

/*
 * The body POSTed to a receiver: {"type", "timestamp" (RFC 3339 UTC with
 * milliseconds, the event's time), "seq", "data"} with data the event's
 * JSON object text. malloc'd, the caller's; NULL when data is not JSON.
 */
char *event_payload(const char *type, int64_t time_ms, int64_t seq, const char *data);

/*
 * For the stores' event writers: an event's data as JSON text from a
 * json_pack() format (malloc'd, the caller's; NULL without memory), and a
 * new webhook-id ("msg_" + 32 random hex digits) into out (48 bytes).
 */
char *event_data(const char *fmt, ...);
/*
 * The data of a lock.taken (released_by NULL) or lock.released event:
 * {project, branch, elements, holder[, released_by, forced]}, plus
 * "element" when n is 1 (malloc'd; NULL without memory).
 */
char *event_lock_data(const char *project, const char *branch, const char *const *elements,
    size_t n, const char *holder, const char *released_by, int forced);
void event_msg_id(char *out);

#endif
