/*
 * fuzz_bayes.c - the classifier's tokenizer (filter/bayes.c) on
 * arbitrary message bytes: it must not crash, read out of bounds or
 * leak; it keeps at most BAYES_TOKENS_MAX distinct tokens, each token
 * text is valid UTF-8 of bounded length with a known prefix (or none),
 * it is deterministic (the same hashes in the same order twice, with
 * and without a tree parsed beforehand), and the content hash does not
 * depend on CR bytes in the body.
 *
 * SECURITY: test code; the input is hostile by design.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "filter/bayes.h"
#include "mime/mime-decode.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Token texts are prefix + at most this (addresses are the longest). */
#define FUZZ_TOKEN_MAX 600

static const char *const fuzz_prefixes[] = {
	"subject:", "from:", "url:", "skip:",
};

static void
fuzz_token(void *ctx, const char *tok, size_t len)
{
	size_t *n = ctx;

	(*n)++;
	if (len == 0 || len > FUZZ_TOKEN_MAX || memchr(tok, '\0', len) != NULL)
		abort();
	if (!mime_utf8_is_valid(tok, len))
		abort();
	/* a body word has no prefix; a prefixed one is one of ours, and
	 * ':' never ends a token */
	if (tok[len - 1] == ':')
		abort();
	for (size_t i = 0; i < sizeof(fuzz_prefixes) /
	    sizeof(fuzz_prefixes[0]); i++) {
		size_t pl = strlen(fuzz_prefixes[i]);

		if (len > pl && memcmp(tok, fuzz_prefixes[i], pl) == 0)
			return;
	}
	if (memchr(tok, ':', len) != NULL)
		abort();	/* no body word holds ':' */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data, *error;
	struct bayes_tokens a, b;
	struct mime_part *root;
	struct pool *pool;
	size_t seen = 0;

	bayes_tokens_init(&a);
	bayes_tokenize(msg, size, NULL, &a, fuzz_token, &seen);
	if (a.n > BAYES_TOKENS_MAX || seen != a.n)
		abort();
	for (size_t i = 0; i < a.n; i++)
		if (a.h[i] == 0)
			abort();
	if (size > BAYES_MESSAGE_MAX)
		goto out;	/* then bayes_tokenize parses a prefix only */
	/* with the tree made by the caller: the same tokens */
	pool = pool_new(16 * 1024);
	if (mime_parse(msg, size, pool, &root, &error) < 0)
		abort();
	bayes_tokens_init(&b);
	bayes_tokenize(msg, size, root, &b, NULL, NULL);
	if (a.n != b.n || (a.n > 0 && memcmp(a.h, b.h, a.n * sizeof(*a.h)) != 0))
		abort();
	if (bayes_msg_hash(msg, size, root) != bayes_msg_hash(msg, size, NULL))
		abort();
	bayes_tokens_free(&b);
	pool_free(&pool);
out:
	bayes_tokens_free(&a);
	return 0;
}
