/*
 * Password hashing with scrypt (OpenSSL's EVP_KDF "SCRYPT"). A stored hash
 * reads "scrypt$N$r$p$SALT_HEX$HASH_HEX" so its parameters can change later
 * without breaking old hashes. Hashing costs ~16 MiB and tens of
 * milliseconds: call it from the job pool, never from an event loop.
 */
#ifndef ATRIUM_SERVER_PASSWORD_H
#define ATRIUM_SERVER_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX 200
#define PASSWORD_MIN_LEN 8
#define PASSWORD_MAX_LEN 1024

/* Hashes password with a new random salt into out (PASSWORD_HASH_MAX). */
int password_hash(const char *password, char *out, size_t outlen);

/* 1 when password matches stored, 0 when not (or stored is malformed). */
int password_verify(const char *password, const char *stored);

/* A well-formed hash nobody's password matches: verifying against it
 * when a user does not exist costs the same time, so a wrong name and a
 * wrong password cannot be told apart by timing. */
extern const char password_dummy_hash[];

/* NULL when password is acceptable for a new account, else why not. */
const char *password_weakness(const char *password);

#endif
