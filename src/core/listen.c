/*
 * listen.c - listening sockets for a listen key (see listen.h).
 */
#include "core/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"

static char listen_errbuf[256];

void
listen_addr_str(const struct sockaddr *sa, char *dst, size_t dstlen)
{
	const void *a;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		/* Show v4-mapped peers as plain IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			if (inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], dst,
			    (socklen_t)dstlen) == NULL)
				snprintf(dst, dstlen, "?");
			return;
		}
		a = &s6->sin6_addr;
	} else if (sa->sa_family == AF_INET) {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	} else {
		snprintf(dst, dstlen, "local");
		return;
	}
	if (inet_ntop(sa->sa_family, a, dst, (socklen_t)dstlen) == NULL)
		snprintf(dst, dstlen, "?");
}

/* accept() failed (out of descriptors, most likely): say so, at most
 * once a second; libevent tries again on the next readiness. */
static void
listen_error_cb(struct evconnlistener *lev, void *ctx)
{
	static time_t last;
	time_t now = time(NULL);
	int err = EVUTIL_SOCKET_ERROR();

	if (now != last) {
		last = now;
		log_warning("listen accept error=\"%s\"", strerror(err));
	}
}

int
listen_bind(struct event_base *base, const struct config_listen *l,
    evconnlistener_cb cb, void *ctx, struct evconnlistener **out, size_t *n_r,
    const char **error_r)
{
	size_t n = 0;

	for (size_t i = 0; i < l->count; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&l->addrs[i];
		char host[INET6_ADDRSTRLEN];
		int one = 1, fd;
		unsigned port = ntohs(sa->sa_family == AF_INET6 ?
		    ((const struct sockaddr_in6 *)sa)->sin6_port :
		    ((const struct sockaddr_in *)sa)->sin_port);

		listen_addr_str(sa, host, sizeof(host));
		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (sa->sa_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, sa, l->addr_lens[i]) < 0 || listen(fd, 1024) < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			goto fail;
		}
		out[n] = evconnlistener_new(base, cb, ctx,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, -1, fd);
		if (out[n] == NULL) {
			close(fd);
			goto fail;
		}
		evconnlistener_set_error_cb(out[n], listen_error_cb);
		n++;
		continue;
fail:
		snprintf(listen_errbuf, sizeof(listen_errbuf),
		    "cannot listen on %s port %u: %s", host, port, strerror(errno));
		*error_r = listen_errbuf;
		while (n > 0)
			evconnlistener_free(out[--n]);
		return -1;
	}
	*n_r = n;
	return 0;
}
