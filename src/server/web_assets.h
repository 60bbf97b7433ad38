/* The admin console's files, embedded at build time (scripts/embed-web). */
#ifndef ATRIUM_SERVER_WEB_ASSETS_H
#define ATRIUM_SERVER_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path;         /* "/index.html" */
	const char *content_type;
	const unsigned char *data;
	size_t size;
};

/* Terminated by an entry with a NULL path. */
extern const struct web_asset web_assets[];

#endif
