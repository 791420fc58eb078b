/*
 * store_file.c - the embedded default store: a local directory.
 *
 *   ROOT/ab/abcdef...   one blob per key, fanned out by the key's first
 *                       byte so no directory grows past a few thousand
 *                       entries at a million keys.
 *
 * The layout is in store_file_dir.h, the change journal (and its watch)
 * in store_file_journal.c, gc in store_file_gc.c.
 *
 * put writes a temp file beside the target, fsyncs it and renames it into
 * place, so a reader sees either nothing or a whole blob, and two writers
 * of the same key both succeed and leave one valid entry (the blobs are
 * equal by construction: the key is derived from what is compiled).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"
#include "common/mem.h"
#include "store_file.h"
#include "store_file_dir.h"
#include "store_file_journal.h"

static int
fs_open(const char *url, const jf_url_t *u, const jf_store_opts_t *o, void **self, char *err,
    size_t errlen)
{
	jf_file_store_t *fs;
	size_t n;

	*self = NULL;
	if (u->host[0] != '\0' && strcmp(u->host, "localhost") != 0)
		return jf_seterr(err, errlen, JF_ERR_INVAL,
		    "file store path must be absolute (file:///dir): %s", url);
	if (u->path[0] != '/')
		return jf_seterr(err, errlen, JF_ERR_INVAL,
		    "file store path must be absolute: %s", url);
	if ((n = strlen(u->path)) >= sizeof(fs->root) - 80)
		return jf_seterr(err, errlen, JF_ERR_INVAL, "file store path too long");
	if ((fs = jf_calloc(1, sizeof(*fs))) == NULL)
		return JF_ERR_NOMEM;
	memcpy(fs->root, u->path, n + 1);
	/* strip trailing slashes, but keep "/" itself */
	while (n > 1 && fs->root[n - 1] == '/')
		fs->root[--n] = '\0';
	fs->read_only = o->read_only;
	fs->inotify_fd = -1;
	if (!o->read_only && jf_mkdir_p(fs->root, 0755) != 0) {
		jf_seterr(err, errlen, JF_ERR_IO, "cannot create %s: %s", fs->root,
		    strerror(errno));
		jf_free(fs);
		return JF_ERR_IO;
	}
	*self = fs;
	return 0;
}

static int
fs_get(void *self, const jf_key_t *k, uint8_t **blob, size_t *len)
{
	jf_file_store_t *fs = self;
	char path[4200];
	int r;

	if (jf_file_store_path(fs, k, path, sizeof(path)) != 0)
		return JF_ERR_INVAL;
	r = jf_file_read(path, (size_t)JF_BLOB_HEADER_LEN + JF_BLOB_MAX_MANIFEST +
	    JF_BLOB_MAX_PAYLOAD + JF_SIG_LEN, blob, len);
	if (r != 0 && r != JF_ERR_NOTFOUND)
		snprintf(fs->err, sizeof(fs->err), "%s: %s", path, strerror(errno));
	if (r == 0) {
		/* note the access for gc's least-recently-used order */
		(void)utimensat(AT_FDCWD, path, NULL, 0);
	}
	return r;
}

static int
fs_put(void *self, const jf_key_t *k, const uint8_t *blob, size_t len)
{
	jf_file_store_t *fs = self;
	char path[4200], dir[4200];
	int r;

	if (jf_file_store_path(fs, k, path, sizeof(path)) != 0)
		return JF_ERR_INVAL;
	jf_strlcpy(dir, path, sizeof(dir));
	*strrchr(dir, '/') = '\0';
	if (jf_mkdir_p(dir, 0755) != 0) {
		snprintf(fs->err, sizeof(fs->err), "mkdir %s: %s", dir, strerror(errno));
		return JF_ERR_IO;
	}
	if ((r = jf_file_write_atomic(path, blob, len, 0644)) != 0) {
		snprintf(fs->err, sizeof(fs->err), "write %s: %s", path, strerror(errno));
		return r;
	}
	return jf_file_store_journal_append(fs, k);
}

static int
fs_del(void *self, const jf_key_t *k)
{
	jf_file_store_t *fs = self;
	char path[4200];

	if (jf_file_store_path(fs, k, path, sizeof(path)) != 0)
		return JF_ERR_INVAL;
	if (unlink(path) != 0) {
		if (errno == ENOENT)
			return JF_ERR_NOTFOUND;
		snprintf(fs->err, sizeof(fs->err), "unlink %s: %s", path, strerror(errno));
		return JF_ERR_IO;
	}
	return 0;
}

static int
fs_exists(void *self, const jf_key_t *k)
{
	jf_file_store_t *fs = self;
	char path[4200];
	struct stat st;

	if (jf_file_store_path(fs, k, path, sizeof(path)) != 0)
		return JF_ERR_INVAL;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? JF_ERR_NOTFOUND : JF_ERR_IO;
	return 0;
}

static int
fs_list(void *self, jf_store_list_fn fn, void *arg)
{
	return jf_file_store_scan(self, fn, arg);
}

static const char *
fs_errstr(void *self)
{
	jf_file_store_t *fs = self;

	return fs->err[0] ? fs->err : "no error";
}

static void
fs_close(void *self)
{
	jf_file_store_t *fs = self;

	if (fs == NULL)
		return;
	if (fs->inotify_fd >= 0)
		close(fs->inotify_fd);
	jf_free(fs);
}

const jf_store_ops_t jf_store_file_ops = {
	.scheme = "file",
	.open = fs_open,
	.get = fs_get,
	.put = fs_put,
	.del = fs_del,
	.exists = fs_exists,
	.list = fs_list,
	.cursor = jf_file_store_cursor,
	.watch = jf_file_store_watch,
	.errstr = fs_errstr,
	.close = fs_close,
};
