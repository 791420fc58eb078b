/*
 * proto.h - the frame protocol between the pool (in the master or the
 * CLI), the zygote and the workers.
 *
 * Every message is one frame: a fixed 32-byte header followed by a
 * payload. The header carries a magic, a version, a type, the request id,
 * the payload length and a status (0 or a negative jf_err). A reader
 * checks the magic, the version and the length against its own hard cap
 * before it allocates anything, so a broken or hostile peer can make it
 * fail but never make it allocate without bound.
 *
 * Two ways to move frames: blocking (jf_frame_read/jf_frame_write, which
 * survive EINTR and short transfers; the worker uses them) and
 * incremental (jf_frame_rd_t / jf_frame_wr_t, fed from non-blocking
 * sockets by the pool's poll loop). Neither side of a worker channel
 * writes a reply before it has read the whole request, and the pool's
 * side never blocks, so a 64 MiB frame crosses in either direction
 * without deadlock.
 */
#ifndef JF_PROTO_H
#define JF_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JF_PROTO_MAGIC 0x4a465750u              /* "JFWP" */
#define JF_PROTO_VERSION 1
#define JF_PROTO_HDR_LEN 32
#define JF_PROTO_MAX_PAYLOAD (600u << 20)       /* absolute cap: 600 MiB */

enum jf_frame_type {
	/* pool -> worker */
	JF_FRAME_COMPILE = 1,   /* payload: jf_proto_req encoding */
	JF_FRAME_ECHO = 2,      /* test builds only: payload sent back */
	/* worker -> pool */
	JF_FRAME_RESULT = 16,   /* status 0: times + artifact blob;
				 * status < 0: the error message */
	JF_FRAME_FATAL = 17,    /* LLVM fatal error; payload: its reason */
	JF_FRAME_OOM = 18,      /* allocation failed past the memory limit */
	JF_FRAME_SANDBOX = 19,  /* debug mode: a blocked system call */
	JF_FRAME_ECHO_REPLY = 20,
	/* pool <-> zygote (over a SOCK_SEQPACKET pair) */
	JF_FRAME_ZY_HELLO = 32, /* zygote is up; id = its pid, status = init result */
	JF_FRAME_ZY_SPAWN = 33, /* id = spawn token; payload: sandbox settings */
	JF_FRAME_ZY_SPAWNED = 34,/* id = token; payload: pid; fds: channel, pidfd */
	JF_FRAME_ZY_EXIT = 35,  /* id = pid; status = wait status (>= 0) */
};

typedef struct jf_frame_hdr {
	uint16_t type;
	uint64_t id;
	uint64_t len;
	int32_t status;
} jf_frame_hdr_t;

/* Encode/decode the 32-byte header. Decoding checks the magic, the
 * version and len <= max; returns 0 or JF_ERR_PROTO / JF_ERR_TOOBIG. */
void jf_frame_hdr_encode(uint8_t out[JF_PROTO_HDR_LEN], const jf_frame_hdr_t *h);
int jf_frame_hdr_decode(const uint8_t in[JF_PROTO_HDR_LEN], size_t max,
    jf_frame_hdr_t *h);

/* Blocking write of one frame (header + payload). Returns 0 or
 * JF_ERR_IO (errno kept). */
int jf_frame_write(int fd, uint16_t type, uint64_t id, int32_t status,
    const void *payload, size_t len);

/*
 * Blocking read of one frame. The payload (NUL-terminated for
 * convenience, len excludes it) is malloc'd into *payload and owned by
 * the caller; *payload is NULL when len is 0. Returns 0, 1 on a clean
 * EOF before the first byte, JF_ERR_PROTO, JF_ERR_TOOBIG (len over max),
 * JF_ERR_NOMEM or JF_ERR_IO.
 */
int jf_frame_read(int fd, size_t max, jf_frame_hdr_t *h, uint8_t **payload);

/* Incremental reader for a non-blocking fd. */
typedef struct jf_frame_rd {
	uint8_t hbuf[JF_PROTO_HDR_LEN];
	size_t hgot;
	jf_frame_hdr_t h;
	uint8_t *payload;       /* owned until taken by the caller */
	size_t pgot;
	size_t max;
} jf_frame_rd_t;

void jf_frame_rd_init(jf_frame_rd_t *r, size_t max);
/*
 * Read what is available. Returns 1 when a whole frame is ready (then
 * r->h and r->payload hold it: take the payload and call
 * jf_frame_rd_reset), 0 when more bytes are needed (EAGAIN), 2 on EOF at
 * a frame boundary, or a negative jf_err (EOF inside a frame is
 * JF_ERR_PROTO).
 */
int jf_frame_rd_feed(jf_frame_rd_t *r, int fd);
/* Frees a partial payload and gets ready for the next frame. */
void jf_frame_rd_reset(jf_frame_rd_t *r);

/* Incremental writer for a non-blocking socket (send with MSG_NOSIGNAL,
 * so a vanished peer is an error, never a SIGPIPE). */
typedef struct jf_frame_wr {
	uint8_t hbuf[JF_PROTO_HDR_LEN];
	uint8_t *payload;
	int owned;              /* payload is freed by jf_frame_wr_free */
	size_t len;             /* header + payload */
	size_t off;
} jf_frame_wr_t;

/* With take, the writer owns payload (jf_malloc'd) and jf_frees it; without,
 * payload must outlive the writer. */
void jf_frame_wr_init(jf_frame_wr_t *w, uint16_t type, uint64_t id,
    int32_t status, uint8_t *payload, size_t len, int take);
/* Returns 1 when everything is written, 0 when the socket is full, or
 * JF_ERR_IO. */
int jf_frame_wr_flush(jf_frame_wr_t *w, int fd);
void jf_frame_wr_free(jf_frame_wr_t *w);

/*
 * The compile request as it crosses to a worker: a sequence of
 * length-prefixed fields (u32 tag, u32 length, bytes). The decoded
 * request's IR, symbols and producer point into the payload buffer, which
 * must outlive it; its spec is copied.
 */
struct jf_compile_req;
/* Returns 0, JF_ERR_INVAL (too many symbols, field too long) or
 * JF_ERR_NOMEM; *out is jf_malloc'd and owned by the caller (jf_free). */
int jf_proto_req_encode(const struct jf_compile_req *req, uint8_t **out, size_t *outlen);
/*
 * Decode into *req. The spec's strings are copied into its fixed fields
 * (one that does not fit is a protocol break); the IR, the symbols and the
 * producer point into buf; the symbol array is jf_malloc'd into *names
 * (caller jf_frees; NULL when there are none). Returns 0, JF_ERR_NOMEM, or
 * JF_ERR_PROTO with *req zeroed.
 */
int jf_proto_req_decode(const uint8_t *buf, size_t len, struct jf_compile_req *req,
    const char ***names);

#define JF_PROTO_MAX_SYMBOLS 65536

#ifdef __cplusplus
}
#endif
#endif
