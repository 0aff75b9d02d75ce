/**
 * Account passwords at rest: AES-256-GCM (WebCrypto) with a key derived from SECRET_KEY by
 * HKDF-SHA256, a fresh 96-bit nonce per value, and the field's name as additional data so that
 * one field's ciphertext cannot be moved into another. Without the key, or with another key,
 * nothing is decrypted and nothing falls back to plaintext: the caller gets a `SecretKeyError`
 * that says what to fix.
 */

const VERSION = "v1";
const MIN_KEY_LENGTH = 16;

/** Raised when SECRET_KEY is missing, too short, or not the key the value was encrypted with. */
export class SecretKeyError extends Error {
  readonly code: "secret_key_missing" | "secret_key_wrong";
  constructor(code: SecretKeyError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SecretKeyError";
    this.code = code;
  }
}

/** Encrypts and decrypts account secrets under one key. */
export interface SecretBox {
  encrypt(field: string, plaintext: string): Promise<string>;
  decrypt(field: string, stored: string): Promise<string>;
}

/**
 * A box for the given SECRET_KEY. A missing or short key gives a box whose every call fails
 * with a clear message, so that pages without secrets keep working.
 */
export function createSecretBox(secretKey: string | null | undefined): SecretBox {
  if (!secretKey || secretKey.length < MIN_KEY_LENGTH) {
    const error = () =>
      new SecretKeyError(
        "secret_key_missing",
        secretKey
          ? `SECRET_KEY is shorter than ${MIN_KEY_LENGTH} characters; set a long random value ` +
            "(e.g. `openssl rand -base64 32`) to store account passwords"
          : "SECRET_KEY is not set: account passwords cannot be stored or read. Set it to a long " +
            "random value (e.g. `openssl rand -base64 32`) and keep it: it decrypts them.",
      );
    return {
      encrypt: () => Promise.reject(error()),
      decrypt: () => Promise.reject(error()),
    };
  }
  let key: Promise<CryptoKey> | null = null;
  const getKey = () => key ??= deriveKey(secretKey);
  return {
    async encrypt(field, plaintext) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(field) },
        await getKey(),
        new TextEncoder().encode(plaintext),
      );
      return `${VERSION}:${iv.toBase64()}:${new Uint8Array(sealed).toBase64()}`;
    },
    async decrypt(field, stored) {
      const [version, ivText, dataText] = stored.split(":");
      if (version !== VERSION || !ivText || !dataText) {
        throw new SecretKeyError(
          "secret_key_wrong",
          `the stored ${field} is not in a format this version reads`,
        );
      }
      try {
        const opened = await crypto.subtle.decrypt(
          {
            name: "AES-GCM",
            iv: Uint8Array.fromBase64(ivText) as BufferSource,
            additionalData: new TextEncoder().encode(field),
          },
          await getKey(),
          Uint8Array.fromBase64(dataText) as BufferSource,
        );
        return new TextDecoder().decode(opened);
      } catch (cause) {
        throw new SecretKeyError(
          "secret_key_wrong",
          `the stored ${field} cannot be decrypted with this SECRET_KEY: it was saved under another ` +
            "key. Restore the previous SECRET_KEY, or enter the password again.",
          { cause },
        );
      }
    },
  };
}

async function deriveKey(secretKey: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secretKey),
    "HKDF",
    false,
    ["deriveKey"],
  );
  return await crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new TextEncoder().encode("carteiro/account-secrets"),
      info: new TextEncoder().encode("aes-256-gcm v1"),
    },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}
