/*
 * privs.h - leaving root before touching data or the network.
 */
#ifndef CORE_PRIVS_H
#define CORE_PRIVS_H

#include <sys/types.h>

/*
 * Changes into dir, then, if running as root, becomes user (its uid, gid
 * and supplementary groups) for good. Running as root with an empty user is
 * refused: the server must never read network input as root. When not
 * root, user is ignored. Returns 0 or -1 with *error_r set.
 *
 * Paths used afterwards should be relative to dir: after the change of
 * user, the parents of dir may not be searchable.
 */
int
privs_enter(const char *dir, const char *user, const char **error_r);

/* Looks up a user's uid and gid. Returns 0 or -1. */
int
privs_lookup(const char *user, uid_t *uid_r, gid_t *gid_r, const char **error_r);

#endif
