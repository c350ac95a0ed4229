/*
 * password.c - yescrypt password hashing with libxcrypt (see password.h).
 *
 * SECURITY: handles plaintext passwords. struct crypt_data holds a copy of
 * the passphrase and intermediate state, so it lives on the heap (32 KiB)
 * and is wiped with OPENSSL_cleanse after every use. Results are compared
 * with CRYPTO_memcmp so the comparison does not leak how many leading
 * bytes matched.
 */
#include "core/password.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/xalloc.h"

/*
 * A yescrypt hash with libxcrypt's default cost ("j9T"), the same as
 * password_hash() makes, of a password nobody knows. Verifying against it
 * takes as long as verifying against a real user's hash.
 */
#define PASSWORD_DUMMY_HASH \
	"$y$j9T$2Hvzt9EOK1wSCw/P/WSvk/$K3h63eZ3BrYtgIrYfIuyoGhv.xG.OuGmUbthCWZ/eh3"

int
password_hash(const char *password, char **hash_r, const char **error_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *out;

	*hash_r = NULL;
	if (strnlen(password, PASSWORD_MAX + 1) > PASSWORD_MAX) {
		*error_r = "password too long";
		return -1;
	}
	/* rbytes NULL: libxcrypt takes the salt from the kernel's CSPRNG. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting,
	    sizeof(setting)) == NULL) {
		*error_r = "crypt_gensalt failed";
		return -1;
	}
	data = xcalloc(1, sizeof(*data));
	out = crypt_rn(password, setting, data, sizeof(*data));
	if (out == NULL || out[0] == '*') {
		OPENSSL_cleanse(data, sizeof(*data));
		free(data);
		*error_r = "crypt failed";
		return -1;
	}
	*hash_r = xstrdup(out);
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return 0;
}

int
password_verify(const char *password, const char *hash)
{
	struct crypt_data *data;
	const char *setting = hash != NULL ? hash : PASSWORD_DUMMY_HASH;
	const char *out;
	size_t len;
	int ok = 0;

	/* The length of the password is known to whoever sent it, so failing
	 * early here tells them nothing about the account. */
	if (strnlen(password, PASSWORD_MAX + 1) > PASSWORD_MAX)
		return 0;
	data = xcalloc(1, sizeof(*data));
	out = crypt_rn(password, setting, data, sizeof(*data));
	if (out != NULL && out[0] != '*') {
		/* The length of a hash is public (it follows from its
		 * prefix); only the content is compared in constant time. */
		len = strlen(setting);
		if (strlen(out) == len && CRYPTO_memcmp(out, setting, len) == 0)
			ok = 1;
	}
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return hash != NULL ? ok : 0;
}
