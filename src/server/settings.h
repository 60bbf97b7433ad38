/*
 * Changing atriumd's settings while it runs: the one place that validates
 * a set of changes, writes atrium.conf once and atomically, applies it and
 * puts the file back when applying fails. The admin console, `atrium
 * admin` (which calls the same API) and every later settings page go
 * through it.
 *
 *	c = settings_begin(s);
 *	settings_set(c, "tls_port", "10003", err);
 *	settings_commit(c, err);  (or settings_abort(c))
 *
 * Every refusal names the setting it concerns as err's field (a key of
 * the directive table, "tls_port"), so callers decide by the field, never
 * by the sentence. Commits are serialized; any thread but the main one
 * (applying waits for the main thread).
 */
#ifndef ATRIUM_SERVER_SETTINGS_H
#define ATRIUM_SERVER_SETTINGS_H

#include <jansson.h>

#include "atrium/config.h"
#include "atrium/err.h"
#include "server/tlsstate.h"

struct settings;
struct settings_change;

/* What settings_commit() found about a keystore it checked. */
struct settings_report {
	int checked;                  /* a keystore was checked: info and coverage are set */
	int reprotected;              /* it was re-written under a password of the server's */
	struct tls_info info;         /* the new certificate: warnings, weak_password, ... */
	struct tls_coverage coverage; /* the names clients may use, and which it covers */
};

/*
 * A settings manager for the data directory datadir, whose file is
 * confpath. overrides (the command-line flags) and tls are borrowed and
 * must outlive it. apply(arg, err) applies atrium.conf as it now is
 * (re-reads it and switches, as SIGHUP does), waiting for the result: 0,
 * or -1 with nothing changed and err saying why, its field naming the
 * setting to blame when there is one (the port key of a listener whose
 * port is in use). NULL without memory.
 */
struct settings *settings_new(const char *datadir, const char *confpath,
    const struct atr_config *overrides, struct tls_state *tls,
    int (*apply)(void *arg, struct atr_err *err), void *arg);
void settings_free(struct settings *s);

/* The data directory (borrowed). */
const char *settings_datadir(const struct settings *s);

/*
 * The settings as atrium.conf, the environment and the command line give
 * them now (what a reload would apply). The caller's; NULL with err set.
 */
struct atr_config *settings_current(struct settings *s, struct atr_err *err);

/* A new, empty change set. NULL without memory. */
struct settings_change *settings_begin(struct settings *s);

/*
 * Adds "key = value" to the change set (value NULL: remove the line, back
 * to the default). The value is validated here; -1 with err (field key)
 * when it is invalid, and the change set stays usable.
 */
int settings_set(struct settings_change *c, const char *key, const char *value,
    struct atr_err *err);

/*
 * Adds an uploaded keystore: b64 is the file in base64 (at most 1 MiB
 * decoded; JKS, PKCS#12 or PEM by content), password its password (NULL
 * or "" for none), alias the key entry to serve (NULL or "": its only
 * one). The file goes to DIR/tls/keystore-STAMP.EXT and the password to
 * DIR/tls/keystore-STAMP.pass (mode 0600), and tls_keystore* are set to
 * them. When the keystore holds several keys and no alias is given, or
 * none by the alias given, -1 with field tls_keystore_alias and *aliases
 * a new array of its key entries' aliases (the caller's). Refusals name
 * tls_keystore, tls_keystore_password or tls_keystore_alias. The files
 * are removed when the change set is not committed, and older uploads
 * when it is.
 */
int settings_set_keystore(struct settings_change *c, const char *b64, const char *password,
    const char *alias, json_t **aliases, struct atr_err *err);

/*
 * Re-writes the keystore settings_set_keystore() stored into a PKCS#12
 * file of the server's own (DIR/tls/keystore-STAMP.p12) holding only the
 * chosen key entry and its chain, under a new random password in its
 * .pass file (0600), so that the uploaded password is never used again.
 * Refusals name tls_keystore_password (it does not open) or
 * tls_keystore.
 */
int settings_reprotect_keystore(struct settings_change *c, struct atr_err *err);

/*
 * Who uploads: request_host is the name the uploader connected with
 * (the Host header without its port; NULL or "": unknown). A keystore
 * whose certificate does not cover it is refused by settings_commit()
 * (ATR_E_CERT_MISMATCH, field tls_keystore), since the uploader could
 * not connect again by that name, unless force. report (the caller's,
 * may be NULL) is filled by settings_commit(), refused or not, when it
 * checked a keystore.
 */
void settings_set_uploader(struct settings_change *c, const char *request_host, int force,
    struct settings_report *report);

/* Adds going back to the local CA's certificate: tls_keystore* removed,
 * and the uploaded keystores with them once committed. */
int settings_clear_keystore(struct settings_change *c, struct atr_err *err);

/* The keystore file settings_set_keystore() stored, relative to the data
 * directory ("tls/keystore-20261127T070000.p12"), or NULL. Borrowed from c. */
const char *settings_keystore_file(const struct settings_change *c);

/*
 * Validates and applies the change set, then frees it (success or not).
 * Refused, with err's field naming the setting, when: a key is fixed by a
 * command-line flag (to another value); the resulting file does not read
 * or names a port another of this server's listeners uses; a keystore
 * setting changed and the keystore fails the checks of a reload
 * (tls_state_check). Otherwise atrium.conf is written once, atomically,
 * and applied; when applying fails the previous file is put back (or
 * removed when there was none), byte for byte, and err says why. 0 when
 * applied.
 */
int settings_commit(struct settings_change *c, struct atr_err *err);

/* Frees the change set without applying anything (removing its uploaded
 * files). NULL-safe. */
void settings_abort(struct settings_change *c);

#endif
