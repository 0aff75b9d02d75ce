/**
 * Appends a sent reply to the account's Sent mailbox over IMAP, so that the people reading the
 * mailbox in their mail client see what went out. The Sent mailbox is found by its RFC 6154
 * `\Sent` attribute, else by a usual name (src/domain/sent_mailbox.ts), and created as `Sent`
 * when the account has none.
 */
import { Buffer } from "node:buffer";
import { ImapFlow } from "imapflow";
import { type ImapConnection, imapFlowOptions, imapTlsMode } from "./account_access.ts";
import { chooseSentMailbox, filesSubmittedMail } from "../domain/sent_mailbox.ts";

/** One copy to make: the bytes SMTP took, and their Message-ID (with angle brackets). */
export interface SentCopyRequest {
  raw: Uint8Array;
  messageIdHeader: string;
  /**
   * Search the Sent mailbox for the Message-ID first: an earlier attempt may have appended the
   * copy and stopped before recording it.
   */
  searchFirst: boolean;
}

/** What became of a copy: appended, found already there, or not ours to make (Gmail). */
export type SentCopyOutcome =
  | { kind: "copied"; mailbox: string; uid: number | null; alreadyThere: boolean }
  | { kind: "skipped"; why: "server_files_sent_mail" };

/** Makes the copy; rejects with an error naming the server when it cannot. */
export async function copyToSent(
  conn: ImapConnection,
  request: SentCopyRequest,
): Promise<SentCopyOutcome> {
  const client = new ImapFlow(imapFlowOptions(conn, conn.timeoutMs ?? 60_000));
  const failures: Error[] = [];
  // Without a listener an 'error' event would end the process; the failing call reports it.
  client.on("error", (err: Error) => failures.push(err));
  const where = `IMAP ${conn.host}:${conn.port} (${imapTlsMode(conn)}) as ${conn.user}`;
  try {
    await client.connect();
    // Gmail files what its SMTP accepts in "Sent Mail" by itself: a copy would be a second one.
    if (filesSubmittedMail(client.capabilities.keys())) {
      return { kind: "skipped", why: "server_files_sent_mail" };
    }
    const listed = await client.list();
    let mailbox = chooseSentMailbox(
      listed.map((m) => ({ path: m.path, flags: m.flags, specialUse: m.specialUse })),
    );
    if (mailbox === null) {
      // Created under the personal namespace (imapflow adds its prefix, e.g. `INBOX.`), and
      // subscribed: many mail clients show only subscribed mailboxes.
      mailbox = (await client.mailboxCreate("Sent")).path;
      await client.mailboxSubscribe(mailbox);
    }
    if (request.searchFirst) {
      const lock = await client.getMailboxLock(mailbox, { readOnly: true });
      try {
        const id = request.messageIdHeader.replace(/^<|>$/g, "");
        const found = await client.search({ header: { "message-id": id } }, { uid: true });
        if (found && found.length > 0) {
          return { kind: "copied", mailbox, uid: found[0], alreadyThere: true };
        }
      } finally {
        lock.release();
      }
    }
    const appended = await client.append(
      mailbox,
      Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength),
      ["\\Seen"],
    );
    if (!appended) throw new Error(`APPEND to ${mailbox} was refused`);
    return { kind: "copied", mailbox, uid: appended.uid ?? null, alreadyThere: false };
  } catch (cause) {
    const e = cause as Error & { responseText?: string; code?: string };
    const text = [e.code, e.responseText ?? e.message].filter(Boolean).join(": ");
    throw new Error(`${where}: copy to Sent failed: ${text || String(cause)}`, { cause });
  } finally {
    try {
      await client.logout();
    } catch {
      client.close();
    }
  }
}
