/*
 * fdpass.c - SCM_RIGHTS send and receive (fdpass.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"

typedef union {
	struct cmsghdr h;
	char b[CMSG_SPACE(JF_FDPASS_MAX * sizeof(int))];
} fd_cmsg_t;

int
jf_fd_send(int sock, const void *data, size_t len, const int *fds, int nfds)
{
	fd_cmsg_t cm;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh;

	if (len == 0 || nfds < 0 || nfds > JF_FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(&cm.h), fds, (size_t)nfds * sizeof(int));
	}
	for (;;) {
		if (sendmsg(sock, &mh, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

ssize_t
jf_fd_recv(int sock, void *data, size_t cap, int *fds, int maxfds, int *nfds, int flags)
{
	fd_cmsg_t cm;
	struct iovec iov = { .iov_base = data, .iov_len = cap };
	struct msghdr mh;
	struct cmsghdr *c;
	int got[JF_FDPASS_MAX * 2], ngot = 0, over = 0, i;
	ssize_t n;

	*nfds = 0;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	do
		n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		for (i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof(int));
			if (ngot < (int)(sizeof(got) / sizeof(got[0])))
				got[ngot++] = fd;
			else
				close(fd);
		}
	}
	if (ngot > maxfds)
		over = 1;
	if (over || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		for (i = 0; i < ngot; i++)
			close(got[i]);
		errno = EMSGSIZE;
		return -1;
	}
	for (i = 0; i < ngot; i++)
		fds[i] = got[i];
	*nfds = ngot;
	return n;
}
