/*
 * privs.c - dropping root (see privs.h).
 */
#include "core/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char privs_errbuf[512];

int
privs_lookup(const char *user, uid_t *uid_r, gid_t *gid_r, const char **error_r)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(privs_errbuf, sizeof(privs_errbuf), "unknown user '%.64s'", user);
		*error_r = privs_errbuf;
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

int
privs_enter(const char *dir, const char *user, const char **error_r)
{
	uid_t uid;
	gid_t gid;

	if (chdir(dir) < 0) {
		snprintf(privs_errbuf, sizeof(privs_errbuf), "cannot enter %s: %s",
		    dir, strerror(errno));
		*error_r = privs_errbuf;
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	if (user == NULL || user[0] == '\0') {
		*error_r = "refusing to run as root: set [server] user";
		return -1;
	}
	if (privs_lookup(user, &uid, &gid, error_r) < 0)
		return -1;
	if (uid == 0) {
		*error_r = "[server] user must not be root";
		return -1;
	}
	if (initgroups(user, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		snprintf(privs_errbuf, sizeof(privs_errbuf), "cannot become %s: %s",
		    user, strerror(errno));
		*error_r = privs_errbuf;
		return -1;
	}
	/* Make sure there is no way back. */
	if (setuid(0) == 0 || geteuid() == 0) {
		*error_r = "privileges could be regained";
		return -1;
	}
	return 0;
}
