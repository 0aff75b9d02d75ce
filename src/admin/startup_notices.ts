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

/**
 * Without V8's `gc` function (`--v8-flags=--expose-gc`, which the tasks in deno.json and the
 * systemd unit in docs/deploy.md pass) the memory guard of the embedded database and the parser
 * threads does nothing (src/external_memory_guard.ts): the words that say so and how to turn it
 * on; null when it is there.
 */
export function missingGcNotice(gcExposed: boolean): string | null {
  if (gcExposed) return null;
  return "started without --v8-flags=--expose-gc, so dead buffers are freed on V8's own " +
    "schedule: the embedded database and the parser threads then peak ~100 MB higher while " +
    "collecting. `deno task start` passes the flag; a `deno run` of main.ts should too.";
}
