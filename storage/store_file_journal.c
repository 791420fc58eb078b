/*
 * store_file_journal.c - the file store's change feed.
 *
 * Every put appends "<64 hex>\n" to ROOT/journal with O_APPEND; a 65-byte
 * append is atomic on a local file system, so concurrent writers never
 * interleave within a line. A cursor is a byte offset into the journal,
 * so a watcher that notes the offset before a full listing and watches
 * from it afterwards misses nothing. The watcher sleeps in inotify on the
 * journal (IN_MODIFY) instead of polling.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "store_file_journal.h"

#define LINE_LEN (JF_KEY_HEX_LEN + 1)

static void
journal_path(const jf_file_store_t *fs, char *buf, size_t len)
{
	snprintf(buf, len, "%s/journal", fs->root);
}

int
jf_file_store_journal_append(jf_file_store_t *fs, const jf_key_t *k)
{
	char path[4200], line[LINE_LEN + 1];
	int fd, r = 0;

	journal_path(fs, path, sizeof(path));
	jf_key_hex(k, line);
	line[JF_KEY_HEX_LEN] = '\n';
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
	    jf_write_full(fd, line, LINE_LEN) != 0) {
		snprintf(fs->err, sizeof(fs->err), "journal %s: %s", path, strerror(errno));
		r = JF_ERR_IO;
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static int
journal_size(jf_file_store_t *fs, uint64_t *size)
{
	char path[4200];
	struct stat st;

	journal_path(fs, path, sizeof(path));
	if (stat(path, &st) != 0) {
		if (errno != ENOENT) {
			snprintf(fs->err, sizeof(fs->err), "stat %s: %s", path, strerror(errno));
			return JF_ERR_IO;
		}
		*size = 0;
		return 0;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

int
jf_file_store_cursor(void *self, char *cursor, size_t len)
{
	uint64_t size;
	int r;

	if ((r = journal_size(self, &size)) != 0)
		return r;
	/* only whole lines count; a torn tail is read on the next watch */
	size -= size % LINE_LEN;
	snprintf(cursor, len, "%llu", (unsigned long long)size);
	return 0;
}

/* Deliver complete lines from *off; advances *off past them. */
static int
deliver(jf_file_store_t *fs, uint64_t *off, char *cursor, size_t clen,
    jf_store_watch_fn fn, void *arg, int *delivered)
{
	char path[4200], buf[LINE_LEN * 256];
	int fd, r = 0;

	journal_path(fs, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : JF_ERR_IO;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)*off);
		ssize_t i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = JF_ERR_IO;
			break;
		}
		n -= n % LINE_LEN;
		if (n == 0)
			break;
		for (i = 0; i < n && r == 0; i += LINE_LEN) {
			jf_key_t k;

			*off += LINE_LEN;
			buf[i + JF_KEY_HEX_LEN] = '\0';
			if (jf_key_from_hex(buf + i, &k) != 0)
				continue;       /* damaged line: skip, keep going */
			snprintf(cursor, clen, "%llu", (unsigned long long)*off);
			(*delivered)++;
			r = fn(&k, cursor, arg);
		}
		if (r != 0)
			break;
	}
	close(fd);
	return r;
}

int
jf_file_store_watch(void *self, char *cursor, size_t len, int timeout_ms,
    jf_store_watch_fn fn, void *arg)
{
	jf_file_store_t *fs = self;
	char *end;
	uint64_t off, size;
	int r, delivered = 0;
	uint64_t deadline = jf_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;

	errno = 0;
	off = strtoull(cursor, &end, 10);
	if (cursor[0] == '\0' || *end != '\0' || errno != 0 || off % LINE_LEN != 0)
		return JF_ERR_INVAL;
	if ((r = journal_size(fs, &size)) != 0)
		return r;
	if (off > size) {
		snprintf(fs->err, sizeof(fs->err), "cursor %s is past the journal's end", cursor);
		return JF_ERR_RESYNC;   /* journal was compacted by gc */
	}
	if (fs->inotify_fd < 0) {
		char path[4200];

		if ((fs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
			return JF_ERR_SYSTEM;
		/* watch the directory: the journal may not exist yet */
		snprintf(path, sizeof(path), "%s", fs->root);
		if (inotify_add_watch(fs->inotify_fd, path, IN_MODIFY | IN_CREATE) < 0) {
			snprintf(fs->err, sizeof(fs->err), "inotify %s: %s", path, strerror(errno));
			close(fs->inotify_fd);
			fs->inotify_fd = -1;
			return JF_ERR_IO;
		}
	}
	for (;;) {
		struct pollfd pfd = { .fd = fs->inotify_fd, .events = POLLIN };
		char evbuf[4096];
		uint64_t now;

		/* drain stale events first, then read, so none is missed */
		while (read(fs->inotify_fd, evbuf, sizeof(evbuf)) > 0)
			;
		if ((r = deliver(fs, &off, cursor, len, fn, arg, &delivered)) != 0)
			return r;
		if (delivered)
			return 0;
		now = jf_now_ns();
		if (now >= deadline)
			return 0;
		if (poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000)) < 0 &&
		    errno != EINTR)
			return JF_ERR_SYSTEM;
	}
}
