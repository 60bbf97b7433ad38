/*
 * The roots the client trusts for https:// servers, and where its own
 * trust store lives.
 */
#ifndef ATRIUM_CLI_TRUST_H
#define ATRIUM_CLI_TRUST_H

#include "atrium/err.h"

struct atr_trust;

/* home/certs: the client's trust store folder (cert.jks + cert.pass). New string. */
char *cli_certs_dir(const char *home);

/* The certs folder beside the atrium executable, as the reference clients
 * keep it; NULL when the executable's path is unknown. New string. */
char *cli_exe_certs_dir(void);

/*
 * The roots this client trusts: the system's, home/certs and the certs
 * folder beside the executable. A trust store that cannot be read is an
 * error naming it. The result is the caller's (atr_trust_free()).
 */
struct atr_trust *cli_trust_load(const char *home, struct atr_err *err);

/* What cli_trust_add_top() trusted. */
struct cli_trusted {
	int added;          /* 1: added now; 0: the store held it already */
	char subject[512];
	char sha256[100];   /* of the certificate trusted */
	char leaf_sha256[100]; /* of the chain's first certificate */
	char alias[300];    /* its entry in cert.jks */
	char store[4200];   /* home/certs/cert.jks */
	char still[512];    /* why connections to host would still fail; "" when they work */
};

/*
 * Trusts a server's new chain, given as PEM (leaf first), the way `atrium
 * certs trust` does: the top of the chain (the self-signed certificate, or
 * the root or issuer the chain ends with) goes into home/certs/cert.jks as
 * alias (or alias-2, ...), the store and its cert.pass made when missing.
 * Nothing is added when the chain reaches a root this client trusts
 * already, or the store holds that certificate. out->still says why
 * connections to hostport (host:port) would fail all the same, say a name
 * the certificate lacks. Returns 0 and fills out, or -1 with err set (no
 * certificate in pem, an unreadable or unwritable store); nothing is
 * written then.
 */
int cli_trust_add_top(const char *home, const char *pem, size_t len, const char *alias,
    const char *hostport, struct cli_trusted *out, struct atr_err *err);

#endif
