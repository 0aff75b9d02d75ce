/**
 * The largest message an account collects whole. Gmail accepts messages up to 50 MB as sent
 * (attachments base64-encoded), and it is the largest limit of the common providers (Microsoft 365
 * defaults to 36 MB, most hosts to 25–50 MB), so the default refuses no mail a provider delivers
 * by default, while a message costs the collector about three times its size in memory at most:
 * ~450 MB of peak for a 50 MB message (bench/RESULTS.md). A larger message is recorded with its
 * headers only and the reason, and the messages after it are collected.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 50 * 2 ** 20;

/** The setting's bounds, in whole megabytes (MiB). */
export const MAX_MESSAGE_MB_LIMITS = { min: 1, max: 1024 } as const;

/** The limit as a person typed it, in whole megabytes; blank means the default. */
export function parseMaxMessageMb(
  input: string | number | null | undefined,
): { ok: true; bytes: number } | { ok: false } {
  const text = input === null || input === undefined ? "" : String(input).trim();
  if (text === "") return { ok: true, bytes: DEFAULT_MAX_MESSAGE_BYTES };
  if (!/^\d+$/.test(text)) return { ok: false };
  const n = Number(text);
  if (n < MAX_MESSAGE_MB_LIMITS.min || n > MAX_MESSAGE_MB_LIMITS.max) return { ok: false };
  return { ok: true, bytes: n * 2 ** 20 };
}

/** The limit in whole megabytes, as the form and the API show it. */
export function maxMessageMb(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

/**
 * Why a message was not collected whole: its size (the server's RFC822.SIZE, RFC 3501 §6.4.5) is
 * over the account's limit. Shown as the message's parse error.
 */
export function tooLargeReason(size: number, limit: number): string {
  return `too large: ${megabytes(size)} is over the account's limit of ${megabytes(limit)}; ` +
    "only its headers are stored. To collect such mail whole, raise the account's " +
    "max_message_mb (mail already passed over stays as it is)";
}

function megabytes(bytes: number): string {
  const mb = bytes / 2 ** 20;
  return `${mb >= 10 || Number.isInteger(mb) ? Math.round(mb) : mb.toFixed(1)} MB`;
}
