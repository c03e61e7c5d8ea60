/**
 * Typed failures of the crypto helpers. Messages name what is wrong and where, never a key, a secret or a
 * plaintext: these errors reach logs, Sentry and start-up output.
 */

/** A signing secret is not `whsec_` followed by the base64 of 24 to 64 bytes. */
export class InvalidSigningSecretError extends Error {
  override readonly name = "InvalidSigningSecretError";
}

/** The encryption keyring specification cannot be used; the message points at the entry by position. */
export class InvalidKeyringError extends Error {
  override readonly name = "InvalidKeyringError";
}

/** A ciphertext names a key id the keyring does not hold (removed too early, or another instance's key). */
export class UnknownKeyError extends Error {
  override readonly name = "UnknownKeyError";
  constructor(readonly keyId: string) {
    super(`no key with id ${JSON.stringify(keyId)} in the encryption keyring`);
  }
}

/**
 * A ciphertext is malformed, was tampered with, or belongs to other associated data (another row). The
 * reasons are deliberately not told apart beyond "malformed": an authentication failure says nothing more useful.
 */
export class DecryptionError extends Error {
  override readonly name = "DecryptionError";
}
