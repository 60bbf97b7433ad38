/* Bounded reads, atomic writes, directories, prompts. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "atrium/util.h"

int
atr_read_file(const char *path, size_t max, unsigned char **buf, size_t *len,
    struct atr_err *err)
{
	struct stat st;
	unsigned char *data = NULL;
	size_t have = 0, cap;
	int fd;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return atr_err_set(err, errno == ENOENT ? ATR_E_NOT_FOUND : ATR_E_IO,
		    "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
		close(fd);
		return atr_err_set(err, ATR_E_IO, "cannot read %s: %s", path,
		    S_ISDIR(st.st_mode) ? "it is a directory" : strerror(errno));
	}
	cap = S_ISREG(st.st_mode) && (size_t)st.st_size <= max ? (size_t)st.st_size + 1 : 4096;
	if ((data = malloc(cap)) == NULL)
		goto nomem;
	for (;;) {
		ssize_t n;
		if (have + 1 >= cap) {
			unsigned char *bigger;
			if (cap > max + 1) {
				atr_err_set(err, ATR_E_TOO_LARGE,
				    "%s is larger than %zu bytes", path, max);
				goto fail;
			}
			cap *= 2;
			if ((bigger = realloc(data, cap)) == NULL)
				goto nomem;
			data = bigger;
		}
		n = read(fd, data + have, cap - have - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			atr_err_set(err, ATR_E_IO, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > max) {
		atr_err_set(err, ATR_E_TOO_LARGE, "%s is larger than %zu bytes", path, max);
		goto fail;
	}
	close(fd);
	data[have] = '\0';
	*buf = data;
	*len = have;
	return 0;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
fail:
	free(data);
	close(fd);
	return -1;
}

int
atr_fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (copy == NULL)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd != -1) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

/* The atomic replacement; gid (other than -1) is given to the new file
 * before it is renamed over path. */
static int
write_atomic(const char *path, const void *data, size_t len, mode_t mode, gid_t gid,
    struct atr_err *err)
{
	char tmp[4096];
	const unsigned char *p = data;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp))
		return atr_err_set(err, ATR_E_IO, "path too long: %s", path);
	if ((fd = mkstemp(tmp)) == -1)
		return atr_err_set(err, ATR_E_IO, "cannot create a file beside %s: %s",
		    path, strerror(errno));
	if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) == -1) {
		atr_err_set(err, ATR_E_IO, "cannot write %s keeping its group (gid %ld): %s",
		    path, (long)gid, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	atr_fsync_dir_of(path);
	return 0;
fail:
	atr_err_set(err, ATR_E_IO, "cannot write %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

int
atr_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct atr_err *err)
{
	return write_atomic(path, data, len, mode, (gid_t)-1, err);
}

int
atr_write_file_keep(const char *path, const void *data, size_t len, mode_t mode,
    struct atr_err *err)
{
	struct stat st;
	gid_t gid = (gid_t)-1;

	if (stat(path, &st) == 0) {
		mode = st.st_mode & 07777;
		/* Only when it would change: the new file gets the process's
		 * group, and giving it another needs membership (or root). */
		if (st.st_gid != getegid())
			gid = st.st_gid;
	} else if (errno != ENOENT) {
		return atr_err_set(err, ATR_E_IO, "cannot read %s: %s", path, strerror(errno));
	}
	return write_atomic(path, data, len, mode, gid, err);
}

int
atr_mkdirs(const char *dir, mode_t mode, struct atr_err *err)
{
	char buf[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return atr_err_set(err, ATR_E_IO, "bad directory name '%s'", dir);
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return atr_err_set(err, ATR_E_IO, "cannot create directory %s: %s",
			    buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return atr_err_set(err, ATR_E_IO, "cannot create directory %s: %s", buf,
		    strerror(errno));
	return 0;
}

void
atr_hex(const unsigned char *buf, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 15];
	}
	out[2 * n] = '\0';
}

void
atr_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	if (p == NULL)
		return;
	while (n--)
		*v++ = 0;
}

void
atr_free_secret(char *s)
{
	if (s == NULL)
		return;
	atr_wipe(s, strlen(s));
	free(s);
}

char *
atr_read_password(const char *prompt)
{
	struct termios old, quiet;
	char buf[1024];
	int tty = isatty(STDIN_FILENO);
	char *res = NULL;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else {
		tty = 0;
	}
	if (fgets(buf, sizeof(buf), stdin) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		res = strdup(buf);
	}
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	atr_wipe(buf, sizeof(buf));
	return res;
}

char *
atr_passfile_read(const char *path, struct atr_err *err)
{
	unsigned char *buf;
	size_t len;
	char *s;

	if (atr_read_file(path, 4096, &buf, &len, err) == -1)
		return NULL;
	buf[strcspn((char *)buf, "\r\n")] = '\0';
	s = strdup((char *)buf);
	atr_wipe(buf, len);
	free(buf);
	if (s == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
	return s;
}

int64_t
atr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
