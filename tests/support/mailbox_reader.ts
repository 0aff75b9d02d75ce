/** Reads a test mailbox over IMAP, to check what really arrived. */
import { ImapFlow } from "imapflow";
import { parseMessage } from "../../src/mail/parse_message.ts";
import type { ParsedEmail } from "../../src/domain/email.ts";

export interface ImapLogin {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  pass: string;
}

/** Every message in the INBOX, raw and parsed, in UID order. */
export async function readInbox(
  login: ImapLogin,
): Promise<Array<{ uid: number; raw: Uint8Array; email: ParsedEmail }>> {
  const out: Array<{ uid: number; raw: Uint8Array; email: ParsedEmail }> = [];
  for (const m of await rawInbox(login)) {
    const parsed = await parseMessage(m.raw);
    if (!parsed.ok) throw new Error(`uid ${m.uid} does not parse: ${parsed.error}`);
    out.push({ ...m, email: parsed.email });
  }
  return out;
}

/** Every message in the INBOX exactly as the server serves it (BODY.PEEK[]), in UID order. */
export async function rawInbox(
  login: ImapLogin,
): Promise<Array<{ uid: number; raw: Uint8Array }>> {
  const client = new ImapFlow({
    host: login.host,
    port: login.port,
    secure: login.secure,
    auth: { user: login.user, pass: login.pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await client.connect();
  try {
    const box = await client.mailboxOpen("INBOX", { readOnly: true });
    if (box.exists === 0) return [];
    const out: Array<{ uid: number; raw: Uint8Array }> = [];
    for await (const m of client.fetch("1:*", { uid: true, source: true }, { uid: true })) {
      out.push({ uid: m.uid, raw: new Uint8Array(m.source!) });
    }
    return out;
  } finally {
    await client.logout();
  }
}

/**
 * Waits until `count(inbox)` reaches `atLeast` (Postfix delivers asynchronously), then a moment
 * more so that a late duplicate would show too.
 */
export async function settledInbox(login: ImapLogin, atLeast: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let inbox = await readInbox(login);
  while (inbox.length < atLeast && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    inbox = await readInbox(login);
  }
  await new Promise((r) => setTimeout(r, 1000));
  return await readInbox(login);
}
