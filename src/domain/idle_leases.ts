/**
 * One IMAP IDLE connection per mailbox across every running instance, under a cap on the IMAP
 * connections Carteiro opens to one account. The pure half: which mailboxes of an account may be
 * watched with IDLE, how long a lease lives, and whether an instance may still count on the
 * lease it last renewed. The store takes and renews leases in SQL (src/store/idle_leases.ts).
 *
 * Providers limit simultaneous IMAP connections per account: Gmail 15, Exchange Online 20. A
 * client over the limit is refused at login, and the refusal hits whichever connection comes last
 * — often the collection itself. So IDLE takes only what is left under the cap once the other
 * connections are counted, and the minute cron collects the mailboxes beyond it.
 */

/** A holder renews its leases this often. */
export const LEASE_HEARTBEAT_MS = 5_000;

/**
 * A lease not renewed for this long may be taken by another instance. With the heartbeat above
 * and instances that look for free leases at the same pace, a dead holder's mailbox is watched
 * again within expiry + one heartbeat (25 s), under the 30 s promised, whatever the load.
 */
export const LEASE_EXPIRY_MS = 20_000;

/**
 * A holder stops watching once its last confirmed renewal is this old, before the lease can
 * expire for others: two connections to one mailbox must not overlap because this instance lost
 * touch with the database.
 */
export const LEASE_SELF_STOP_MS = LEASE_EXPIRY_MS - 2 * LEASE_HEARTBEAT_MS;

/**
 * IMAP connections to an account that Carteiro may open besides IDLE, kept out of IDLE's share:
 * the collection (one at a time per account across instances: the collect lock), and one more
 * for a short job beside it (the connection test of the accounts page, a copy to Sent).
 */
export const RESERVED_CONNECTIONS = 2;

/** Caps allowed when a person sets one. */
export const CAP_LIMITS = Object.freeze({ min: 1, max: 100 });

/** A mailbox of an account: what a lease is for. */
export interface MailboxKey {
  accountId: number;
  mailbox: string;
}

/**
 * The default cap on Carteiro's IMAP connections to an account, by provider, from its IMAP
 * host: a margin under what the provider allows, so a mail client of the team still connects.
 * Gmail (15 allowed) → 10; Exchange Online / Outlook.com (20 allowed) → 15; anything else → 10.
 */
export function defaultConnectionCap(imapHost: string): number {
  const host = imapHost.trim().toLowerCase().replace(/\.$/, "");
  if (host === "imap.gmail.com" || host === "imap.googlemail.com") return 10;
  if (
    host === "outlook.office365.com" || host === "outlook.office.com" ||
    host === "imap-mail.outlook.com"
  ) return 15;
  return 10;
}

/** The account's cap: its own setting, else the provider's default. */
export function connectionCap(
  account: { imapHost: string; imapConnectionCap: number | null },
): number {
  return account.imapConnectionCap ?? defaultConnectionCap(account.imapHost);
}

/** Which mailboxes of an account are watched with IDLE and which the minute cron alone collects. */
export interface IdlePlan {
  cap: number;
  /** Connections left to IDLE under the cap. */
  slots: number;
  /** Mailboxes watched with IDLE (one connection each, held by one instance), in account order. */
  idle: string[];
  /** Mailboxes beyond the cap: collected by the minute cron only. */
  cronOnly: string[];
}

/**
 * The first mailboxes of the account, in the order configured, up to the connections left under
 * the cap once the reserved ones are counted, are watched with IDLE; the rest wait for the cron.
 * A mailbox named twice counts once.
 */
export function idlePlan(mailboxes: readonly string[], cap: number): IdlePlan {
  const unique = [...new Set(mailboxes.length > 0 ? mailboxes : ["INBOX"])];
  const slots = Math.max(0, cap - RESERVED_CONNECTIONS);
  return { cap, slots, idle: unique.slice(0, slots), cronOnly: unique.slice(slots) };
}

/**
 * Whether an instance may go on watching with leases it last confirmed at `confirmedAt`: only
 * while that is recent enough that no other instance can have taken them (`LEASE_SELF_STOP_MS`).
 */
export function leaseStillOurs(confirmedAt: Date | null, now: Date): boolean {
  if (confirmedAt === null) return false;
  const age = now.getTime() - confirmedAt.getTime();
  return age >= 0 && age < LEASE_SELF_STOP_MS;
}

/** The text key of a mailbox of an account, for sets and maps. */
export function mailboxKeyText(k: MailboxKey): string {
  return JSON.stringify([k.accountId, k.mailbox]);
}

/** A per-account cap as a person typed it: blank means the provider's default (null). */
export function parseConnectionCap(
  input: string | number | null | undefined,
): { ok: true; value: number | null } | { ok: false } {
  if (input === null || input === undefined) return { ok: true, value: null };
  const text = String(input).trim();
  if (text === "") return { ok: true, value: null };
  if (!/^\d+$/.test(text)) return { ok: false };
  const n = Number(text);
  if (n < CAP_LIMITS.min || n > CAP_LIMITS.max) return { ok: false };
  return { ok: true, value: n };
}
