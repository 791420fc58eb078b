/*
 * store_s3_creds.c - the AWS credentials chain (store_s3_creds.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "jitfarm/error.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/url.h"
#include "common/util.h"
#include "store_curl.h"
#include "store_s3_creds.h"
#include "store_xml.h"

#define CREDS_MARGIN_MS (5 * 60 * 1000)
#define STS_MAX_ANSWER (64u << 10)

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v ? v : NULL;
}

/* Copy the three parts in; 0 or JF_ERR_TOOBIG. */
static int
creds_set(jf_s3_creds_t *c, const char *id, const char *secret, const char *token,
    const char *source)
{
	if (jf_strlcpy(c->id, id, sizeof(c->id)) >= sizeof(c->id) ||
	    jf_strlcpy(c->secret, secret, sizeof(c->secret)) >= sizeof(c->secret) ||
	    jf_strlcpy(c->token, token ? token : "", sizeof(c->token)) >= sizeof(c->token))
		return JF_ERR_TOOBIG;
	jf_strlcpy(c->source, source, sizeof(c->source));
	c->expires_ms = c->refresh_ms = 0;
	return 0;
}

/* --- 2. web identity ------------------------------------------------------------ */

static void
form_add(jf_buf_t *b, const char *name, const char *value)
{
	char enc[8192];

	if (jf_url_encode(value, 0, enc, sizeof(enc)) != 0) {
		b->err = JF_ERR_TOOBIG;
		return;
	}
	jf_buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, enc);
}

/* The STS answer's credentials into c. */
static int
sts_parse(jf_s3_creds_t *c, const char *p, size_t n, char *err, size_t errlen)
{
	const char *end = p + n;
	char id[128], secret[256], exp[64];
	int64_t t;

	if (jf_xml_get(p, end, "AccessKeyId", id, sizeof(id)) != 0 ||
	    jf_xml_get(p, end, "SecretAccessKey", secret, sizeof(secret)) != 0 ||
	    jf_xml_get(p, end, "SessionToken", c->token, sizeof(c->token)) != 0 ||
	    jf_xml_get(p, end, "Expiration", exp, sizeof(exp)) != 0 ||
	    (t = jf_xml_time_ms(exp, strlen(exp))) <= 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		return jf_seterr(err, errlen, JF_ERR_AUTH,
		    "web identity: STS answered without usable credentials");
	}
	jf_strlcpy(c->id, id, sizeof(c->id));
	jf_strlcpy(c->secret, secret, sizeof(c->secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	jf_strlcpy(c->source, "web identity", sizeof(c->source));
	c->expires_ms = t;
	{
		int64_t now = wall_ms(), life = t > now ? t - now : 0;

		c->refresh_ms = t - JF_MIN((int64_t)CREDS_MARGIN_MS, life / 2);
	}
	return 0;
}

/* AssumeRoleWithWebIdentity: a form POST to STS, which needs no signature
 * (the token is the proof). */
static int
web_identity(jf_s3_creds_t *c, const char *role, const char *token_file, char *err,
    size_t errlen)
{
	jf_store_opts_t o = { .connect_timeout_ms = c->connect_ms, .op_timeout_ms = c->op_ms };
	jf_curl_t h;
	jf_buf_t form = JF_BUF_INIT;
	const char *ep = env("AWS_ENDPOINT_URL_STS"), *sess = env("AWS_ROLE_SESSION_NAME");
	char url[1024], session[128], why[256];
	uint8_t *tok = NULL;
	size_t tlen = 0;
	int rc;

	memset(&h, 0, sizeof(h));
	if ((rc = jf_file_read(token_file, 16384, &tok, &tlen)) != 0)
		return jf_seterr(err, errlen, JF_ERR_AUTH,
		    "web identity: cannot read AWS_WEB_IDENTITY_TOKEN_FILE %s: %s", token_file,
		    jf_strerror(rc));
	while (tlen > 0 && isspace(tok[tlen - 1]))
		tok[--tlen] = '\0';
	if (ep != NULL)
		snprintf(url, sizeof(url), "%s", ep);
	else
		snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com/", c->region);
	if (sess == NULL)
		snprintf(session, sizeof(session), "jitfarm-%d", (int)getpid());
	form_add(&form, "Action", "AssumeRoleWithWebIdentity");
	form_add(&form, "RoleArn", role);
	form_add(&form, "RoleSessionName", sess ? sess : session);
	form_add(&form, "Version", "2011-06-15");
	form_add(&form, "WebIdentityToken", (const char *)tok);
	OPENSSL_cleanse(tok, tlen);
	jf_free(tok);
	if ((rc = jf_buf_error(&form)) != 0) {
		jf_seterr(err, errlen, JF_ERR_AUTH, "web identity: the token is too large");
		goto out;
	}
	if ((rc = jf_curl_init(&h, &o, why, sizeof(why))) != 0) {
		jf_seterr(err, errlen, rc, "web identity: %s", why);
		goto out;
	}
	jf_strlcpy(h.shown, url, sizeof(h.shown));
	/* a form, not the stores' binary bodies */
	curl_slist_free_all(h.base);
	h.base = NULL;
	if (jf_curl_header_add(&h, "Expect:") != 0 ||
	    jf_curl_header_add(&h, "Content-Type: application/x-www-form-urlencoded") != 0) {
		rc = JF_ERR_NOMEM;
		goto out;
	}
	if ((rc = jf_curl_request(&h, "POST", url, NULL, form.p, form.len, STS_MAX_ANSWER)) != 0) {
		jf_seterr(err, errlen, JF_ERR_AUTH, "web identity: STS %s: %s", url, h.err);
		rc = JF_ERR_AUTH;
		goto out;
	}
	if (h.status != 200) {
		jf_curl_status_fail(&h, "POST", "AssumeRoleWithWebIdentity");
		rc = jf_seterr(err, errlen, JF_ERR_AUTH, "web identity: %s", h.err);
		goto out;
	}
	rc = sts_parse(c, h.body.p ? (const char *)h.body.p : "", h.body.len, err, errlen);
out:
	if (form.p)
		OPENSSL_cleanse(form.p, form.len);
	jf_buf_free(&form);
	jf_curl_cleanup(&h);
	return rc;
}

/* --- 3. the shared credentials file ------------------------------------------- */

/* 0 with c filled, or 1 with why set (no file, no profile, no keys), or
 * an error. */
static int
shared_file(jf_s3_creds_t *c, const char *path, char *why, size_t whylen)
{
	char id[128] = "", secret[256] = "", token[4096] = "", *line, *save = NULL;
	uint8_t *text = NULL;
	size_t len = 0;
	int in = 0, found = 0, rc;

	if ((rc = jf_file_read(path, 1u << 20, &text, &len)) != 0) {
		snprintf(why, whylen, "%s", rc == JF_ERR_NOTFOUND ? "no such file" : jf_strerror(rc));
		return 1;
	}
	for (line = strtok_r((char *)text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *l = jf_trim(line), *eq;

		if (*l == '#' || *l == ';' || *l == '\0')
			continue;
		if (*l == '[') {
			char *e = strchr(l, ']');

			if (e != NULL)
				*e = '\0';
			in = strcmp(jf_trim(l + 1), c->profile) == 0;
			found |= in;
			continue;
		}
		if (!in || (eq = strchr(l, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(jf_trim(l), "aws_access_key_id") == 0)
			jf_strlcpy(id, jf_trim(eq + 1), sizeof(id));
		else if (strcmp(jf_trim(l), "aws_secret_access_key") == 0)
			jf_strlcpy(secret, jf_trim(eq + 1), sizeof(secret));
		else if (strcmp(jf_trim(l), "aws_session_token") == 0)
			jf_strlcpy(token, jf_trim(eq + 1), sizeof(token));
	}
	OPENSSL_cleanse(text, len);
	jf_free(text);
	rc = 1;
	if (!found)
		snprintf(why, whylen, "no [%s] section", c->profile);
	else if (!id[0] || !secret[0])
		snprintf(why, whylen, "[%s] has no aws_access_key_id and aws_secret_access_key",
		    c->profile);
	else
		rc = creds_set(c, id, secret, token, "shared file");
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}

/* --- the chain -------------------------------------------------------------------- */

static int
creds_find(jf_s3_creds_t *c, char *err, size_t errlen)
{
	const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *role = env("AWS_ROLE_ARN"), *tf = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *file = env("AWS_SHARED_CREDENTIALS_FILE"), *home = env("HOME");
	char path[4096], why[256];
	int rc;

	if (id != NULL && secret != NULL)
		return creds_set(c, id, secret, env("AWS_SESSION_TOKEN"), "environment");
	if (role != NULL && tf != NULL)
		return web_identity(c, role, tf, err, errlen);
	if (file != NULL)
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/.aws/credentials", home ? home : "");
	if ((rc = shared_file(c, path, why, sizeof(why))) <= 0)
		return rc;
	return jf_seterr(err, errlen, JF_ERR_AUTH,
	    "no S3 credentials; tried: environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
	    "%s), web identity (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE not set), "
	    "shared credentials file %s profile '%s' (%s)",
	    id || secret ? "not both set" : "not set", path, c->profile, why);
}

int
jf_s3_creds_init(jf_s3_creds_t *c, const char *region, const char *profile,
    const jf_store_opts_t *o, char *err, size_t errlen)
{
	const char *p = profile && *profile ? profile : env("AWS_PROFILE");

	memset(c, 0, sizeof(*c));
	jf_strlcpy(c->profile, p ? p : "default", sizeof(c->profile));
	jf_strlcpy(c->region, region, sizeof(c->region));
	c->connect_ms = o->connect_timeout_ms;
	c->op_ms = o->op_timeout_ms;
	return creds_find(c, err, errlen);
}

int
jf_s3_creds_fresh(jf_s3_creds_t *c, char *err, size_t errlen)
{
	jf_s3_creds_t n;
	int64_t now;
	int rc;

	if (c->refresh_ms == 0 || (now = wall_ms()) < c->refresh_ms)
		return 0;
	n = *c;
	if ((rc = creds_find(&n, err, errlen)) == 0) {
		*c = n;
	} else if (now < c->expires_ms) {
		rc = 0;         /* keep the old ones while they last; try again soon */
		c->refresh_ms = now + 1000;
	}
	OPENSSL_cleanse(&n, sizeof(n));
	return rc;
}

void
jf_s3_creds_clear(jf_s3_creds_t *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}
