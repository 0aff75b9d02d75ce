import { ImapFlow } from "imapflow";
import { type ImapConnection, imapFlowOptions, imapTlsMode } from "./account_access.ts";
import type { AfterAction } from "../domain/after_processing.ts";

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

/**
 * The server refused to open a mailbox (NO to SELECT/EXAMINE: it does not exist, was renamed, or
 * cannot be selected). Only that mailbox is affected; the session goes on.
 */
export class MailboxUnavailableError extends Error {
  constructor(readonly mailbox: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MailboxUnavailableError";
  }
}

/**
 * One logged-in IMAP session. It reads with EXAMINE, so collecting never sets a flag; the only
 * change it makes is `settle`, asked for by the account's after-processing setting.
 */
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
  /**
   * The header block alone of the given messages (BODY.PEEK[HEADER], RFC 3501 §6.4.5: the
   * header and the blank line that ends it), for messages too large to fetch whole.
   */
  fetchHeaders(uids: number[]): AsyncIterable<RawMessage>;
  /**
   * Marks `\Seen` or moves the messages `uids` of `mailbox`, opened read-write (SELECT) for it.
   * A move uses MOVE (RFC 6851), or COPY + \Deleted + UID EXPUNGE where the server has no MOVE
   * (imapflow's fallback), and creates the folder when the server answers TRYCREATE. Throws,
   * with the server's words, when the server refuses, or when the mailbox's UIDVALIDITY is no
   * longer `uidValidity` (the UIDs would name other messages). A UID already gone is no error.
   */
  settle(mailbox: string, uidValidity: number, uids: number[], action: AfterAction): Promise<void>;
  close(): Promise<void>;
}

/** Logs in and returns a reader; the error names the server and what went wrong. */
export async function connectImap(conn: ImapConnection): Promise<ImapReader> {
  // imapflow reports a refused MOVE, COPY or STORE only as `false`; its log's warning carries the
  // server's answer, kept here to say why.
  const refusals: string[] = [];
  const quiet = () => {};
  const client = new ImapFlow({
    ...imapFlowOptions(conn),
    logger: {
      debug: quiet,
      info: quiet,
      error: quiet,
      warn: (o: { err?: { responseText?: string; serverResponseCode?: string } }) => {
        const err = o?.err;
        if (!err?.responseText) return;
        refusals.push(
          err.serverResponseCode && !err.responseText.includes(err.serverResponseCode)
            ? `[${err.serverResponseCode}] ${err.responseText}`
            : err.responseText,
        );
        if (refusals.length > 5) refusals.shift();
      },
    },
  });
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
  return new ImapFlowReader(client, conn, refusals);
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
  #refusals: string[];

  constructor(client: ImapFlow, conn: ImapConnection, refusals: string[]) {
    this.#client = client;
    this.#conn = conn;
    this.#refusals = refusals;
  }

  async open(mailbox: string): Promise<MailboxSnapshot> {
    return await this.#open(mailbox, true);
  }

  async #open(mailbox: string, readOnly: boolean): Promise<MailboxSnapshot> {
    try {
      const mb = await this.#client.mailboxOpen(mailbox, { readOnly });
      return {
        uidValidity: Number(mb.uidValidity),
        uidNext: Number(mb.uidNext),
        exists: mb.exists,
      };
    } catch (cause) {
      const message = `IMAP ${this.#conn.host}: cannot open mailbox ${mailbox}: ${describe(cause)}`;
      // A tagged NO is the server's answer about this mailbox (RFC 3501 §6.3.1: "no such mailbox,
      // can't access mailbox"; RFC 5530 NONEXISTENT); anything else is the session's trouble.
      if ((cause as { responseStatus?: string })?.responseStatus === "NO") {
        throw new MailboxUnavailableError(mailbox, message, { cause });
      }
      throw new Error(message, { cause });
    }
  }

  async settle(
    mailbox: string,
    uidValidity: number,
    uids: number[],
    action: AfterAction,
  ): Promise<void> {
    if (uids.length === 0) return;
    const opened = await this.#open(mailbox, false);
    if (opened.uidValidity !== uidValidity) {
      throw new Error(
        `the UIDVALIDITY of ${mailbox} changed (${uidValidity} → ${opened.uidValidity}): ` +
          "the message is matched again by the next collection",
      );
    }
    const range = uids.join(",");
    const refused = (what: string) => {
      const why = this.#refusals.at(-1);
      this.#refusals.length = 0;
      return new Error(`IMAP ${this.#conn.host}: ${what}${why ? `: ${why}` : ""}`);
    };
    this.#refusals.length = 0;
    if (action.kind === "seen") {
      if (!await this.#client.messageFlagsAdd(range, ["\\Seen"], { uid: true })) {
        throw refused(`cannot mark messages of ${mailbox} \\Seen`);
      }
      return;
    }
    let moved = await this.#client.messageMove(range, action.folder, { uid: true });
    // TRYCREATE: the target does not exist and may be created (RFC 3501 §6.4.7, RFC 6851 §3.3).
    if (!moved && this.#refusals.some((r) => r.includes("TRYCREATE"))) {
      this.#refusals.length = 0;
      try {
        await this.#client.mailboxCreate(action.folder);
      } catch (cause) {
        throw new Error(
          `IMAP ${this.#conn.host}: cannot create folder ${action.folder}: ${describe(cause)}`,
          { cause },
        );
      }
      moved = await this.#client.messageMove(range, action.folder, { uid: true });
    }
    if (!moved) throw refused(`cannot move messages of ${mailbox} to ${action.folder}`);
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
    yield* this.#fetch(uids, "source");
  }

  async *fetchHeaders(uids: number[]): AsyncIterable<RawMessage> {
    yield* this.#fetch(uids, "headers");
  }

  async *#fetch(uids: number[], part: "source" | "headers"): AsyncIterable<RawMessage> {
    if (uids.length === 0) return;
    for await (
      const msg of this.#client.fetch(
        uids.join(","),
        { uid: true, [part]: true, internalDate: true },
        { uid: true },
      )
    ) {
      const bytes = msg[part];
      if (!bytes) continue;
      const internal = msg.internalDate ? new Date(msg.internalDate) : null;
      yield {
        uid: msg.uid,
        raw: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
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
