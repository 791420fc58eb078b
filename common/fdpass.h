/*
 * fdpass.h - one message with file descriptors over a unix socket
 * (SCM_RIGHTS), the only place that builds or reads the control message.
 */
#ifndef JF_FDPASS_H
#define JF_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define JF_FDPASS_MAX 4

/* Send len bytes (at least 1) and nfds (at most JF_FDPASS_MAX) fds as one
 * message, retrying on EINTR. Returns 0 or -1 with errno. */
int jf_fd_send(int sock, const void *data, size_t len, const int *fds, int nfds);

/*
 * Receive one message of at most cap bytes into data, and its fds (opened
 * close-on-exec) into fds[0..*nfds). flags go to recvmsg (MSG_DONTWAIT).
 * Returns the byte count, 0 on EOF, or -1 with errno (EAGAIN included).
 * A message whose fds or bytes were truncated, or that carries more than
 * maxfds fds, is an error (EMSGSIZE) and every fd it brought is closed,
 * so nothing leaks.
 */
ssize_t jf_fd_recv(int sock, void *data, size_t cap, int *fds, int maxfds, int *nfds,
    int flags);

#endif
