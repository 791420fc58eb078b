/*
 * test_store_file.c - the file store under concurrent writers: several
 * processes putting the same key at once all succeed and leave exactly
 * one valid entry, and a reader meanwhile sees either a miss or a whole,
 * valid blob, never a torn one. No temp file is left behind.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/blob.h"
#include "common/util.h"
#include "common/mem.h"
#include "storage/store.h"
#include "support.h"

#define WRITERS 4
#define ROUNDS 25

/* A valid blob with a payload big enough that a torn write would show. */
static void
make_blob(uint8_t **blob, size_t *len, jf_key_t *key)
{
	static char ns[] = "t", comp[] = "jitfarm/0.1.0 llvm/19.1.7", prod[] = "test";
	jf_artifact_t a;
	size_t i;

	memset(&a, 0, sizeof(a));
	memset(a.m.key.b, 0x5a, 32);
	memset(a.m.program_id.b, 0x3c, 32);
	a.m.ns = ns;
	strcpy(a.m.target.triple, "x86_64-pc-linux-gnu");
	strcpy(a.m.target.cpu, "x86-64-v2");
	a.m.target.opt = '2';
	a.m.compiler = comp;
	a.m.producer = prod;
	a.payload_len = 256 * 1024;
	a.payload = malloc(a.payload_len);
	ck_assert_ptr_nonnull(a.payload);
	for (i = 0; i < a.payload_len; i++)
		a.payload[i] = (uint8_t)(i * 131 + 17);
	ck_assert_int_eq(jf_blob_encode(&a, NULL, blob, len), 0);
	*key = a.m.key;
	free(a.payload);
}

static int
count_entry(const jf_store_entry_t *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

START_TEST(test_concurrent_writers_one_key)
{
	char *dir = jft_tmpdir("store-file");
	char url[4200], fan[4200];
	uint8_t *blob;
	size_t len;
	jf_key_t key;
	pid_t pids[WRITERS + 1];
	int i, st, n = 0, files = 0;
	jf_store_t *s;
	jf_store_opts_t so;
	char err[256];
	DIR *d;
	struct dirent *de;

	make_blob(&blob, &len, &key);
	snprintf(url, sizeof(url), "file://%s", dir);
	memset(&so, 0, sizeof(so));
	for (i = 0; i <= WRITERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			int r, k, code = 0;

			if (jf_store_open(url, &so, &s, err, sizeof(err)) != 0)
				_exit(10);
			for (k = 0; k < ROUNDS && code == 0; k++) {
				if (i < WRITERS) {
					/* a writer: every put must succeed */
					if ((r = jf_store_put(s, &key, blob, len)) != 0)
						code = 20;
				} else {
					/* the reader: a miss or the whole blob */
					uint8_t *got = NULL;
					size_t glen = 0;

					r = jf_store_get(s, &key, &got, &glen);
					if (r == 0 && (glen != len || memcmp(got, blob, len) != 0))
						code = 30;
					else if (r != 0 && r != JF_ERR_NOTFOUND)
						code = 31;
					jf_free(got);
				}
			}
			jf_store_close(s);
			_exit(code);
		}
	}
	for (i = 0; i <= WRITERS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "process %d ended with status %d", i, st);
	}

	/* one valid entry */
	ck_assert_int_eq(jf_store_open(url, &so, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(jf_store_list(s, count_entry, &n), 0);
	ck_assert_int_eq(n, 1);
	{
		uint8_t *got = NULL;
		size_t glen = 0;
		jf_artifact_t a;

		ck_assert_int_eq(jf_store_get(s, &key, &got, &glen), 0);
		ck_assert_uint_eq(glen, len);
		ck_assert_int_eq(jf_blob_decode(got, glen, NULL, &a, err, sizeof(err)), 0);
		jf_artifact_free(&a);
		jf_free(got);
	}
	jf_store_close(s);

	/* the fan-out directory holds just the entry: no temp files */
	snprintf(fan, sizeof(fan), "%s/5a", dir);
	ck_assert_ptr_nonnull(d = opendir(fan));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		files++;
		ck_assert_uint_eq(strlen(de->d_name), JF_KEY_HEX_LEN);
	}
	closedir(d);
	ck_assert_int_eq(files, 1);
	free(blob);
	jft_rmtree(dir);
	free(dir);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_concurrent_writers_one_key, NULL
	};

	return jft_suite_run(jft_suite("store_file", 60, tests, NULL)) != 0;
}
