/*
 * pool_internal.h - the pool's state, shared by the files that make up the
 * pool (pool.c, queue.c, child.c, zyclient.c, supervisor.c). Types only;
 * each of those files declares its functions in its own header.
 *
 * Locking: everything in jf_pool_t below the mutex is under mu. The
 * supervisor thread holds mu except while it sleeps in poll(); callers
 * take it to queue a request or read stats.
 */
#ifndef JF_POOL_INTERNAL_H
#define JF_POOL_INTERNAL_H

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/key.h"
#include "worker/pool_types.h"
#include "worker/proto.h"
#include "worker/quarantine.h"

#define JF_POOL_MSG_MAX 4096
#define JF_POOL_HELLO_MS 30000          /* a new zygote must say hello by then */

/* A request, from submit to its completion. */
typedef struct jf_pool_req {
	struct jf_pool_req *next;
	uint64_t id;
	uint8_t *enc;                   /* encoded request, owned */
	size_t enclen;
	jf_key_t key;                   /* the quarantine key */
	int timeout_ms;
	int attempts;                   /* crash retries used */
	uint64_t submit_ns, start_ns;
	jf_pool_done_fn fn;
	void *arg;
	int sync, done;
	char *msg;                      /* owned; res.msg points here */
	jf_pool_result_t res;
} jf_pool_req_t;

enum { JF_CHILD_IDLE, JF_CHILD_BUSY, JF_CHILD_RETIRING, JF_CHILD_DEAD };

/* A worker process, as the pool sees it. */
typedef struct jf_child {
	struct jf_child *next;
	pid_t pid;
	int fd, pidfd;                  /* channel and pidfd, owned */
	int state;                      /* JF_CHILD_* */
	unsigned gen;                   /* zygote generation */
	int jobs;
	jf_pool_req_t *req;             /* the request it runs, owned while set */
	uint64_t deadline_ns;
	int timed_out;
	jf_frame_rd_t rd;
	jf_frame_wr_t wr;
	int writing;
	uint16_t ftype;                 /* FATAL / OOM / SANDBOX said before dying */
	int fstatus;                    /* status of a RESULT error without a request */
	char fmsg[JF_POOL_MSG_MAX];
} jf_child_t;

struct jf_pool {
	jf_pool_opts_t o;
	char self_exe[PATH_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr;
	int thr_started, stop;
	int wake_fd, done_fd;           /* eventfds: wake the supervisor; completions */
	jf_pool_req_t *qhead, *qtail;   /* waiting for a worker */
	unsigned nqueued;
	jf_pool_req_t *dhead, *dtail;   /* done, for jf_pool_dispatch */
	jf_child_t *workers;
	uint64_t next_id, spawn_token;
	/* the supervisor's poll set, allocated once at create (never in the
	 * loop, so memory pressure cannot stop the supervisor) */
	struct pollfd *pfd;
	jf_child_t **pw;
	size_t pcap;
	/* the zygote */
	pid_t zpid;
	int zfd, zpidfd, zready;
	unsigned zgen, spawning;
	int zdeaths;                    /* consecutive zygote deaths */
	uint64_t zstart_ns;
	uint64_t zrestart_at;
	int bad_streak;                 /* consecutive worker failures */
	uint64_t spawn_hold_until;
	jf_quarantine_t quar;
	int sandbox_debug;
	jf_pool_stats_t st;
};

#endif
