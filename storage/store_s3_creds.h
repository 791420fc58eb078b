/*
 * store_s3_creds.h - AWS credentials the way AWS's own tools find them
 * (store_s3_creds.c), in order:
 *
 *  1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 *     AWS_SESSION_TOKEN;
 *  2. web identity (IRSA-style, as Kubernetes projects a service-account
 *     token): AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (and
 *     AWS_ROLE_SESSION_NAME), exchanged for temporary credentials by an
 *     STS AssumeRoleWithWebIdentity call over libcurl, at
 *     AWS_ENDPOINT_URL_STS or https://sts.REGION.amazonaws.com;
 *  3. the shared credentials file, AWS_SHARED_CREDENTIALS_FILE or
 *     ~/.aws/credentials, section [profile] (the URL's profile=,
 *     AWS_PROFILE, or "default").
 *
 * Credentials that expire are fetched again before they do: at the
 * earlier of five minutes and half their lifetime before the expiry. A
 * refresh that fails while the old ones are still good keeps them.
 */
#ifndef JF_STORE_S3_CREDS_H
#define JF_STORE_S3_CREDS_H

#include <stdint.h>

#include "store_backend.h"

typedef struct jf_s3_creds {
	char id[128], secret[256], token[4096];
	int64_t expires_ms;             /* wall clock; 0: never */
	int64_t refresh_ms;             /* fetch again from here; 0: never */
	char source[64];                /* "environment", "web identity", "shared file" */
	/* where to look */
	char profile[128];
	char region[64];
	int connect_ms, op_ms;
} jf_s3_creds_t;

/* Set up c for a store in region with profile (NULL or "": AWS_PROFILE,
 * else "default"), and find credentials now. JF_ERR_AUTH with every
 * source tried named in err when none has any. */
int jf_s3_creds_init(jf_s3_creds_t *c, const char *region, const char *profile,
    const jf_store_opts_t *o, char *err, size_t errlen);
/* Fresh credentials in c: refetched when due. 0, or JF_ERR_AUTH (err). */
int jf_s3_creds_fresh(jf_s3_creds_t *c, char *err, size_t errlen);
/* Wipe the secrets. */
void jf_s3_creds_clear(jf_s3_creds_t *c);

#endif
