/*
 * listen.h - binding the sockets of a listen key (see config.h).
 */
#ifndef CORE_LISTEN_H
#define CORE_LISTEN_H

#include <stddef.h>

#include <event2/listener.h>

#include "core/config.h"

/*
 * Binds every address of l with SO_REUSEADDR (IPV6_V6ONLY for IPv6) and
 * makes a disabled-until-enabled libevent listener for each, calling cb
 * with ctx. Up to CONFIG_LISTEN_MAX listeners go to out[], their number to
 * *n_r. Returns 0, or -1 with *error_r set (and nothing left bound).
 */
int
listen_bind(struct event_base *base, const struct config_listen *l,
    evconnlistener_cb cb, void *ctx, struct evconnlistener **out, size_t *n_r,
    const char **error_r);

/* Formats a socket address as "1.2.3.4" or "::1" (no port). */
void
listen_addr_str(const struct sockaddr *sa, char *dst, size_t dstlen);

#endif
