/*
 * store_file_dir.c - the file store's layout (store_file_dir.h): where an
 * entry lives, a walk over every entry, and reading one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "common/util.h"
#include "store_file_dir.h"

int
jf_file_store_path(const jf_file_store_t *fs, const jf_key_t *k, char *buf, size_t len)
{
	char hex[JF_KEY_HEX_LEN + 1];

	jf_key_hex(k, hex);
	if ((size_t)snprintf(buf, len, "%s/%.2s/%s", fs->root, hex, hex) >= len)
		return JF_ERR_INVAL;
	return 0;
}

int
jf_file_store_scan(jf_file_store_t *fs, jf_store_list_fn fn, void *arg)
{
	char dir[4200];
	int i, r = 0;

	for (i = 0; i < 256 && r == 0; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/%02x", fs->root, i);
		if ((d = opendir(dir)) == NULL) {
			if (errno == ENOENT)
				continue;
			snprintf(fs->err, sizeof(fs->err), "opendir %s: %s", dir, strerror(errno));
			return JF_ERR_IO;
		}
		while (r == 0 && (de = readdir(d)) != NULL) {
			jf_store_entry_t e;
			struct stat st;

			/* only finished entries: 64 hex digits, no temp suffix */
			if (strlen(de->d_name) != JF_KEY_HEX_LEN ||
			    jf_key_from_hex(de->d_name, &e.key) != 0)
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
				continue;       /* deleted meanwhile */
			e.size = (uint64_t)st.st_size;
			e.mtime_ms = (uint64_t)st.st_mtim.tv_sec * 1000 +
			    (uint64_t)st.st_mtim.tv_nsec / 1000000;
			r = fn(&e, arg);
		}
		closedir(d);
	}
	return r;
}
