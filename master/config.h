/*
 * config.h - the master's configuration: defaults < config file <
 * environment < flags. Read once at start-up by main.c.
 */
#ifndef JF_MASTER_CONFIG_H
#define JF_MASTER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JF_MASTER_MAX_LISTEN 16

/* --- configuration -------------------------------------------------------- */

typedef struct jf_mconfig {
	char *listen[JF_MASTER_MAX_LISTEN];
	int nlisten;
	char *store_url;
	int workers;
	int compile_timeout_s;
	uint64_t max_request_bytes;
	int queue_limit;
	char *tokens_path;
	char *signing_key_path;
	int log_level;
	int store_threads;
	int http_timeout_s;
	int max_header_bytes;
	uint64_t max_body_held;
	int max_connections;
	int conn_filter;
	int fd_reserve;
	int head_timeout_s;
	int request_timeout_s;
	uint64_t min_rate;
	int drain_timeout_s;
	int lease_ms;
	int quarantine_ttl_s;
	char *name;
	char *config_path;
} jf_mconfig_t;

/* Parse defaults < config file < environment < flags. Returns 0, 1 when
 * the program should exit 0 (--help, --version were printed), or a
 * negative jf_err with a message. */
int jf_mconfig_load(jf_mconfig_t *c, int argc, char **argv, char *err, size_t errlen);
void jf_mconfig_free(jf_mconfig_t *c);
void jf_mconfig_usage(FILE *fp);

#endif
