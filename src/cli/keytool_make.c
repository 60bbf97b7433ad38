/*
 * atrium keytool: the commands that make keys and certificates
 * (-genkeypair, -certreq, -gencert) and -importcert, which adds trusted
 * certificates or installs a CA's reply on a key entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "atrium/util.h"
#include "cli/keytool_int.h"

/* ------------------------------------------------------------ helpers */

/* keytool's interactive questions when -dname is missing. */
static X509_NAME *
ask_dname(struct kt *kt)
{
	static const char *const questions[6] = {
		"What is your first and last name?",
		"What is the name of your organizational unit?",
		"What is the name of your organization?",
		"What is the name of your City or Locality?",
		"What is the name of your State or Province?",
		"What is the two-letter country code for this unit?",
	};
	char *answers[6] = {0};
	X509_NAME *name = NULL;
	struct atr_err err = {0};
	int ok = 0;

	for (int i = 0; i < 6; i++)
		answers[i] = strdup("Unknown");
	for (int tries = 0; tries <= 20 && !ok; tries++) {
		char prompt[1024], *text, *reply;

		for (int i = 0; i < 6; i++) {
			snprintf(prompt, sizeof(prompt), "%s\n  [%s]:  ", questions[i],
			    answers[i] ? answers[i] : "");
			reply = kt_read_line(prompt);
			if (reply != NULL && reply[0] != '\0') {
				free(answers[i]);
				answers[i] = reply;
			} else {
				free(reply);
			}
		}
		for (int i = 0; i < 6; i++)
			if (answers[i] == NULL)
				goto out;
		X509_NAME_free(name);
		name = atr_x509_name_from_parts(answers[0], answers[1], answers[2], answers[3],
		    answers[4], answers[5], &err);
		if (name == NULL || (text = atr_x509_name_format(name)) == NULL)
			goto out;
		snprintf(prompt, sizeof(prompt), "Is %s correct?\n  [no]:  ", text);
		free(text);
		reply = kt_read_line(prompt);
		ok = reply != NULL && (strcasecmp(reply, "yes") == 0 || strcasecmp(reply, "y") == 0);
		free(reply);
	}
	if (!ok) {
		kt_fail(kt, "java.lang.RuntimeException", "Too many retries, program terminated");
		X509_NAME_free(name);
		name = NULL;
	} else {
		fputc('\n', stderr);
	}
out:
	for (int i = 0; i < 6; i++)
		free(answers[i]);
	if (name == NULL && !ok && err.code != ATR_E_OK)
		kt_fail_err(kt, &err);
	return name;
}

/* Java's promptForKeyPass() for a new JKS key entry. */
static int
ask_new_key_password(struct kt *kt, const char *alias)
{
	char prompt[600];

	if (strcmp(kt->typename, "PKCS12") == 0 || kt->storepass == NULL) {
		if (kt->storepass != NULL)
			kt->keypass = strdup(kt->storepass);
		return 0;
	}
	snprintf(prompt, sizeof(prompt), "Enter key password for <%s>\n"
	    "\t(RETURN if same as keystore password):  ", alias);
	for (int count = 0; count < 3; count++) {
		char *p = kt_read_password(prompt), *again;

		if (p == NULL) {
			kt->keypass = strdup(kt->storepass);
			return 0;
		}
		if (strlen(p) < 6) {
			fputs("Key password is too short - must be at least 6 characters\n", stderr);
			atr_free_secret(p);
			continue;
		}
		again = kt_read_password("Re-enter new password: ");
		if (again == NULL || strcmp(p, again) != 0) {
			fputs("They don't match. Try again\n", stderr);
			atr_free_secret(p);
			atr_free_secret(again);
			continue;
		}
		atr_free_secret(again);
		kt->keypass = p;
		return 0;
	}
	return kt_fail(kt, "java.lang.Exception", "Too many failures - key not added to keystore");
}

static X509_NAME *
parse_dname(struct kt *kt, const char *dname)
{
	struct atr_err err = {0};
	X509_NAME *name = atr_x509_name_parse(dname, &err);

	if (name == NULL)
		kt_fail(kt, "java.io.IOException", "%s", atr_err_msg(&err));
	return name;
}

/* The EC curve keytool suggests for -keysize (ecGroupNameForSize). */
static const char *
ec_group_for_size(int size)
{
	switch (size) {
	case 256:
		return "secp256r1";
	case 384:
		return "secp384r1";
	case 521:
		return "secp521r1";
	default:
		return NULL;
	}
}

/* -------------------------------------------------------- -genkeypair */

int
kt_do_genkeypair(struct kt *kt)
{
	const char *alias = kt->alias ? kt->alias : "mykey";
	const char *keyalg = kt->keyalg, *signpass = NULL;
	struct atr_x509_builder *b = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL, *signkey = NULL;
	X509_NAME *name = NULL;
	X509 *cert = NULL, *signcert = NULL;
	struct atr_err err = {0};
	int keysize = kt->keysize, rc = -1;
	int64_t start;
	char *text = NULL, bits[32], days[32], algname[96], sig[128];

	if (keyalg == NULL)
		return kt_fail(kt, "java.lang.Exception", "The -keyalg option must be specified.");
	if (kt->groupname != NULL) {
		if (keysize != -1)
			return kt_fail(kt, "java.lang.Exception",
			    "Cannot specify both -groupname and -keysize");
	} else if (keysize == -1) {
		if (strcasecmp(keyalg, "EC") == 0)
			keysize = 256;
		else if (strcasecmp(keyalg, "RSA") == 0 || strcasecmp(keyalg, "DSA") == 0)
			keysize = 2048;
		else if (strcasecmp(keyalg, "EdDSA") == 0 || strcasecmp(keyalg, "Ed25519") == 0)
			keysize = 255;
	} else if (strcasecmp(keyalg, "EC") == 0) {
		const char *g = ec_group_for_size(keysize);

		if (g == NULL)
			return kt_fail(kt, "java.security.spec.InvalidParameterSpecException",
			    "Not a supported curve: java.security.spec.ECParameterSpec");
		kt_warn(kt, "Specifying -keysize for generating EC keys is deprecated, please use "
		    "\"-groupname %s\" instead.", g);
	}
	if (kt_find(kt, alias) != NULL)
		return kt_fail(kt, "java.lang.Exception",
		    "Key pair not generated, alias <%s> already exists", alias);
	if (kt->signer != NULL) {
		char *saved = kt->keypass;

		kt->keypass = kt->signerkeypass;
		signkey = kt_recover_key(kt, kt->ks, kt->signer, kt->storepass, &signpass);
		kt->signerkeypass = kt->keypass;
		kt->keypass = saved;
		if (signkey == NULL)
			return -1;
		signcert = kt_entry_cert(kt_find(kt, kt->signer));
	}
	if (kt->dname == NULL) {
		kt_flush_warnings(kt, 1);
		if ((name = ask_dname(kt)) == NULL)
			goto out;
	} else if ((name = parse_dname(kt, kt->dname)) == NULL) {
		goto out;
	}
	if (strcasecmp(keyalg, "RSA") != 0 && strcasecmp(keyalg, "EC") != 0 &&
	    strcasecmp(keyalg, "Ed25519") != 0 && strcasecmp(keyalg, "EdDSA") != 0) {
		kt_fail(kt, "java.security.NoSuchAlgorithmException", "%s KeyPairGenerator not available",
		    keyalg);
		goto out;
	}
	if ((key = atr_x509_key_generate(keyalg, kt->groupname ? -1 : keysize, kt->groupname,
	    &err)) == NULL) {
		kt_fail(kt, "java.lang.IllegalArgumentException", "%s", atr_err_msg(&err));
		goto out;
	}
	if ((b = atr_x509_builder_new()) == NULL) {
		kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
		goto out;
	}
	for (size_t i = 0; i < kt->next; i++)
		if (atr_x509_builder_add_ext(b, kt->exts[i], &err) == -1) {
			kt_fail_x509(kt, &err, NULL, NULL);
			goto out;
		}
	if (atr_x509_parse_startdate(kt->startdate, atr_now_ms(), &start, &err) == -1) {
		kt_fail(kt, "java.io.IOException", "%s", atr_err_msg(&err));
		goto out;
	}
	if (atr_x509_builder_set_subject(b, name, &err) == -1 ||
	    atr_x509_builder_set_pubkey(b, key, &err) == -1 ||
	    atr_x509_builder_set_validity(b, start, kt->validity, &err) == -1 ||
	    (signcert != NULL && atr_x509_builder_set_issuer(b, signcert, &err) == -1)) {
		kt_fail_x509(kt, &err, NULL, "java.security.cert.CertificateException");
		goto out;
	}
	if ((cert = atr_x509_builder_sign(b, signkey ? signkey : key, kt->sigalg, &err)) == NULL) {
		kt_fail_x509(kt, &err, signkey ? signkey : key, NULL);
		goto out;
	}
	if ((text = atr_x509_name_format(name)) == NULL ||
	    atr_x509_key_algname(key, algname, sizeof(algname)) == -1 ||
	    atr_x509_sigalg_name(cert, sig, sizeof(sig)) == -1) {
		kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
		goto out;
	}
	kt_group(kt->groupname ? atr_x509_key_bits(key) : keysize, bits, sizeof(bits));
	kt_group(kt->validity, days, sizeof(days));
	if (kt->signer != NULL)
		fprintf(stderr, "Generating %s bit %s key pair and a certificate (%s) issued by <%s> "
		    "with a validity of %s days\n\tfor: %s\n", bits, algname, sig, kt->signer, days,
		    text);
	else
		fprintf(stderr, "Generating %s bit %s key pair and self-signed certificate (%s) with a "
		    "validity of %s days\n\tfor: %s\n", bits, algname, sig, days, text);
	if (kt->keypass == NULL && ask_new_key_password(kt, alias) == -1)
		goto out;
	if (signcert != NULL)
		chain = kt_chain_ref(atr_ks_entry_chain(kt_find(kt, kt->signer)));
	else
		chain = sk_X509_new_null();
	if (chain == NULL || !sk_X509_insert(chain, cert, 0)) {
		kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
		goto out;
	}
	cert = NULL; /* the chain holds it now */
	kt_check_weak_chain(kt, "The generated certificate", chain);
	if (atr_ks_set_key(kt->ks, alias, key, chain, kt->keypass, 0, &err) == -1) {
		kt_fail_err(kt, &err);
		goto out;
	}
	kt->kssave = 1;
	rc = 0;
out:
	free(text);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	atr_x509_builder_free(b);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	EVP_PKEY_free(signkey);
	return rc;
}

/* ----------------------------------------------------------- -certreq */

int
kt_do_certreq(struct kt *kt)
{
	const char *alias = kt->alias ? kt->alias : "mykey", *used = NULL;
	struct atr_err err = {0};
	X509_NAME *subject = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *key;
	X509 *cert;
	FILE *out = NULL;
	char *pem = NULL;
	size_t len = 0;
	int rc = -1;

	if ((key = kt_recover_key(kt, kt->ks, alias, kt->storepass, &used)) == NULL)
		return -1;
	if ((cert = kt_entry_cert(kt_find(kt, alias))) == NULL) {
		kt_fail(kt, "java.lang.Exception", "%s has no public key (certificate)", alias);
		goto out;
	}
	if (kt->dname != NULL) {
		if ((subject = parse_dname(kt, kt->dname)) == NULL)
			goto out;
	} else if ((subject = X509_NAME_dup(X509_get_subject_name(cert))) == NULL) {
		kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
		goto out;
	}
	if ((req = atr_x509_csr_make(key, subject, kt->sigalg, kt->exts, kt->next, &err)) == NULL) {
		kt_fail_x509(kt, &err, key, NULL);
		goto out;
	}
	if ((pem = atr_x509_csr_pem(req, &len)) == NULL) {
		kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
		goto out;
	}
	if ((out = kt_open_output(kt, kt->file)) == NULL)
		goto out;
	fwrite(pem, 1, len, out);
	if (out != stdout && fclose(out) != 0) {
		out = NULL;
		kt_fail(kt, "java.io.IOException", "cannot write %s", kt->file);
		goto out;
	}
	out = NULL;
	if (kt->verbose && kt->file != NULL)
		fprintf(stderr, "Certification request stored in file <%s>\nSubmit this to your CA\n",
		    kt->file);
	{
		char sig[128];

		kt_check_weak_alg(kt, "The generated certificate request",
		    kt_csr_sigalg(req, sig, sizeof(sig)), key);
	}
	rc = 0;
out:
	if (out != NULL && out != stdout)
		fclose(out);
	free(pem);
	X509_REQ_free(req);
	X509_NAME_free(subject);
	EVP_PKEY_free(key);
	return rc;
}

/* ----------------------------------------------------------- -gencert */

int
kt_do_gencert(struct kt *kt)
{
	const char *alias = kt->alias ? kt->alias : "mykey", *used = NULL;
	const struct atr_ks_entry *e;
	const STACK_OF(X509) *signchain;
	struct atr_x509_builder *b = NULL;
	struct atr_err err = {0};
	unsigned char *buf = NULL;
	size_t len = 0;
	X509_NAME *subject = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	X509 *signcert, *cert = NULL;
	FILE *out = NULL;
	int64_t start;
	int rc = -1;

	if ((e = kt_find(kt, alias)) == NULL)
		return kt_fail(kt, "java.lang.Exception", "Alias <%s> does not exist", alias);
	signcert = kt_entry_cert(e);
	if (atr_x509_parse_startdate(kt->startdate, atr_now_ms(), &start, &err) == -1)
		return kt_fail(kt, "java.io.IOException", "%s", atr_err_msg(&err));
	if ((b = atr_x509_builder_new()) == NULL)
		return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
	if (atr_x509_builder_set_validity(b, start, kt->validity, &err) == -1) {
		kt_fail(kt, "java.lang.Exception", "%s", atr_err_msg(&err));
		goto out;
	}
	if ((key = kt_recover_key(kt, kt->ks, alias, kt->storepass, &used)) == NULL)
		goto out;
	if (signcert == NULL) {
		kt_fail(kt, "java.lang.Exception", "Alias <%s> has no certificate", alias);
		goto out;
	}
	if (kt_read_input(kt, kt->infile, &buf, &len) == -1)
		goto out;
	if ((req = atr_x509_csr_read(buf, len, &err)) == NULL) {
		kt_fail(kt, "java.io.IOException", "%s", atr_err_msg(&err));
		goto out;
	}
	if (!atr_x509_csr_verify(req)) {
		kt_fail(kt, "java.security.SignatureException", "Invalid PKCS #10 signature");
		goto out;
	}
	if (atr_x509_builder_set_from_csr(b, req, &err) == -1 ||
	    atr_x509_builder_set_issuer(b, signcert, &err) == -1) {
		kt_fail_err(kt, &err);
		goto out;
	}
	if (kt->dname != NULL) {
		if ((subject = parse_dname(kt, kt->dname)) == NULL)
			goto out;
		if (atr_x509_builder_set_subject(b, subject, &err) == -1) {
			kt_fail_err(kt, &err);
			goto out;
		}
	}
	for (size_t i = 0; i < kt->next; i++)
		if (atr_x509_builder_add_ext(b, kt->exts[i], &err) == -1) {
			kt_fail_x509(kt, &err, NULL, NULL);
			goto out;
		}
	if ((cert = atr_x509_builder_sign(b, key, kt->sigalg, &err)) == NULL) {
		kt_fail_x509(kt, &err, key, NULL);
		goto out;
	}
	if ((out = kt_open_output(kt, kt->outfile)) == NULL)
		goto out;
	if (kt_dump_cert(kt, cert, out) == -1)
		goto out;
	signchain = atr_ks_entry_chain(e);
	for (int i = 0; signchain != NULL && i < sk_X509_num(signchain); i++) {
		X509 *ca = sk_X509_value(signchain, i);

		if (!atr_x509_self_signed(ca) && kt_dump_cert(kt, ca, out) == -1)
			goto out;
	}
	if (out != stdout && fclose(out) != 0) {
		out = NULL;
		kt_fail(kt, "java.io.IOException", "cannot write %s", kt->outfile);
		goto out;
	}
	out = NULL;
	if (signchain != NULL)
		kt_check_weak_chain(kt, "The issuer", signchain);
	kt_check_weak(kt, "The generated certificate", cert, 0);
	rc = 0;
out:
	if (out != NULL && out != stdout)
		fclose(out);
	free(buf);
	X509_free(cert);
	X509_REQ_free(req);
	X509_NAME_free(subject);
	EVP_PKEY_free(key);
	atr_x509_builder_free(b);
	return rc;
}

/* -------------------------------------------------------- -importcert */

/* Every certificate in the keystore (leaf of key entries, trusted certs),
 * with the cacerts ones when -trustcacerts is given. */
static STACK_OF(X509) *
cert_pool(struct kt *kt)
{
	STACK_OF(X509) *pool = kt->trustcacerts ? kt_cacerts(kt) : sk_X509_new_null();

	for (size_t i = 0; pool != NULL && i < atr_ks_count(kt->ks); i++) {
		X509 *c = atr_ks_entry_cert(atr_ks_entry_at(kt->ks, i));

		if (c != NULL && X509_up_ref(c) && !sk_X509_push(pool, c))
			X509_free(c);
	}
	return pool;
}

/* Java's buildChain(): from cert up to a self-signed certificate in the
 * pool. Pushes root first, cert last. */
static int
build_chain(X509 *cert, STACK_OF(X509) *pool, STACK_OF(X509) *chain, int depth)
{
	if (depth > 16)
		return 0;
	if (atr_x509_self_signed(cert)) {
		if (!X509_up_ref(cert))
			return 0;
		if (!sk_X509_push(chain, cert)) {
			X509_free(cert);
			return 0;
		}
		return 1;
	}
	for (int i = 0; i < sk_X509_num(pool); i++) {
		X509 *issuer = sk_X509_value(pool, i);

		if (!atr_x509_signed_by(cert, issuer))
			continue;
		if (build_chain(issuer, pool, chain, depth + 1)) {
			if (!X509_up_ref(cert))
				return 0;
			if (!sk_X509_push(chain, cert)) {
				X509_free(cert);
				return 0;
			}
			return 1;
		}
	}
	return 0;
}

/* Java's establishCertChain(): a new chain leaf first, or NULL (reported). */
static STACK_OF(X509) *
establish_chain(struct kt *kt, X509 *user, X509 *reply)
{
	STACK_OF(X509) *pool, *chain, *out;

	if (user != NULL) {
		if (!atr_x509_key_equal(X509_get0_pubkey(user), X509_get0_pubkey(reply))) {
			kt_fail(kt, "java.lang.Exception", "Public keys in reply and keystore don't match");
			return NULL;
		}
		if (atr_x509_equal(user, reply)) {
			kt_fail(kt, "java.lang.Exception",
			    "Certificate reply and certificate in keystore are identical");
			return NULL;
		}
	}
	pool = cert_pool(kt);
	chain = sk_X509_new_null();
	out = sk_X509_new_null();
	if (pool == NULL || chain == NULL || out == NULL || !build_chain(reply, pool, chain, 0)) {
		sk_X509_pop_free(pool, X509_free);
		sk_X509_pop_free(chain, X509_free);
		sk_X509_pop_free(out, X509_free);
		kt_fail(kt, "java.lang.Exception", "Failed to establish chain from reply");
		return NULL;
	}
	/* Reverse to leaf first. */
	while (sk_X509_num(chain) > 0)
		sk_X509_push(out, sk_X509_pop(chain));
	for (int i = 0; i < sk_X509_num(out); i++) {
		X509 *c = sk_X509_value(out, i);
		const char *a = kt_cert_alias(kt->ks, c);
		char label[512];

		if (i == 0)
			snprintf(label, sizeof(label), "The input");
		else
			snprintf(label, sizeof(label), "Issuer <%s>", a ? a : "?");
		kt_check_weak(kt, label, c, a != NULL);
	}
	sk_X509_pop_free(pool, X509_free);
	sk_X509_free(chain);
	return out;
}

static int
print_to_stdout(struct kt *kt, X509 *cert)
{
	struct atr_err err = {0};
	char *text = atr_x509_describe(cert, 0, &err);

	if (text == NULL)
		return kt_fail_err(kt, &err);
	fputs(text, stdout);
	fflush(stdout);
	free(text);
	return 0;
}

/* Java's validateReply() for a reply of several certificates. Returns a
 * new chain, NULL with *declined set when the user said no, or NULL. */
static STACK_OF(X509) *
validate_reply(struct kt *kt, const char *alias, X509 *user, STACK_OF(X509) *reply,
    int *declined)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509 *top, *root = NULL;
	int n, i;

	*declined = 0;
	kt_check_weak_chain(kt, "Reply", reply);
	/* Drop duplicates, keeping the first of each. */
	for (i = 0; certs != NULL && i < sk_X509_num(reply); i++) {
		X509 *c = sk_X509_value(reply, i);
		int dup = 0;

		for (int k = 0; k < sk_X509_num(certs); k++)
			if (atr_x509_equal(c, sk_X509_value(certs, k)))
				dup = 1;
		if (!dup && X509_up_ref(c) && !sk_X509_push(certs, c))
			X509_free(c);
	}
	if (certs == NULL)
		goto nomem;
	n = sk_X509_num(certs);
	for (i = 0; i < n; i++)
		if (atr_x509_key_equal(X509_get0_pubkey(user), X509_get0_pubkey(sk_X509_value(certs, i))))
			break;
	if (i == n) {
		kt_fail(kt, "java.lang.Exception", "Certificate reply does not contain public key for <%s>",
		    alias);
		goto fail;
	}
	{
		X509 *t = sk_X509_value(certs, 0);
		sk_X509_set(certs, 0, sk_X509_value(certs, i));
		sk_X509_set(certs, i, t);
	}
	for (i = 1; i < n - 1; i++) {
		X509 *this = sk_X509_value(certs, i - 1);
		int j;

		for (j = i; j < n; j++)
			if (atr_x509_signed_by(this, sk_X509_value(certs, j))) {
				X509 *t = sk_X509_value(certs, i);
				sk_X509_set(certs, i, sk_X509_value(certs, j));
				sk_X509_set(certs, j, t);
				break;
			}
		if (j == n) {
			kt_fail(kt, "java.lang.Exception", "Incomplete certificate chain in reply");
			goto fail;
		}
	}
	if (kt->noprompt)
		return certs;
	top = sk_X509_value(certs, n - 1);
	if (kt_cert_alias(kt->ks, top) == NULL) {
		STACK_OF(X509) *pool = cert_pool(kt);

		for (int k = 0; pool != NULL && k < sk_X509_num(pool); k++)
			if (atr_x509_verifies(top, X509_get0_pubkey(sk_X509_value(pool, k)))) {
				root = sk_X509_value(pool, k);
				if (!X509_up_ref(root))
					root = NULL;
				break;
			}
		sk_X509_pop_free(pool, X509_free);
		if (root == NULL) {
			fputs("\nTop-level certificate in reply:\n\n", stderr);
			fflush(stderr);
			if (print_to_stdout(kt, top) == -1)
				goto fail;
			fputs("\n... is not trusted. ", stderr);
			kt_flush_warnings(kt, 1);
			if (!kt_yes_no(kt, "Install reply anyway? [no]:  ")) {
				*declined = 1;
				goto fail;
			}
		} else {
			const char *a = kt_cert_alias(kt->ks, root);
			char label[512];

			if (!sk_X509_push(certs, root)) {
				X509_free(root);
				goto nomem;
			}
			snprintf(label, sizeof(label), "Issuer <%s>", a ? a : "?");
			kt_check_weak(kt, label, root, 1);
		}
	}
	return certs;
nomem:
	kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
fail:
	sk_X509_pop_free(certs, X509_free);
	return NULL;
}

/* Java's installReply(). Returns 1 installed, 0 declined, -1 error. */
static int
install_reply(struct kt *kt, const char *alias, const unsigned char *buf, size_t len)
{
	const char *used = NULL;
	STACK_OF(X509) *reply = NULL, *chain = NULL;
	struct atr_err err = {0};
	EVP_PKEY *key;
	X509 *user;
	int declined = 0, rc = -1;

	if ((key = kt_recover_key(kt, kt->ks, alias, kt->storepass, &used)) == NULL)
		return -1;
	if ((user = kt_entry_cert(kt_find(kt, alias))) == NULL) {
		kt_fail(kt, "java.lang.Exception", "%s has no public key (certificate)", alias);
		goto out;
	}
	if ((reply = atr_x509_read_certs(buf, len, &err)) == NULL) {
		kt_fail(kt, "java.security.cert.CertificateException", "Unable to parse the reply");
		goto out;
	}
	if (sk_X509_num(reply) == 0) {
		kt_fail(kt, "java.lang.Exception", "Reply has no certificates");
		goto out;
	}
	if (sk_X509_num(reply) == 1)
		chain = establish_chain(kt, user, sk_X509_value(reply, 0));
	else
		chain = validate_reply(kt, alias, user, reply, &declined);
	if (chain == NULL) {
		rc = declined ? 0 : -1;
		goto out;
	}
	if (atr_ks_set_key(kt->ks, alias, key, chain, used, 0, &err) == -1) {
		kt_fail_err(kt, &err);
		goto out;
	}
	rc = 1;
out:
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(reply, X509_free);
	EVP_PKEY_free(key);
	return rc;
}

/* Java's addTrustedCert(). Returns 1 added, 0 not added, -1 error. */
static int
add_trusted(struct kt *kt, const char *alias, const unsigned char *buf, size_t len)
{
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	struct atr_err err = {0};
	const char *existing;
	X509 *cert;
	int yes = -1, rc = -1;

	if (kt_find(kt, alias) != NULL)
		return kt_fail(kt, "java.lang.Exception",
		    "Certificate not imported, alias <%s> already exists", alias);
	if ((certs = atr_x509_read_certs(buf, len, &err)) == NULL || sk_X509_num(certs) == 0) {
		sk_X509_pop_free(certs, X509_free);
		return kt_fail(kt, "java.lang.Exception", "Input not an X.509 certificate");
	}
	cert = sk_X509_value(certs, 0);
	if (kt->noprompt) {
		kt_check_weak(kt, "The input", cert, 0);
		yes = 1;
	} else if ((existing = kt_cert_alias(kt->ks, cert)) != NULL) {
		fprintf(stderr, "Certificate already exists in keystore under alias <%s>\n", existing);
		kt_check_weak(kt, "The input", cert, 0);
		kt_flush_warnings(kt, 1);
		yes = kt_yes_no(kt, "Do you still want to add it? [no]:  ");
	} else if (atr_x509_self_signed(cert)) {
		if (print_to_stdout(kt, cert) == -1)
			goto out;
		kt_check_weak(kt, "The input", cert, 0);
		kt_flush_warnings(kt, 1);
		yes = kt_yes_no(kt, "Trust this certificate? [no]:  ");
	} else {
		STACK_OF(X509) *pool = cert_pool(kt);

		chain = sk_X509_new_null();
		if (pool != NULL && chain != NULL && build_chain(cert, pool, chain, 0)) {
			yes = 1;
		} else {
			if (print_to_stdout(kt, cert) == -1) {
				sk_X509_pop_free(pool, X509_free);
				goto out;
			}
			kt_check_weak(kt, "The input", cert, 0);
			kt_flush_warnings(kt, 1);
			yes = kt_yes_no(kt, "Trust this certificate? [no]:  ");
		}
		sk_X509_pop_free(pool, X509_free);
	}
	if (yes == 1 && atr_ks_set_trusted(kt->ks, alias, cert, 0, &err) == -1) {
		kt_fail_err(kt, &err);
		goto out;
	}
	rc = yes;
out:
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

int
kt_do_importcert(struct kt *kt)
{
	const char *alias = kt->alias ? kt->alias : "mykey";
	const struct atr_ks_entry *e = kt_find(kt, alias);
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if (kt_read_input(kt, kt->file, &buf, &len) == -1)
		return -1;
	if (e != NULL && atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY) {
		if ((r = install_reply(kt, alias, buf, len)) >= 0)
			fputs(r ? "Certificate reply was installed in keystore\n" :
			    "Certificate reply was not installed in keystore\n", stderr);
	} else if (e == NULL || atr_ks_entry_kind(e) == ATR_KS_TRUSTED_CERT) {
		if ((r = add_trusted(kt, alias, buf, len)) >= 0)
			fputs(r ? "Certificate was added to keystore\n" :
			    "Certificate was not added to keystore\n", stderr);
	} else {
		r = 0;
	}
	free(buf);
	if (r == 1)
		kt->kssave = 1;
	return r < 0 ? -1 : 0;
}
