/**
 * Where a copy of a sent reply goes: the account's Sent mailbox, chosen from the server's LIST,
 * and whether the server files submitted mail by itself (then no copy is made).
 */

/** One mailbox as the server listed it (imapflow's `ListResponse`, the fields we read). */
export interface ListedMailbox {
  path: string;
  /** LIST attributes, `\Sent` among them when the server has SPECIAL-USE (RFC 6154). */
  flags: Iterable<string>;
  /** imapflow's guess from the attribute or a localized name (e.g. `\Sent`). */
  specialUse?: string;
}

/**
 * The usual names of a Sent mailbox, in order of preference, for servers without SPECIAL-USE.
 * Compared without case; a name may sit under the personal namespace (`INBOX.Sent`, `INBOX/Sent`).
 */
export const USUAL_SENT_NAMES: readonly string[] = [
  "Sent",
  "Sent Items",
  "Sent Messages",
  "Sent Mail",
  "Enviados",
  "Itens Enviados",
  "Mensagens Enviadas",
  "Elementos enviados",
];

/**
 * The Sent mailbox among those listed, or null when there is none: first the mailbox marked
 * `\Sent` (RFC 6154 §2), then a usual name (top level before under INBOX), then imapflow's
 * guess from a localized name. Mailboxes that cannot hold messages (`\Noselect`,
 * `\NonExistent`) are never chosen.
 */
export function chooseSentMailbox(listed: readonly ListedMailbox[]): string | null {
  const selectable = listed.filter((m) => {
    const flags = lowered(m.flags);
    return !flags.has("\\noselect") && !flags.has("\\nonexistent");
  });
  const marked = selectable.find((m) => lowered(m.flags).has("\\sent"));
  if (marked) return marked.path;
  for (const name of USUAL_SENT_NAMES) {
    const wanted = name.toLowerCase();
    const top = selectable.find((m) => m.path.toLowerCase() === wanted);
    if (top) return top.path;
    const under = selectable.find((m) => {
      const p = m.path.toLowerCase();
      return p === `inbox.${wanted}` || p === `inbox/${wanted}`;
    });
    if (under) return under.path;
  }
  return selectable.find((m) => m.specialUse === "\\Sent")?.path ?? null;
}

/**
 * Whether the server files what its SMTP submission accepts in Sent by itself, so that our copy
 * would be a second one. Gmail does, and announces its IMAP extensions as `X-GM-EXT-1` in
 * CAPABILITY (https://developers.google.com/gmail/imap/imap-extensions).
 */
export function filesSubmittedMail(capabilities: Iterable<string>): boolean {
  return lowered(capabilities).has("x-gm-ext-1");
}

function lowered(values: Iterable<string>): Set<string> {
  return new Set([...values].map((v) => v.toLowerCase()));
}
