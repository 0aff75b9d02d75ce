import { ImapFlow } from "imapflow";
import { type ImapConnection, imapFlowOptions, imapTlsMode } from "./account_access.ts";

/** What the server says of a mailbox when it is opened. */
export interface MailboxSnapshot {
  uidValidity: number;
  uidNext: number;
  exists: number;
}

export interface RawMessage {
  uid: number;
  raw: Uint8Array;
  internalDate: Date | null;
}

/** One logged-in IMAP session, reading only: it never sets a flag, moves or deletes. */
export interface ImapReader {
  /** Opens a mailbox read-only (EXAMINE, RFC 3501 §6.3.2), so fetching never sets \Seen. */
  open(mailbox: string): Promise<MailboxSnapshot>;
  /**
   * UIDs above `afterUid` in the open mailbox, ascending, with their sizes; with `upToUid`, only
   * those up to it (a window of a large mailbox, so the listing never holds it all).
   */
  listAfter(afterUid: number, upToUid?: number): Promise<Array<{ uid: number; size: number }>>;
  /** How many messages of the open mailbox have a UID above `afterUid`. */
  countAfter(afterUid: number): Promise<number>;
  /** The exact bytes of the given messages, fetched with one UID FETCH per call. */
  fetchRaw(uids: number[]): AsyncIterable<RawMessage>;
  close(): Promise<void>;
}

/** Logs in and returns a reader; the error names the server and what went wrong. */
export async function connectImap(conn: ImapConnection): Promise<ImapReader> {
  const client = new ImapFlow(imapFlowOptions(conn));
  const failures: Error[] = [];
  // Without a listener an 'error' event would end the process; it is reported by the next call.
  client.on("error", (err: Error) => failures.push(err));
  try {
    await client.connect();
  } catch (cause) {
    throw new Error(
      `IMAP ${conn.host}:${conn.port} (${imapTlsMode(conn)}) as ${conn.user}: ${describe(cause)}`,
      { cause },
    );
  }
  return new ImapFlowReader(client, conn);
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const extra = e as Error & {
    responseText?: string;
    authenticationFailed?: boolean;
    code?: string;
  };
  if (extra.authenticationFailed) return "authentication failed (check EMAIL_USER / EMAIL_PASS)";
  return [extra.code, extra.responseText ?? e.message].filter(Boolean).join(": ");
}

class ImapFlowReader implements ImapReader {
  #client: ImapFlow;
  #conn: ImapConnection;

  constructor(client: ImapFlow, conn: ImapConnection) {
    this.#client = client;
    this.#conn = conn;
  }

  async open(mailbox: string): Promise<MailboxSnapshot> {
    try {
      const mb = await this.#client.mailboxOpen(mailbox, { readOnly: true });
      return {
        uidValidity: Number(mb.uidValidity),
        uidNext: Number(mb.uidNext),
        exists: mb.exists,
      };
    } catch (cause) {
      throw new Error(
        `IMAP ${this.#conn.host}: cannot open mailbox ${mailbox}: ${describe(cause)}`,
        {
          cause,
        },
      );
    }
  }

  async listAfter(
    afterUid: number,
    upToUid?: number,
  ): Promise<Array<{ uid: number; size: number }>> {
    const out: Array<{ uid: number; size: number }> = [];
    const last = upToUid ?? Infinity;
    if (last <= afterUid) return out;
    // "n:*" always matches the highest UID, even below n (RFC 3501 §6.4.8): filter it out.
    const range = `${afterUid + 1}:${Number.isFinite(last) ? last : "*"}`;
    for await (
      const msg of this.#client.fetch(range, { uid: true, size: true }, { uid: true })
    ) {
      if (msg.uid > afterUid && msg.uid <= last) out.push({ uid: msg.uid, size: msg.size ?? 0 });
    }
    return out.sort((a, b) => a.uid - b.uid);
  }

  async countAfter(afterUid: number): Promise<number> {
    const uids = await this.#client.search({ uid: `${afterUid + 1}:*` }, { uid: true });
    return (uids || []).filter((uid) => uid > afterUid).length;
  }

  async *fetchRaw(uids: number[]): AsyncIterable<RawMessage> {
    if (uids.length === 0) return;
    for await (
      const msg of this.#client.fetch(
        uids.join(","),
        { uid: true, source: true, internalDate: true },
        { uid: true },
      )
    ) {
      if (!msg.source) continue;
      const internal = msg.internalDate ? new Date(msg.internalDate) : null;
      yield {
        uid: msg.uid,
        raw: new Uint8Array(msg.source.buffer, msg.source.byteOffset, msg.source.byteLength),
        internalDate: internal && !Number.isNaN(internal.getTime()) ? internal : null,
      };
    }
  }

  async close(): Promise<void> {
    try {
      await this.#client.logout();
    } catch {
      this.#client.close();
    }
  }
}
