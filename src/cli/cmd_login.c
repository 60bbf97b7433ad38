/* atrium login, atrium logout: opening and ending a session. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "atrium/keystore.h"
#include "atrium/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/session.h"
#include "cli/url.h"

enum {
	LOGIN_USER, LOGIN_PLAIN, LOGIN_PASSWORD_STDIN, LOGIN_CERT, LOGIN_KEY, LOGIN_KEYSTORE,
	LOGIN_STOREPASS_FILE,
};

static const struct cli_opt login_opts[] = {
	[LOGIN_USER] = {"user", 'u', "USER",
	    "the user to log in as (default: the session's, else your login name)"},
	[LOGIN_PLAIN] = {"plain", 0, NULL,
	    "plain HTTP, port 3579 by default: no TLS, everything travels unencrypted"},
	[LOGIN_PASSWORD_STDIN] = {"password-stdin", 0, NULL,
	    "read the password from the first line of standard input"},
	[LOGIN_CERT] = {"cert", 0, "FILE",
	    "log in with a client certificate (PEM, with its chain) instead of a password"},
	[LOGIN_KEY] = {"key", 0, "FILE", "the client certificate's private key (unencrypted PEM)"},
	[LOGIN_KEYSTORE] = {"keystore", 0, "FILE",
	    "log in with the client certificate and key of a PKCS#12 or JKS keystore"},
	[LOGIN_STOREPASS_FILE] = {"storepass-file", 0, "F",
	    "the keystore's password: the first line of F (default: a prompt)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage login_usage = {
	"atrium login", "[OPTIONS] [HOST[:PORT]]",
	"Logs in to an Atrium server and keeps the session in $ATRIUM_HOME\n"
	"(default ~/.atrium; session.json, mode 0600). HOST may be left out to\n"
	"log in again to the server of the current session.\n"
	"\n"
	"The connection uses TLS, on port 10002 unless HOST:PORT names another\n"
	"(as the reference's login dialog). The server's certificate must chain\n"
	"to a trusted root and name HOST: the system's roots, $ATRIUM_HOME/certs/\n"
	"cert.jks (password in cert.pass; the server's client bundle can be\n"
	"copied there as it is), or a certs folder beside the atrium executable.\n"
	"See atrium certs --help to trust a server. --plain uses plain HTTP on\n"
	"port 3579 instead, and warns.\n"
	"\n"
	"The password comes from --password-stdin, else $ATRIUM_PASSWORD, else\n"
	"a prompt on the terminal.\n"
	"\n"
	"With --cert FILE --key FILE, or --keystore FILE [--storepass-file F], no\n"
	"password is sent: the server logs in the user its client_cert_user\n"
	"makes of the certificate (docs/client-certificates.md). Smart cards\n"
	"(PKCS#11) are not read: export the certificate, or use a browser.",
	login_opts,
};

static const struct cli_opt logout_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage logout_usage = {
	"atrium logout", "",
	"Ends the session: the server forgets its token and $ATRIUM_HOME/session.json\n"
	"is removed.",
	logout_opts,
};

/* The client certificate of --cert/--key or --keystore: 0 with *key and
 * *chain (the caller's), 1 when none was asked for, -1 with err. */
static int
client_cert(const struct cli_args *a, EVP_PKEY **key, STACK_OF(X509) **chain,
    struct atr_err *err)
{
	struct atr_ks *ks = NULL;
	char *pass = NULL;
	int rc = -1;

	*key = NULL;
	*chain = NULL;
	if (a->val[LOGIN_KEYSTORE] != NULL) {
		const struct atr_ks_entry *e = NULL;
		if (a->val[LOGIN_STOREPASS_FILE] != NULL) {
			unsigned char *buf;
			size_t len;
			if (atr_read_file(a->val[LOGIN_STOREPASS_FILE], 4096, &buf, &len, err) == -1)
				return -1;
			pass = strndup((char *)buf, strcspn((char *)buf, "\r\n"));
			atr_wipe(buf, len);
			free(buf);
		} else {
			pass = atr_read_password("Keystore password: ");
		}
		if (pass == NULL)
			return atr_err_set(err, ATR_E_BAD_LOGIN, "no keystore password given");
		if ((ks = atr_ks_load_file(a->val[LOGIN_KEYSTORE], pass, err)) == NULL)
			goto out;
		for (size_t i = 0; i < atr_ks_count(ks) && e == NULL; i++)
			if (atr_ks_entry_kind(atr_ks_entry_at(ks, i)) == ATR_KS_PRIVATE_KEY)
				e = atr_ks_entry_at(ks, i);
		if (e == NULL) {
			atr_err_set(err, ATR_E_KS_NO_ENTRY, "%s holds no key entry",
			    a->val[LOGIN_KEYSTORE]);
			goto out;
		}
		if ((*key = atr_ks_entry_key(ks, e, NULL, err)) == NULL)
			goto out;
		*chain = X509_chain_up_ref((STACK_OF(X509) *)atr_ks_entry_chain(e));
	} else if (a->val[LOGIN_CERT] != NULL) {
		BIO *bio = BIO_new_file(a->val[LOGIN_CERT], "r");
		X509 *x;
		*chain = sk_X509_new_null();
		while (bio != NULL && *chain != NULL &&
		       (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
			if (sk_X509_push(*chain, x) <= 0)
				X509_free(x);
		BIO_free(bio);
		if ((bio = BIO_new_file(a->val[LOGIN_KEY], "r")) != NULL)
			*key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		ERR_clear_error();
		if (*chain == NULL || sk_X509_num(*chain) == 0) {
			atr_err_set(err, ATR_E_CERT_INVALID, "%s holds no PEM certificate",
			    a->val[LOGIN_CERT]);
			goto out;
		}
		if (*key == NULL) {
			atr_err_set(err, ATR_E_CERT_INVALID, "%s holds no unencrypted PEM private key",
			    a->val[LOGIN_KEY]);
			goto out;
		}
	} else {
		return 1;
	}
	rc = *chain != NULL && sk_X509_num(*chain) > 0 ? 0 :
	    atr_err_set(err, ATR_E_CERT_INVALID, "the key entry has no certificate");
out:
	if (rc == -1) {
		EVP_PKEY_free(*key);
		sk_X509_pop_free(*chain, X509_free);
		*key = NULL;
		*chain = NULL;
	}
	atr_ks_free(ks);
	atr_free_secret(pass);
	return rc;
}

/* The user name to log in as when -u is not given. */
static char *
default_user(const struct cli_session *old, const char *server)
{
	const char *u = NULL;
	struct passwd *pw;

	if (old->user != NULL && old->server != NULL && strcmp(old->server, server) == 0)
		u = old->user;
	if (u == NULL)
		u = getenv("USER");
	if ((u == NULL || *u == '\0') && (pw = getpwuid(getuid())) != NULL)
		u = pw->pw_name;
	return u != NULL && *u != '\0' ? strdup(u) : NULL;
}

/* The password, from --password-stdin, $ATRIUM_PASSWORD or the terminal. */
static char *
get_password(int from_stdin, const char *user, const char *server)
{
	const char *env = getenv("ATRIUM_PASSWORD");
	char prompt[512];

	if (from_stdin)
		return atr_read_password("");
	if (env != NULL && *env != '\0')
		return strdup(env);
	snprintf(prompt, sizeof(prompt), "Password for %s at %s: ", user,
	    cli_url_hostport(server));
	return atr_read_password(prompt);
}

/* Copies a string member of the answer, or NULL. */
static char *
member(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? strdup(s) : NULL;
}

/*
 * --plain got no answer from server (made from arg). The TLS port the user
 * would get without --plain is arg without it; when arg names the same
 * port as the plain one, the default TLS port on that host. When that port
 * answers TLS, the plain port is closed (the server runs with plain = off)
 * and err says so, and to drop --plain.
 */
static void
plain_closed_hint(const char *arg, const char *server, struct atr_err *err)
{
	struct atr_err uerr;
	char *tls = NULL, host[256], hp[300], cmd[300];

	if (cli_server_url(arg, 0, &tls, &uerr) == -1 || cli_url_host(tls, host, sizeof(host)) == -1)
		goto out;
	snprintf(hp, sizeof(hp), "%s", cli_url_hostport(tls));
	snprintf(cmd, sizeof(cmd), "%s", arg);
	if (strcmp(strrchr(hp, ':'), strrchr(cli_url_hostport(server), ':')) == 0) {
		snprintf(hp, sizeof(hp), strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d", host,
		    CLI_PORT_TLS);
		snprintf(cmd, sizeof(cmd), "%s", strchr(host, ':') != NULL ? hp : host);
	}
	if (cli_probe_tls(hp) == 1)
		atr_err_set(err, ATR_E_NETWORK, "the plain port %s is closed, but the server's TLS "
		    "port %s answers: drop --plain (atrium login %s)", cli_url_hostport(server), hp,
		    cmd);
out:
	free(tls);
}

static int
login_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_session old = {0}, s = {0};
	struct cli_reply rep = {0};
	struct cli_http *h = NULL;
	char *home = NULL, *server = NULL, *user = NULL, *password = NULL;
	char when[64];
	json_t *body = NULL;
	int status = CLI_FAIL, with_cert = 0;
	EVP_PKEY *ckey = NULL;
	STACK_OF(X509) *cchain = NULL;

	if (cli_args_get(&login_usage, argc, argv, 0, 1, &a, &status) == -1)
		return status;
	status = CLI_FAIL;
	if ((a.val[LOGIN_CERT] != NULL) != (a.val[LOGIN_KEY] != NULL) ||
	    (a.val[LOGIN_CERT] != NULL && a.val[LOGIN_KEYSTORE] != NULL) ||
	    (a.val[LOGIN_STOREPASS_FILE] != NULL && a.val[LOGIN_KEYSTORE] == NULL)) {
		status = cli_usage_error(&login_usage, "give --cert FILE with --key FILE, or "
		    "--keystore FILE [--storepass-file F]");
		goto out;
	}
	if ((with_cert = client_cert(&a, &ckey, &cchain, &err)) == -1)
		goto fail;
	with_cert = with_cert == 0;
	if ((home = cli_home(&err)) == NULL)
		goto fail;
	/* An old session only supplies defaults: a damaged one is ignored. */
	cli_session_load(home, &old, &err);
	if (a.npos == 1) {
		if (cli_server_url(a.pos[0], a.val[LOGIN_PLAIN] != NULL, &server, &err) == -1) {
			status = err.code == ATR_E_USAGE ? cli_usage_error(&login_usage, "%s",
			    atr_err_msg(&err)) : cli_fail(&err);
			goto out;
		}
	} else if (old.server != NULL) {
		if (a.val[LOGIN_PLAIN] != NULL && strncmp(old.server, "https://", 8) == 0) {
			status = cli_usage_error(&login_usage, "the session's server %s uses TLS; give "
			    "HOST[:PORT] with --plain", cli_url_hostport(old.server));
			goto out;
		}
		if ((server = strdup(old.server)) == NULL)
			goto nomem;
	} else {
		status = cli_usage_error(&login_usage, "which server? Give HOST[:PORT]");
		goto out;
	}
	if (with_cert) {
		/* The server takes the name from the certificate. */
		if ((body = json_object()) == NULL)
			goto nomem;
		if ((h = cli_http_new(server, &err)) == NULL ||
		    cli_http_set_client_cert(h, ckey, cchain, &err) == -1)
			goto fail;
		goto call;
	}
	user = a.val[LOGIN_USER] != NULL ? strdup(a.val[LOGIN_USER]) : default_user(&old, server);
	if (user == NULL || *user == '\0') {
		status = cli_usage_error(&login_usage, "which user? Give -u USER");
		goto out;
	}
	if (strncmp(server, "http://", 7) == 0)
		fprintf(stderr, "atrium: warning: plain HTTP to %s (no TLS): the password and "
		    "everything after it travel unencrypted%s\n", cli_url_hostport(server),
		    cli_url_is_loopback(server) ? "" : " across the network");
	password = get_password(a.val[LOGIN_PASSWORD_STDIN] != NULL, user, server);
	if (password == NULL || *password == '\0') {
		status = cli_failf("no password given");
		goto out;
	}
	if ((body = json_object()) == NULL ||
	    json_object_set_new(body, "user", json_string(user)) == -1 ||
	    json_object_set_new(body, "password", json_string(password)) == -1) {
		atr_err_set(&err, ATR_E_USAGE, "the user name and the password must be UTF-8");
		goto fail;
	}
	if ((h = cli_http_new(server, &err)) == NULL)
		goto fail;
call:
	/* Logging in again to the same server: another certificate that fails is a change. */
	if (old.server != NULL && strcmp(old.server, server) == 0)
		cli_http_set_known(h, old.cert_sha256);
	if (cli_http_call(h, "POST", "/api/v1/session", body, 200, &rep, &err) == -1) {
		if (a.npos == 1 && strncmp(server, "http://", 7) == 0 && rep.status == 0 &&
		    err.code == ATR_E_NETWORK)
			plain_closed_hint(a.pos[0], server, &err);
		goto fail;
	}
	s.server = server;
	s.user = member(rep.json, "user");
	if (s.user == NULL && (user == NULL || (s.user = strdup(user)) == NULL))
		goto nomem;
	s.role = member(rep.json, "role");
	s.token = member(rep.json, "token");
	s.expires = member(rep.json, "expires");
	if (cli_http_cert_sha256(h) != NULL && (s.cert_sha256 = strdup(cli_http_cert_sha256(h))) ==
	    NULL)
		goto nomem;
	server = NULL; /* s owns it now */
	if (s.token == NULL || cli_http_set_token(h, s.token, &err) == -1) {
		status = cli_failf("the server's answer holds no usable token; is %s an "
		    "Atrium server?", cli_url_hostport(s.server));
		goto out;
	}
	/* Where `atrium admin` finds the console, so that it need not guess 8443. */
	s.admin_port = cli_admin_port_discover(h);
	if (cli_session_save(home, &s, &err) == -1)
		goto fail;
	/* The session this one replaces stops working (best effort, same server only). */
	if (old.token != NULL && strcmp(old.server, s.server) == 0 &&
	    strcmp(old.token, s.token) != 0 && cli_http_set_token(h, old.token, &err) == 0) {
		cli_reply_clear(&rep);
		cli_http_call(h, "DELETE", "/api/v1/session", NULL, 204, &rep, &err);
	}
	cli_format_time(s.expires, when, sizeof(when));
	printf("Logged in to %s as %s%s%s%s; the session lasts until %s.\n",
	    cli_url_hostport(s.server), s.user, s.role != NULL ? " (" : "",
	    s.role != NULL ? s.role : "", s.role != NULL ? ")" : "",
	    s.expires != NULL ? when : "the server ends it");
	status = CLI_OK;
	goto out;
nomem:
	atr_err_set(&err, ATR_E_NOMEM, NULL);
fail:
	status = cli_fail(&err);
out:
	json_decref(body);
	cli_reply_clear(&rep);
	cli_http_free(h);
	cli_session_clear(&old);
	cli_session_clear(&s);
	atr_free_secret(password);
	EVP_PKEY_free(ckey);
	sk_X509_pop_free(cchain, X509_free);
	free(user);
	free(server);
	free(home);
	return status;
}

int
cmd_login(int argc, char **argv)
{
	cli_init();
	return login_main(argc, argv);
}

int
cmd_logout(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	int status;

	cli_init();
	if (cli_args_get(&logout_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1) {
		if (err.code == ATR_E_UNAUTHORIZED) {
			/* Already logged out: the goal is reached. */
			printf("Not logged in.\n");
			status = CLI_OK;
		} else if (c.home != NULL && err.code != ATR_E_NOMEM &&
		    cli_session_remove(c.home, &err) == 0) {
			/* A damaged session file or token: forget it. */
			printf("Removed a damaged session.\n");
			status = CLI_OK;
		} else {
			status = cli_fail(&err);
		}
		cli_ctx_close(&c);
		return status;
	}
	/* An expired session means the token was dead already: fine for a logout. */
	if (cli_http_call(c.http, "DELETE", "/api/v1/session", NULL, 204, &rep, &err) == -1 &&
	    !cli_reply_expired(&rep))
		fprintf(stderr, "atrium: warning: the server could not be told (%s); "
		    "the token stays valid there until it expires\n", atr_err_msg(&err));
	cli_reply_clear(&rep);
	if (cli_session_remove(c.home, &err) == -1) {
		status = cli_fail(&err);
	} else {
		printf("Logged out of %s.\n", cli_url_hostport(c.session.server));
		status = CLI_OK;
	}
	cli_ctx_close(&c);
	return status;
}
