/* Permissions of the data directory and of secret files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atrium/log.h"
#include "server/datadir.h"

/* Takes group and other bits off path (mode: what it should be). */
static int
tighten(const char *path, mode_t want, struct atr_err *err)
{
	struct stat st;

	if (lstat(path, &st) == -1 || S_ISLNK(st.st_mode))
		return 0; /* gone, or a link we leave alone */
	if ((st.st_mode & 077) == 0)
		return 0;
	if (chmod(path, want) == -1)
		return atr_err_set(err, ATR_E_IO,
		    "%s is open to other users (mode %04o) and cannot be changed: %s; run atriumd "
		    "as its owner (uid %ld) or chmod %o it",
		    path, (unsigned)(st.st_mode & 07777), strerror(errno), (long)st.st_uid,
		    (unsigned)want);
	atr_warn("%s was open to other users (mode %04o); set to %04o", path,
	    (unsigned)(st.st_mode & 07777), (unsigned)want);
	return 0;
}

/* Every file under dir 0600, every directory 0700. */
static int
tighten_tree(const char *dir, struct atr_err *err)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (tighten(dir, 0700, err) == -1)
		return -1;
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[4400];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			rc = tighten_tree(path, err);
		else if (de->d_type == DT_REG)
			rc = tighten(path, 0600, err);
	}
	closedir(d);
	return rc;
}

int
datadir_secure(const char *datadir, struct atr_err *err)
{
	static const char *const secret_files[] = {
	    "atrium.conf", "atrium.db", "atrium.db-wal", "atrium.db-shm",
	    "initial-admin-password", "atriumd.lock",
	};
	static const char *const private_dirs[] = {"blobs", "cache"};
	char path[4400];

	if (tighten(datadir, 0700, err) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(secret_files) / sizeof(secret_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", datadir, secret_files[i]);
		if (tighten(path, 0600, err) == -1)
			return -1;
	}
	for (size_t i = 0; i < sizeof(private_dirs) / sizeof(private_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", datadir, private_dirs[i]);
		if (tighten(path, 0700, err) == -1)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/tls", datadir);
	return tighten_tree(path, err);
}

int
datadir_check_secret(const char *path, const char *setting, int refuse, struct atr_err *err)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return 0; /* reading it will say what is wrong */
	if ((st.st_mode & 007) != 0 && refuse)
		return atr_err_set(err, ATR_E_CONFIG,
		    "%s %s can be read by every user of this machine (mode %04o); make it private "
		    "with: chmod 600 %s",
		    setting, path, (unsigned)(st.st_mode & 07777), path);
	if ((st.st_mode & 077) != 0)
		atr_warn("%s %s can be read by other users (mode %04o); chmod 600 it unless they "
			 "must",
		    setting, path, (unsigned)(st.st_mode & 07777));
	return 0;
}

int
datadir_lock(const char *datadir, struct atr_err *err)
{
	char path[4200], pid[32];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/atriumd.lock", datadir) >= sizeof(path))
		return atr_err_set(err, ATR_E_CONFIG, "the data directory's name is too long");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return -2; /* never served: nothing to lock against */
		return atr_err_set(err, ATR_E_IO, "cannot open %s: %s", path, strerror(errno));
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	n = read(fd, pid, sizeof(pid) - 1);
	pid[n > 0 ? n : 0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	close(fd);
	return atr_err_set(err, ATR_E_CONFLICT,
	    "atriumd is running on %s (pid %s); stop it first (kill -TERM %s)", datadir,
	    pid[0] ? pid : "?", pid[0] ? pid : "PID");
}
