/*
 * Standard Webhooks (https://www.standardwebhooks.com): secrets and
 * signatures. A secret is "whsec_" + base64 of 24 random bytes; a
 * signature is "v1," + base64(HMAC-SHA256(secret bytes, id "." timestamp
 * "." body)).
 */
#ifndef ATRIUM_SERVER_WEBHOOK_H
#define ATRIUM_SERVER_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "atrium/err.h"

/* A new secret into out (at least 64 bytes). */
int webhook_secret_new(char *out, size_t size, struct atr_err *err);

/* Whether s is a well-formed secret. */
int webhook_secret_valid(const char *s);

/*
 * The value of webhook-signature for msg_id, timestamp (seconds) and body
 * signed with secret, and with old_secret too when it is not NULL or ""
 * ("v1,SIG v1,OLDSIG"), into out. -1 with err on a malformed secret.
 */
int webhook_sign(const char *secret, const char *old_secret, const char *msg_id,
    int64_t timestamp, const void *body, size_t len, char *out, size_t size,
    struct atr_err *err);

#endif
