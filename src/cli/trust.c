/* The client's trust store folders and the roots it trusts. See trust.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atrium/tlsclient.h"
#include "cli/trust.h"

#define CERTS_DIR "certs"		/* the trust store's folder, as the reference names it */

char *
cli_exe_certs_dir(void)
{
	char exe[4096], *slash, *out;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return asprintf(&out, "%s/" CERTS_DIR, exe) == -1 ? NULL : out;
}

char *
cli_certs_dir(const char *home)
{
	char *out;

	return asprintf(&out, "%s/" CERTS_DIR, home) == -1 ? NULL : out;
}

struct atr_trust *
cli_trust_load(const char *home, struct atr_err *err)
{
	struct atr_trust *t = atr_trust_new();
	char *dir = NULL;

	if (t == NULL)
		goto nomem;
	atr_trust_add_system(t);
	if ((dir = cli_certs_dir(home)) == NULL)
		goto nomem;
	if (atr_trust_add_dir(t, dir, err) == -1)
		goto fail;
	free(dir);
	/* Beside the executable, as the reference clients keep it (optional). */
	if ((dir = cli_exe_certs_dir()) != NULL && atr_trust_add_dir(t, dir, err) == -1)
		goto fail;
	free(dir);
	return t;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
fail:
	free(dir);
	atr_trust_free(t);
	return NULL;
}
