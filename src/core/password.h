/*
 * password.h - password hashing and verification (yescrypt, libxcrypt).
 *
 * New hashes are yescrypt ("$y$") with libxcrypt's default cost. Any hash
 * crypt(3) understands (for example imported "$6$" or "$2b$" hashes) can
 * still be verified.
 *
 * SECURITY: passwords come from the network (SASL AUTH) or the admin CLI.
 * Copies of the plaintext made here are wiped with OPENSSL_cleanse; hashes
 * are compared with CRYPTO_memcmp; an unknown user costs the same work as
 * a known one (see password_verify). Never log a password or a hash.
 */
#ifndef CORE_PASSWORD_H
#define CORE_PASSWORD_H

/* libxcrypt refuses passphrases of CRYPT_MAX_PASSPHRASE_SIZE (512) bytes
 * or more, so this is the longest password that can be hashed. */
#define PASSWORD_MAX 511

/*
 * Hashes password with yescrypt and a fresh random salt. Returns 0 with a
 * newly allocated hash in *hash_r (the caller frees it), or -1 with
 * *error_r set (to a static string) if the password is longer than
 * PASSWORD_MAX or libxcrypt fails. Takes tens of milliseconds and about
 * 16 MiB of memory: do not call it on the event loop.
 */
int
password_hash(const char *password, char **hash_r, const char **error_r);

/*
 * Returns 1 if password matches hash, 0 if not. With hash NULL (the user
 * does not exist) it does the same work against a fixed dummy yescrypt
 * hash and returns 0, so that the time taken does not tell whether the
 * user exists. A malformed hash or a too long password gives 0.
 */
int
password_verify(const char *password, const char *hash);

#endif
