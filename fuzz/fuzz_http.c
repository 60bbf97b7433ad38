/*
 * libFuzzer target for HTTP request handling: the bytes a client sends go
 * through the real connection code (http-parser, conn.c, req.c), the
 * router and the handlers, on a real SQLite store in a scratch data
 * directory (in /dev/shm when there is one). Nothing is mocked: the server
 * is built with server_new() and its first event loop is run here, one
 * connection per input; slow work goes to a job-pool thread as in atriumd.
 *
 * Input: the first byte picks the port ('A': the admin console's port,
 * reached through a TLS client; 'a': the same port spoken to in plain HTTP,
 * which is answered by a redirect to https://; anything else: the plain API
 * port), the rest is what the client sends. Requests may be pipelined. When the server has
 * nothing more to say the client hangs up, and the input is done when the
 * connection is freed and no job is outstanding.
 *
 * Credentials the inputs can use (see fuzz/http.dict):
 *   Authorization: Bearer <FUZZ_TOKEN>                (user "fuzz", an admin)
 *   Cookie: atrium_admin=<FUZZ_TOKEN> + X-CSRF-Token  (the console's session)
 *   Authorization: Basic ZnV6ejpmdXp6LXBhc3N3b3Jk     (fuzz:fuzz-password)
 * User "fuzz" has a cheap scrypt hash (N=2), and password hashing is made
 * cheap for everyone (EVP_KDF_derive below), so that logins and new users
 * do not cost 16 MiB and tens of milliseconds each. Before each input the session,
 * the user and its role are put back if an earlier input removed them, and
 * every 2000 inputs the projects inputs created are thinned out.
 *
 *   make fuzz-build && build/fuzz/fuzz_http -dict=fuzz/http.dict CORPUS fuzz/corpus/http
 */
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

#include "atrium/config.h"
#include "atrium/log.h"
#include "atrium/util.h"
#include "server/server.h"
#include "server/server_int.h"
#include "server/sessions.h"
#include "server/store.h"

#define FUZZ_TOKEN "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
#define FUZZ_USER "fuzz"
#define FUZZ_PASSWORD "fuzz-password"
#define QUIET_ROUNDS 3

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server *srv;
static struct loop *lp;
static struct store_conn *fix_sc; /* this thread's: puts the fuzz session back */
static char datadir[256];
static char token_hash[65];
static char fuzz_hash[200];
static SSL_CTX *client_ctx;
static int echo;

/* The client's side of one connection. */
struct client {
	struct bufferevent *bev;
	size_t got;   /* response bytes read (and discarded) */
	int closed;   /* EOF or error seen */
};

static void die(const char *what) __attribute__((noreturn));

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	abort();
}

/* ---- cheap password hashing */

/*
 * password.c hashes with scrypt N=16384, r=8 (16 MiB, tens of milliseconds
 * under ASan): inputs that log in or create users would make the fuzzer
 * crawl. This definition takes the place of OpenSSL's for the server code
 * linked into this program and derives with N at most 16; the code paths
 * are the same, only cheaper.
 */
int
EVP_KDF_derive(EVP_KDF_CTX *ctx, unsigned char *key, size_t keylen, const OSSL_PARAM params[])
{
	static int (*real)(EVP_KDF_CTX *, unsigned char *, size_t, const OSSL_PARAM[]);
	OSSL_PARAM copy[16];
	uint64_t n = 16;
	size_t i;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "EVP_KDF_derive");
	if (real == NULL)
		die("no EVP_KDF_derive");
	for (i = 0; params != NULL && params[i].key != NULL && i + 1 < 16; i++) {
		copy[i] = params[i];
		if (strcmp(params[i].key, OSSL_KDF_PARAM_SCRYPT_N) == 0) {
			uint64_t want = 0;
			OSSL_PARAM_get_uint64(&params[i], &want);
			if (want < n)
				n = want;
			copy[i] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
		}
	}
	copy[i] = OSSL_PARAM_construct_end();
	return real(ctx, key, keylen, params == NULL ? NULL : copy);
}

/* Whether a job is queued, running or waiting for the loop. */
static int
jobs_busy(void)
{
	return job_pool_busy(srv->pool) || job_inbox_pending(&lp->inbox);
}

/* ---- set-up */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
cleanup(void)
{
	if (srv != NULL && getenv("FUZZ_HTTP_STATS") != NULL)
		fprintf(stderr, "fuzz_http: %llu TLS handshakes, %llu resumed\n",
		    (unsigned long long)atomic_load(&srv->rt.handshakes),
		    (unsigned long long)atomic_load(&srv->rt.handshakes_resumed));
	if (datadir[0] != '\0')
		nftw(datadir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A scrypt hash in password.c's format with N=2: cheap to check. */
static void
cheap_hash(const char *password, char *out, size_t outlen)
{
	static const unsigned char salt[16] = "atrium-fuzz-salt";
	unsigned char key[32];
	char salthex[33], keyhex[65];

	if (EVP_PBE_scrypt(password, strlen(password), salt, sizeof(salt), 2, 1, 1, 0, key,
		sizeof(key)) != 1)
		die("scrypt failed");
	atr_hex(salt, sizeof(salt), salthex);
	atr_hex(key, sizeof(key), keyhex);
	snprintf(out, outlen, "scrypt$2$1$1$%s$%s", salthex, keyhex);
}

/* Puts back user "fuzz" (an admin, with its password) and its session
 * when an earlier input deleted, demoted or logged them out. */
static void
restore_session(void)
{
	struct atr_err err;
	struct store_user u;
	int64_t now = atr_now_ms() / 1000;

	if (store_session_lookup(fix_sc, token_hash, now, &u, &err) == 0 &&
	    strcmp(u.name, FUZZ_USER) == 0 && strcmp(u.role, "admin") == 0)
		return;
	if (store_user_get(fix_sc, FUZZ_USER, &u, NULL, 0, &err) == -1)
		store_user_create(fix_sc, FUZZ_USER, fuzz_hash, "admin", NULL, &err);
	else
		store_user_set_role(fix_sc, FUZZ_USER, "admin", &err);
	store_user_set_password(fix_sc, FUZZ_USER, fuzz_hash, NULL, &err);
	store_session_delete(fix_sc, token_hash, &err);
	if (store_session_create(fix_sc, token_hash, FUZZ_USER, now + 365 * 86400, &err) == -1)
		die(atr_err_msg(&err));
	session_cache_forget(token_hash);
	session_cache_forget_user(FUZZ_USER);
}

/* Project names collected for prune(). */
struct names {
	char (*v)[STORE_NAME_MAX + 1];
	size_t n, cap;
};

static int
collect(const struct store_project *p, void *arg)
{
	struct names *nm = arg;

	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? 2 * nm->cap : 256;
		void *bigger = realloc(nm->v, cap * sizeof(*nm->v));
		if (bigger == NULL)
			return -1;
		nm->v = bigger;
		nm->cap = cap;
	}
	memcpy(nm->v[nm->n++], p->name, sizeof(p->name));
	return 0;
}

/* Every few thousand inputs, deletes the projects inputs made beyond the
 * first hundred (but "plant", which the seeds use), so that listing them
 * does not slow a long run down. */
static void
prune(void)
{
	static unsigned long inputs;
	struct names nm = {NULL, 0, 0};
	struct atr_err err;

	if (++inputs % 2000 != 0)
		return;
	store_project_list(fix_sc, collect, &nm, &err);
	for (size_t i = 0; nm.n > 100 && i < nm.n; i++)
		if (strcmp(nm.v[i], "plant") != 0)
			store_project_delete(fix_sc, nm.v[i], NULL, &err);
	free(nm.v);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const settings[][2] = {
		/* No listening sockets: connections are handed to the loop here. */
		{"plain", "off"}, {"tls", "off"}, {"admin", "off"},
		{"workers", "1"}, {"store_threads", "1"}, {"log_level", "error"},
	};
	struct atr_config *overrides = atr_config_new();
	struct atr_err err;
	char *confpath = NULL;
	unsigned char md[32];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	echo = getenv("FUZZ_HTTP_ECHO") != NULL;
	evthread_use_pthreads();
	snprintf(datadir, sizeof(datadir), "%s/atrium-fuzz-http-XXXXXX", base);
	if (mkdtemp(datadir) == NULL) {
		datadir[0] = '\0';
		die("cannot make a data directory");
	}
	atexit(cleanup);
	setenv("ATRIUM_ADMIN_PASSWORD", "fuzz-admin-password", 1);
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (overrides == NULL ||
		    atr_config_set(overrides, settings[i][0], settings[i][1], "fuzz", &err) == -1)
			die("cannot set the overrides");
	if ((confpath = server_confpath(datadir, NULL)) == NULL ||
	    (srv = server_new(datadir, confpath, overrides, &err)) == NULL)
		die(confpath == NULL ? "out of memory" : atr_err_msg(&err));
	free(confpath);
	lp = &srv->loops[0];
	if (server_test_apply_on(srv, lp->base) == -1)
		die("cannot set up reloads");

	EVP_Digest(FUZZ_TOKEN, 64, md, NULL, EVP_sha256(), NULL);
	atr_hex(md, sizeof(md), token_hash);
	cheap_hash(FUZZ_PASSWORD, fuzz_hash, sizeof(fuzz_hash));
	if ((fix_sc = store_conn_open(srv->rt.store, &err)) == NULL)
		die(atr_err_msg(&err));
	restore_session();

	/* The server's own pool, one thread (server_run() is not used here). */
	if (job_pool_start(srv->pool, 1, srv->rt.store, &err) == -1)
		die(atr_err_msg(&err));
	if ((client_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("no TLS client context");
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	return 0;
}

/* ---- one connection */

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	cl->got += evbuffer_get_length(in);
	if (echo) /* FUZZ_HTTP_ECHO=1: the responses, for writing seeds */
		evbuffer_write(in, STDERR_FILENO);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *cl = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		cl->closed = 1;
}

static int
unread(int fd)
{
	int n = 0;

	if (fd == -1 || ioctl(fd, FIONREAD, &n) == -1)
		return 0;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client cl = {NULL, 0, 0};
	struct sockaddr_in sin;
	int sv[2], admin, tls, quiet = 0;

	if (size < 1)
		return 0;
	admin = data[0] == 'A' || data[0] == 'a';
	tls = data[0] == 'A';
	restore_session();
	prune();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair failed");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(40000);
	conn_accept(lp, sv[0], admin ? LK_ADMIN : LK_PLAIN, (struct sockaddr *)&sin,
	    (int)sizeof(sin));

	if (tls) {
		SSL *ssl = SSL_new(client_ctx);
		if (ssl == NULL)
			die("SSL_new failed");
		cl.bev = bufferevent_openssl_socket_new(lp->base, sv[1], ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (cl.bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(cl.bev, 1);
	} else {
		cl.bev = bufferevent_socket_new(lp->base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	}
	if (cl.bev == NULL)
		die("no client bufferevent");
	bufferevent_setcb(cl.bev, client_read, NULL, client_event, &cl);
	bufferevent_enable(cl.bev, EV_READ | EV_WRITE);
	bufferevent_write(cl.bev, data + 1, size - 1);

	/* Until the server has read everything and has nothing more to say. */
	while (!cl.closed && quiet < QUIET_ROUNDS) {
		size_t before = cl.got;
		if (jobs_busy()) {
			event_base_loop(lp->base, EVLOOP_ONCE); /* woken when the job returns */
			quiet = 0;
			continue;
		}
		event_base_loop(lp->base, EVLOOP_NONBLOCK);
		if (cl.got == before && lp->nconns > 0 && !jobs_busy() &&
		    evbuffer_get_length(bufferevent_get_output(cl.bev)) == 0 &&
		    unread(sv[0]) == 0 && unread(sv[1]) == 0)
			quiet++;
		else if (lp->nconns == 0 && !jobs_busy())
			break;
		else
			quiet = 0;
	}
	bufferevent_free(cl.bev); /* hangs up */

	/* Until the connection is freed and no job of it is outstanding. */
	while (lp->nconns > 0 || jobs_busy())
		event_base_loop(lp->base, jobs_busy() ? EVLOOP_ONCE : EVLOOP_NONBLOCK);
	return 0;
}
