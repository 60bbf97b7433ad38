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

#endif
