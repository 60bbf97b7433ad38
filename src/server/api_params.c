/*
 * What several handler files read from a request or show of the store:
 * the project in the path, the ?branch= of revision calls, element names
 * and locks (api.h). One module below the handlers, so that they do not
 * call each other.
 */
#include <stdio.h>
#include <string.h>

#include "atrium/util.h"
#include "server/api.h"

const char *
api_project_param(struct req *r)
{
	const char *name = req_param(r, 0);
	const char *problem = api_name_problem(name);

	if (problem != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad project name: %s", problem);
		return NULL;
	}
	return name;
}

int
api_branch_query(struct req *r, char *out)
{
	const char *b = req_query(r, "branch");
	const char *problem;

	if (b == NULL || *b == '\0') {
		snprintf(out, STORE_NAME_MAX + 1, "%s", STORE_TRUNK);
		return 0;
	}
	if ((problem = api_name_problem(b)) != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad branch name: %s", problem);
		return -1;
	}
	snprintf(out, STORE_NAME_MAX + 1, "%s", b);
	return 0;
}

json_t *
api_lock_json(const struct store_lock *l)
{
	char t[32];

	api_time(l->since, t);
	return json_pack("{s:s,s:s,s:s,s:s}", "element", l->element, "holder", l->holder, "since",
	    t, "branch", l->branch);
}

const char *
api_element_problem(const char *element)
{
	size_t len = strlen(element);

	if (len == 0)
		return "the element name is empty";
	if (len > STORE_ELEMENT_MAX)
		return "the element name is longer than 256 bytes";
	if (atr_text_problem(element, len, NULL, NULL) != NULL)
		return atr_utf8_valid(element, len) ? "the element name contains a control character"
						    : "the element name is not valid UTF-8";
	return NULL;
}
