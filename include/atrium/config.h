/*
 * atriumd's settings: one table of directives (name, type, default, help)
 * from which the parser, the defaults, the documented atrium.conf written on
 * first start, --print-defaults and docs/configuration.md all come, so they
 * cannot drift apart.
 *
 * File syntax: `key = value` lines, `#` starts a comment, blank lines are
 * ignored. Values may be quoted with "..." to keep leading/trailing spaces
 * or a '#'. Unknown keys and bad values are errors naming the line.
 *
 * Precedence, lowest first: built-in default, DIR/atrium.conf, environment
 * (ATRIUM_<KEY> in upper case, e.g. ATRIUM_DATABASE_SSL=on), command-line
 * flags.
 */
#ifndef ATRIUM_CONFIG_H
#define ATRIUM_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "atrium/err.h"

struct atr_config;

/* The largest atrium.conf read. */
#define ATR_CONFIG_FILE_MAX (1024 * 1024)

/* A configuration holding every directive's default. NULL on no memory. */
struct atr_config *atr_config_new(void);

/* A deep copy. NULL on no memory. */
struct atr_config *atr_config_dup(const struct atr_config *cfg);

/* Frees cfg, wiping values of secret directives. NULL-safe. */
void atr_config_free(struct atr_config *cfg);

/*
 * Reads path into cfg. A missing file is ATR_E_NOT_FOUND; anything else
 * wrong is ATR_E_CONFIG with "path:line: what is wrong". On failure cfg may
 * hold some of the file's values: load into a copy when that matters.
 */
int atr_config_load_file(struct atr_config *cfg, const char *path, struct atr_err *err);

/* Reads len bytes of file text into cfg as atr_config_load_file() reads a
 * file; path names it in errors. An error about one directive names its key
 * as the field (atr_err_field). */
int atr_config_load_text(struct atr_config *cfg, const char *text, size_t len, const char *path,
    struct atr_err *err);

/* Applies every ATRIUM_<KEY> environment variable that names a directive. */
int atr_config_load_env(struct atr_config *cfg, struct atr_err *err);

/* Sets one directive from text, validating it. `source` (e.g. "--port")
 * prefixes the error, whose field is key. */
int atr_config_set(struct atr_config *cfg, const char *key, const char *value,
    const char *source, struct atr_err *err);

/* Copies into dst every directive that src sets explicitly. */
int atr_config_merge(struct atr_config *dst, const struct atr_config *src, struct atr_err *err);

/* Typed getters. The key must be in the table (a programming error
 * otherwise: assert). Strings are borrowed from cfg; "" when unset. */
const char *atr_config_str(const struct atr_config *cfg, const char *key);
int64_t atr_config_int(const struct atr_config *cfg, const char *key);
int atr_config_bool(const struct atr_config *cfg, const char *key);

/* Whether key holds a value other than its default. */
int atr_config_is_set(const struct atr_config *cfg, const char *key);

/* Whether key was given a value at all (a line, a variable, a flag), even
 * its default's: what a command-line configuration fixes. */
int atr_config_given(const struct atr_config *cfg, const char *key);

/* Writes the documented default file (every directive commented out with
 * its default and help) atomically to path, mode 0600. */
int atr_config_write_defaults(const char *path, struct atr_err *err);

/*
 * Changes one setting in the file at path, keeping every other line and
 * comment: the first uncommented `key = ...` line is replaced (further
 * ones are removed), or the line is appended. value NULL removes the
 * setting. The value is validated first; the file is replaced atomically,
 * keeping its mode and group (atr_write_file_keep()). A missing file is
 * created, mode 0600.
 */
int atr_config_file_update(const char *path, const char *key, const char *value,
    struct atr_err *err);

/*
 * The same change made to len bytes of file text (text may be NULL when len
 * is 0: no file yet): *out is the new text, *outlen its length, the
 * caller's to free (wipe it: it may hold secrets). A refused value names
 * key as the field. Several changes are several calls, written once.
 */
int atr_config_text_set(const char *text, size_t len, const char *key, const char *value,
    char **out, size_t *outlen, struct atr_err *err);

/*
 * The value of key as it may be shown to a person: a secret as "(set, not
 * shown)" (empty when unset), a connection URL with its password masked
 * (atr_mask_password), anything else as it is. Every view of a setting
 * (--print-config, the console, logs) goes through this. The caller frees
 * it; NULL when out of memory.
 */
char *atr_config_show(const struct atr_config *cfg, const char *key);

/* Prints the effective settings as a config file (secrets masked). */
void atr_config_print(const struct atr_config *cfg, FILE *out);

/* Prints the directive table as markdown (for docs/configuration.md). */
void atr_config_print_markdown(FILE *out);

#endif
