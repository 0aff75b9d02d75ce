/** What the service says at start about settings that turn features off. */

/**
 * Without SECRET_KEY no password can be stored: the words that say which features are off and how
 * to turn them on; null when the key is set.
 */
export function missingSecretKeyNotice(secretKey: string | null): string | null {
  if (secretKey !== null) return null;
  return "SECRET_KEY is not set, so these are off: saving an account's IMAP or SMTP password " +
    "in the admin or the API, and collecting, sending and testing the connection of accounts " +
    "whose password is stored in the database (the EMAIL_HOST/EMAIL_PASS account works). " +
    "Set SECRET_KEY (e.g. `openssl rand -base64 32`) and restart.";
}
