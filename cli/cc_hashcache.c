/*
 * cc_hashcache.c - file hashes remembered by device, inode, size, mtime
 * and ctime, in one memory-mapped table per user
 * ($XDG_CACHE_HOME/jitfarm/cc-hashes, else ~/.cache/jitfarm/cc-hashes).
 *
 * The table is a fixed array of slots, found by hashing (device, inode)
 * and probing a few neighbours. Processes read and write it without a
 * lock: each slot carries a check value over its other fields, written
 * last, and a slot whose check does not match (a torn or racing write,
 * a damaged file) is treated as empty. A file's entry is used only when
 * all five stat fields match, so any change to the file (which moves its
 * ctime) misses. A file changed within 2 s of being hashed is not
 * recorded: a second change in the same timestamp tick could not be
 * told apart. JITFARM_CC_HASHCACHE=0 turns the table off.
 */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "cli/cc_hashcache.h"

#define HC_SLOTS 16384u
#define HC_PROBE 8u
#define HC_MAGIC 0x6a66686331ull        /* "jfhc1" */

typedef struct hc_slot {
	uint64_t dev, ino, size;
	int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
	uint8_t sha[32];
	uint64_t vol;
	uint64_t check;                 /* over every field above; 0: empty */
} hc_slot_t;

typedef struct hc_file {
	uint64_t magic;
	uint64_t pad[7];
	hc_slot_t slot[HC_SLOTS];
} hc_file_t;

static hc_file_t *hc;
static int hc_tried;

/* FNV-1a over the slot's fields, never 0. */
static uint64_t
slot_check(const hc_slot_t *s)
{
	const uint8_t *p = (const uint8_t *)s;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < offsetof(hc_slot_t, check); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h != 0 ? h : 1;
}

static hc_file_t *
hc_map(void)
{
	const char *v = getenv("JITFARM_CC_HASHCACHE"), *base;
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct stat st;
	void *m;
	int fd;

	if (hc_tried)
		return hc;
	hc_tried = 1;
	if (v != NULL && strcmp(v, "0") == 0)
		return NULL;
	if ((base = getenv("XDG_CACHE_HOME")) != NULL && base[0] == '/')
		snprintf(dir, sizeof(dir), "%s/jitfarm", base);
	else if ((base = getenv("HOME")) != NULL && base[0] == '/')
		snprintf(dir, sizeof(dir), "%s/.cache/jitfarm", base);
	else
		return NULL;
	snprintf(path, sizeof(path), "%s/cc-hashes", dir);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		(void)jf_mkdir_p(dir, 0700);
		if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
			return NULL;
	}
	if (fstat(fd, &st) != 0 || (st.st_size != (off_t)sizeof(hc_file_t) &&
	    ftruncate(fd, (off_t)sizeof(hc_file_t)) != 0)) {
		close(fd);
		return NULL;
	}
	m = mmap(NULL, sizeof(hc_file_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	hc = m;
	if (hc->magic != HC_MAGIC) {
		/* new, or another layout: start empty */
		memset(hc->slot, 0, sizeof(hc->slot));
		hc->magic = HC_MAGIC;
	}
	return hc;
}

static void
slot_key(const struct stat *st, hc_slot_t *s)
{
	memset(s, 0, sizeof(*s));
	s->dev = (uint64_t)st->st_dev;
	s->ino = (uint64_t)st->st_ino;
	s->size = (uint64_t)st->st_size;
	s->mtime_s = st->st_mtim.tv_sec;
	s->mtime_ns = st->st_mtim.tv_nsec;
	s->ctime_s = st->st_ctim.tv_sec;
	s->ctime_ns = st->st_ctim.tv_nsec;
}

static size_t
slot_index(const hc_slot_t *k, size_t probe)
{
	uint64_t h = (k->dev * 0x9e3779b97f4a7c15ull) ^ (k->ino * 0xc2b2ae3d27d4eb4full);

	return (size_t)((h ^ (h >> 29)) + probe) % HC_SLOTS;
}

static int
same_file(const hc_slot_t *a, const hc_slot_t *k)
{
	return a->dev == k->dev && a->ino == k->ino && a->size == k->size &&
	    a->mtime_s == k->mtime_s && a->mtime_ns == k->mtime_ns &&
	    a->ctime_s == k->ctime_s && a->ctime_ns == k->ctime_ns;
}

int
jf_cc_hc_get(const struct stat *st, uint8_t sha[32], int *volatile_macros)
{
	hc_slot_t k, s;
	size_t p;

	if (hc_map() == NULL)
		return 0;
	slot_key(st, &k);
	for (p = 0; p < HC_PROBE; p++) {
		memcpy(&s, &hc->slot[slot_index(&k, p)], sizeof(s));    /* a snapshot */
		if (s.check == 0 || s.check != slot_check(&s) || !same_file(&s, &k))
			continue;
		memcpy(sha, s.sha, 32);
		if (volatile_macros != NULL)
			*volatile_macros = s.vol != 0;
		return 1;
	}
	return 0;
}

void
jf_cc_hc_put(const struct stat *st, const uint8_t sha[32], int volatile_macros)
{
	struct timespec now;
	hc_slot_t s, *d;
	size_t p, at;

	if (hc_map() == NULL || clock_gettime(CLOCK_REALTIME, &now) != 0 ||
	    st->st_mtim.tv_sec >= now.tv_sec - 2 || st->st_ctim.tv_sec >= now.tv_sec - 2)
		return;
	slot_key(st, &s);
	memcpy(s.sha, sha, 32);
	s.vol = volatile_macros != 0;
	s.check = slot_check(&s);
	/* the first empty or stale slot of the probe sequence, else the first */
	at = slot_index(&s, 0);
	for (p = 0; p < HC_PROBE; p++) {
		d = &hc->slot[slot_index(&s, p)];
		if (d->check == 0 || d->check != slot_check(d) || (d->dev == s.dev && d->ino == s.ino)) {
			at = slot_index(&s, p);
			break;
		}
	}
	d = &hc->slot[at];
	d->check = 0;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(d, &s, offsetof(hc_slot_t, check));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	d->check = s.check;
}
