/*
 * The log lines of the admin API: every action and every refusal names
 * who made it and from where, in one form for every handler file:
 *
 *	INFO admin 'alice' from 127.0.0.1: trusted certificate 'corp-root' ...
 *	WARN admin 'alice' from 127.0.0.1: uploaded keystore refused: ...
 */
#ifndef ATRIUM_SERVER_ADMINLOG_H
#define ATRIUM_SERVER_ADMINLOG_H

struct req;

/* Logs "admin 'NAME' from ADDR: " and the formatted text at INFO, one
 * line; the text is cut at about 1 KiB. NAME is "?" when the request has
 * no user. Never pass a secret. */
void log_admin(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same at WARN, for an admin's change that was refused. */
void log_admin_warn(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
