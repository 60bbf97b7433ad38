/*
 * The Unicode policy for the names of new users and projects (UTS #39
 * through ICU's spoof checker): a name must look like what it is, and not
 * like another name already taken. docs/api.md "Names" gives the rules.
 */
#ifndef ATRIUM_SERVER_NAMES_H
#define ATRIUM_SERVER_NAMES_H

#include <stddef.h>

/* Room for the skeleton of a name of STORE_NAME_MAX bytes. */
#define NAME_SKELETON_MAX 1024

/*
 * Why name (UTF-8) may not be given to a new user or project, or NULL
 * when it may: invisible characters, bidi controls, whitespace other than
 * the ASCII space, text not in NFC or with compatibility forms
 * (fullwidth), characters outside UTS #39's recommended identifier set,
 * and scripts mixed beyond ICU's moderately restrictive level. A static
 * sentence. The basic syntax (length, '/', '.', controls) is
 * api_name_problem()'s.
 */
const char *name_problem(const char *name);

/*
 * The confusable skeleton of name (UTS #39), case-folded first when fold
 * is set, into out (UTF-8, cap bytes). Two names look alike when either
 * skeleton is equal: unfolded, "pIant" (capital i) is "plant"; folded,
 * "ADMIN" is "admin" (unfolded, its 'I' would become 'l'). -1 when it
 * cannot be computed (invalid UTF-8, too long, ICU failed).
 */
int name_skeleton(const char *name, int fold, char *out, size_t cap);

#endif
