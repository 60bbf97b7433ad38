/* The first admin on an empty store (bootstrap.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/bootstrap.h"
#include "server/password.h"

int
bootstrap_admin(struct store_conn *sc, const char *datadir, struct atr_err *err)
{
	int64_t users = 0;
	const char *env = getenv("ATRIUM_ADMIN_PASSWORD");
	char generated[33], hash[PASSWORD_HASH_MAX], path[4200];
	const char *password, *weak;
	unsigned char raw[16];

	if (store_user_count(sc, &users, err) == -1)
		return -1;
	if (users > 0)
		return 0;
	if (env != NULL && *env != '\0') {
		if ((weak = password_weakness(env)) != NULL)
			return atr_err_set(err, ATR_E_CONFIG, "ATRIUM_ADMIN_PASSWORD: %s", weak);
		password = env;
	} else {
		if (atr_random_bytes(raw, sizeof(raw)) == -1)
			return atr_err_set(err, ATR_E_INTERNAL, "no randomness for a password");
		atr_hex(raw, sizeof(raw), generated);
		password = generated;
	}
	if (password_hash(password, hash, sizeof(hash)) == -1)
		return atr_err_set(err, ATR_E_INTERNAL, "cannot hash the admin password");
	if (password == generated) {
		char line[40];
		int n = snprintf(line, sizeof(line), "%s\n", generated);
		snprintf(path, sizeof(path), "%s/initial-admin-password", datadir);
		if (atr_write_file_atomic(path, line, (size_t)n, 0600, err) == -1) {
			atr_wipe(generated, sizeof(generated));
			return -1;
		}
		atr_wipe(line, sizeof(line));
	}
	atr_wipe(generated, sizeof(generated));
	if (store_user_create(sc, "admin", hash, "admin", NULL, err) == -1) {
		/* Several nodes starting on one empty database: another one won. */
		if (err->code == ATR_E_EXISTS) {
			atr_info("another node created the first admin");
			if (password == generated) {
				snprintf(path, sizeof(path), "%s/initial-admin-password", datadir);
				unlink(path);
			}
			return 0;
		}
		return -1;
	}
	if (env != NULL && *env != '\0')
		atr_info("created user 'admin' with the password from ATRIUM_ADMIN_PASSWORD");
	else
		atr_info("created user 'admin'; its password is in %s (readable by this user only);"
			 " change it with `atrium user passwd` and delete the file",
		    path);
	return 0;
}
