/*
 * atrium keytool: the commands that change a keystore's entries and
 * passwords (-delete, -changealias, -storepasswd, -keypasswd) and
 * -importkeystore (JKS <-> PKCS#12, all entries or one).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/util.h"
#include "cli/keytool_int.h"

/* keytool's getNewPasswd(): "New <what>: " and "Re-enter new <what>: ". */
static char *
ask_new_password(struct kt *kt, const char *what, const char *old)
{
	char p1[512], p2[512];

	snprintf(p1, sizeof(p1), "New %s: ", what);
	snprintf(p2, sizeof(p2), "Re-enter new %s: ", what);
	for (int count = 0; count < 3; count++) {
		char *entered = kt_read_password(p1), *again;

		if (entered == NULL || strlen(entered) < 6) {
			fputs("Password is too short - must be at least 6 characters\n", stderr);
		} else if (old != NULL && strcmp(entered, old) == 0) {
			fputs("Passwords must differ\n", stderr);
		} else {
			again = kt_read_password(p2);
			if (again != NULL && strcmp(entered, again) == 0) {
				atr_free_secret(again);
				return entered;
			}
			atr_free_secret(again);
			fputs("They don't match. Try again\n", stderr);
		}
		atr_free_secret(entered);
	}
	kt_fail(kt, "java.lang.Exception", "Too many failures - try later");
	return NULL;
}

/*
 * Copies entry alias of src into dst as newalias, the way Java's
 * getEntry()/setEntry() pair does: a key entry is recovered with the key
 * password (srckeypass, else the store password, else asked) and stored
 * with destpass (NULL: the password that recovered it); every copy gets a
 * new creation time. *fatal tells an error that must stop the command.
 */
static int
copy_entry(struct kt *kt, struct atr_ks *src, const char *alias, const char *srcstorepass,
    struct atr_ks *dst, const char *newalias, const char *destpass, struct atr_err *err)
{
	const struct atr_ks_entry *e = atr_ks_find(src, alias);
	STACK_OF(X509) *chain;
	const char *used = NULL;
	EVP_PKEY *key;
	int rc;

	if (e == NULL) {
		kt_fail(kt, "java.lang.Exception", "Alias <%s> does not exist", alias);
		return -2;
	}
	switch (atr_ks_entry_kind(e)) {
	case ATR_KS_TRUSTED_CERT:
		return atr_ks_set_trusted(dst, newalias, atr_ks_entry_cert(e), 0, err);
	case ATR_KS_SECRET_KEY:
		return atr_err_set(err, ATR_E_KS_UNSUPPORTED,
		    "atrium keytool cannot copy the secret key entry %s", alias);
	case ATR_KS_PRIVATE_KEY:
		break;
	}
	if ((key = kt_recover_key(kt, src, alias, srcstorepass, &used)) == NULL)
		return -2;
	if ((chain = kt_chain_ref(atr_ks_entry_chain(e))) == NULL) {
		EVP_PKEY_free(key);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	rc = atr_ks_set_key(dst, newalias, key, chain, destpass ? destpass : used, 0, err);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	return rc;
}

int
kt_do_delete(struct kt *kt)
{
	struct atr_err err = {0};

	if (kt_find(kt, kt->alias) == NULL)
		return kt_fail(kt, "java.lang.Exception", "Alias <%s> does not exist", kt->alias);
	if (atr_ks_delete(kt->ks, kt->alias, &err) == -1)
		return kt_fail_err(kt, &err);
	kt->kssave = 1;
	return 0;
}

int
kt_do_changealias(struct kt *kt)
{
	const char *alias = kt->alias ? kt->alias : "mykey";
	const struct atr_ks_entry *e;
	struct atr_err err = {0};
	char *stored = NULL;
	int rc;

	if (kt_find(kt, kt->dest) != NULL)
		return kt_fail(kt, "java.lang.Exception", "Destination alias <%s> already exists",
		    kt->dest);
	if ((e = kt_find(kt, alias)) == NULL)
		return kt_fail(kt, "java.lang.Exception", "Alias <%s> does not exist", alias);
	if (atr_ks_entry_kind(e) == ATR_KS_SECRET_KEY) {
		if (atr_ks_rename(kt->ks, alias, kt->dest, &err) == -1)
			return kt_fail_err(kt, &err);
		kt->kssave = 1;
		return 0;
	}
	/* The stored alias, before the new entry moves things around. */
	if ((stored = strdup(atr_ks_entry_alias(e))) == NULL)
		return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
	rc = copy_entry(kt, kt->ks, alias, kt->storepass, kt->ks, kt->dest, NULL, &err);
	if (rc == -1)
		kt_fail_err(kt, &err);
	if (rc == 0 && atr_ks_delete(kt->ks, stored, &err) == -1)
		rc = kt_fail_err(kt, &err);
	free(stored);
	if (rc != 0)
		return -1;
	kt->kssave = 1;
	return 0;
}

int
kt_do_storepasswd(struct kt *kt)
{
	struct atr_err err = {0};

	if (kt->newpass != NULL) {
		kt->storepass_new = strdup(kt->newpass);
	} else if ((kt->storepass_new = ask_new_password(kt, "keystore password",
	    kt->storepass)) == NULL) {
		return -1;
	}
	if (kt->storepass_new == NULL)
		return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
	if (strcmp(kt->typename, "PKCS12") == 0) {
		/* Every key is protected by the store password: recover and
		 * store each again, as keytool does. */
		size_t n = atr_ks_count(kt->ks);
		char **aliases = calloc(n ? n : 1, sizeof(*aliases));

		if (aliases == NULL)
			return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
		for (size_t i = 0; i < n; i++) {
			const struct atr_ks_entry *e = atr_ks_entry_at(kt->ks, i);

			if (atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY)
				aliases[i] = strdup(atr_ks_entry_alias(e));
		}
		for (size_t i = 0; i < n; i++) {
			int rc;

			if (aliases[i] == NULL)
				continue;
			rc = copy_entry(kt, kt->ks, aliases[i], kt->storepass, kt->ks, aliases[i],
			    kt->storepass_new, &err);
			if (rc == -1)
				kt_fail_err(kt, &err);
			if (rc != 0) {
				for (size_t k = 0; k < n; k++)
					free(aliases[k]);
				free(aliases);
				return -1;
			}
		}
		for (size_t i = 0; i < n; i++)
			free(aliases[i]);
		free(aliases);
	}
	kt->kssave = 1;
	return 0;
}

int
kt_do_keypasswd(struct kt *kt)
{
	const char *alias = kt->alias ? kt->alias : "mykey", *used = NULL;
	const struct atr_ks_entry *e;
	STACK_OF(X509) *chain = NULL;
	struct atr_err err = {0};
	char *newpass = NULL, what[600];
	EVP_PKEY *key;
	int rc = -1;

	if ((key = kt_recover_key(kt, kt->ks, alias, kt->storepass, &used)) == NULL)
		return -1;
	if (kt->newpass != NULL) {
		newpass = strdup(kt->newpass);
	} else {
		snprintf(what, sizeof(what), "key password for <%s>", alias);
		if ((newpass = ask_new_password(kt, what, used)) == NULL)
			goto out;
	}
	e = kt_find(kt, alias);
	if (newpass == NULL || (chain = kt_chain_ref(atr_ks_entry_chain(e))) == NULL) {
		kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
		goto out;
	}
	if (atr_ks_set_key(kt->ks, alias, key, chain, newpass, 0, &err) == -1) {
		kt_fail_err(kt, &err);
		goto out;
	}
	kt->kssave = 1;
	rc = 0;
out:
	sk_X509_pop_free(chain, X509_free);
	atr_free_secret(newpass);
	EVP_PKEY_free(key);
	return rc;
}

/* --------------------------------------------------- -importkeystore */

/* Java's String.hashCode() over the UTF-16 code units of a UTF-8 string. */
static int32_t
java_hash(const char *s)
{
	uint32_t h = 0;
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t cp;
		size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;

		cp = n == 1 ? *p : n == 2 ? *p & 0x1f : n == 3 ? *p & 0x0f : *p & 0x07;
		for (size_t i = 1; i < n && p[i]; i++)
			cp = (cp << 6) | (p[i] & 0x3f);
		if (cp >= 0x10000) {
			h = 31 * h + (uint32_t)(0xd800 + ((cp - 0x10000) >> 10));
			h = 31 * h + (uint32_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
		} else {
			h = 31 * h + cp;
		}
		for (size_t i = 0; i < n && *p; i++)
			p++;
	}
	return (int32_t)h;
}

/*
 * The order Java enumerates a JKS or JCEKS keystore's aliases in: a
 * java.util.Hashtable filled in file order (capacity 11, load factor 0.75,
 * new entries at the head of their bucket, rehash to 2n+1), iterated from
 * the last bucket down. Fills order[] with entry indexes.
 */
static int
hashtable_order(struct atr_ks *ks, size_t *order)
{
	size_t n = atr_ks_count(ks), cap = 11, threshold = 8, count = 0;
	long *head = NULL, *next = NULL;

	if ((next = calloc(n ? n : 1, sizeof(*next))) == NULL)
		return -1;
	if ((head = malloc(cap * sizeof(*head))) == NULL) {
		free(next);
		return -1;
	}
	for (size_t b = 0; b < cap; b++)
		head[b] = -1;
	for (size_t i = 0; i < n; i++) {
		if (count >= threshold) {
			size_t ncap = 2 * cap + 1;
			long *nhead = malloc(ncap * sizeof(*nhead));

			if (nhead == NULL) {
				free(head);
				free(next);
				return -1;
			}
			for (size_t b = 0; b < ncap; b++)
				nhead[b] = -1;
			for (size_t b = cap; b-- > 0;) {
				for (long e = head[b]; e != -1;) {
					long following = next[e];
					const char *a = atr_ks_entry_alias(atr_ks_entry_at(ks, (size_t)e));
					size_t nb = (size_t)(((uint32_t)java_hash(a) & 0x7fffffffu) % ncap);

					next[e] = nhead[nb];
					nhead[nb] = e;
					e = following;
				}
			}
			free(head);
			head = nhead;
			cap = ncap;
			threshold = (size_t)((double)cap * 0.75);
		}
		{
			const char *a = atr_ks_entry_alias(atr_ks_entry_at(ks, i));
			size_t b = (size_t)(((uint32_t)java_hash(a) & 0x7fffffffu) % cap);

			next[i] = head[b];
			head[b] = (long)i;
			count++;
		}
	}
	count = 0;
	for (size_t b = cap; b-- > 0;)
		for (long e = head[b]; e != -1; e = next[e])
			order[count++] = (size_t)e;
	free(head);
	free(next);
	return 0;
}

/* Java's doImportKeyStoreSingle(): 1 imported, 0 skipped, 2 failed,
 * -1 fatal (reported). */
static int
import_one(struct kt *kt, struct atr_ks *src, const char *alias)
{
	const char *newalias = kt->dest ? kt->dest : alias;
	char *asked = NULL;
	const char *destpass;
	struct atr_err err = {0};
	int rc;

	if (kt_find(kt, newalias) != NULL) {
		if (kt->noprompt) {
			fprintf(stderr, "Warning: Overwriting existing alias %s in destination keystore\n",
			    alias);
		} else {
			char prompt[600];

			snprintf(prompt, sizeof(prompt), "Existing entry alias %s exists, overwrite? "
			    "[no]:  ", alias);
			if (!kt_yes_no(kt, prompt)) {
				asked = kt_read_line("Enter new alias name\t(RETURN to cancel import for "
				    "this entry):  ");
				if (asked == NULL || asked[0] == '\0') {
					fprintf(stderr, "Entry for alias %s not imported.\n", alias);
					free(asked);
					return 0;
				}
				newalias = asked;
			}
		}
	}
	/* The destination key password: -destkeypass, the PKCS#12 store
	 * password, or the source key's own password. */
	destpass = kt->destkeypass ? kt->destkeypass :
	    strcmp(kt->typename, "PKCS12") == 0 ? kt->storepass : NULL;
	{
		char *saved = kt->keypass;

		kt->keypass = kt->srckeypass;
		rc = copy_entry(kt, src, alias, kt->srcstorepass, kt->ks, newalias, destpass, &err);
		kt->srckeypass = kt->keypass;
		kt->keypass = saved;
	}
	free(asked);
	if (rc == -2)
		return -1;
	if (rc == -1) {
		fprintf(stderr, "Problem importing entry for alias %s: "
		    "java.security.KeyStoreException: %s.\nEntry for alias %s not imported.\n", alias,
		    atr_err_msg(&err), alias);
		return 2;
	}
	return 1;
}

int
kt_do_importkeystore(struct kt *kt, struct atr_ks *src)
{
	size_t n = atr_ks_count(src), *order = NULL;
	int ok = 0, r;

	kt->kssave = 1;
	if (kt->alias != NULL)
		return import_one(kt, src, kt->alias) == -1 ? -1 : 0;
	if (kt->dest != NULL || kt->srckeypass != NULL)
		return kt_fail(kt, "java.lang.Exception",
		    "if alias not specified, destalias and srckeypass must not be specified");
	if ((order = calloc(n ? n : 1, sizeof(*order))) == NULL)
		return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
	if (atr_ks_format(src) == ATR_KS_PKCS12) {
		for (size_t i = 0; i < n; i++)
			order[i] = i;
	} else if (hashtable_order(src, order) == -1) {
		free(order);
		return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
	}
	for (size_t i = 0; i < n; i++) {
		const char *alias = atr_ks_entry_alias(atr_ks_entry_at(src, order[i]));

		if ((r = import_one(kt, src, alias)) == -1) {
			free(order);
			return -1;
		}
		if (r == 1) {
			ok++;
			fprintf(stderr, "Entry for alias %s successfully imported.\n", alias);
		} else if (r == 2 && !kt->noprompt &&
		    kt_yes_no(kt, "Do you want to quit the import process? [no]:  ")) {
			break;
		}
	}
	free(order);
	fprintf(stderr, "Import command completed:  %d entries successfully imported, %d entries "
	    "failed or cancelled\n", ok, (int)n - ok);
	return 0;
}
