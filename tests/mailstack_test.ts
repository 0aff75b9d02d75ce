/**
 * The loopback mail stack itself (scripts/mailstack.sh): SMTP delivers into Dovecot, IMAP and IMAPS
 * serve it, the fast path stores bytes exactly, UIDVALIDITY changes show, nothing is relayed.
 */
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import {
  changeUidValidity,
  deliverRaw,
  ensureMailstack,
  freshUser,
  IMAP,
  imapConfig,
  IMAPS,
  SMTP,
  uidValidity,
} from "./support/mailstack.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Reply {
  code: number;
  text: string;
}

/** A plain SMTP conversation (RFC 5321 §4.1): each command's reply, in order, then QUIT. */
async function smtp(commands: string[]): Promise<Reply[]> {
  const conn = await Deno.connect({ hostname: SMTP.host, port: SMTP.port });
  const replies: Reply[] = [];
  let buffered = "";
  const chunk = new Uint8Array(4096);
  async function reply(): Promise<Reply> {
    for (;;) {
      // A reply ends with a line whose code is followed by a space (§4.2.1).
      const m = /^(?:\d{3}-[^\n]*\n)*(\d{3}) [^\n]*\n/.exec(buffered);
      if (m) {
        buffered = buffered.slice(m[0].length);
        return { code: Number(m[1]), text: m[0].trim() };
      }
      const n = await conn.read(chunk);
      if (n === null) throw new Error(`SMTP closed the connection; got so far: ${buffered}`);
      buffered += dec.decode(chunk.subarray(0, n));
    }
  }
  try {
    replies.push(await reply());
    for (const c of [...commands, "QUIT"]) {
      await conn.write(enc.encode(`${c}\r\n`));
      replies.push(await reply());
    }
  } finally {
    conn.close();
  }
  return replies;
}

function imap(user: string, pass: string, tls: boolean): ImapFlow {
  return new ImapFlow({
    ...(tls ? { ...IMAPS, secure: true } : { ...IMAP, secure: false, doSTARTTLS: false }),
    auth: { user, pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
}

/** The INBOX's messages, raw, in UID order. */
async function inbox(user: string, pass: string, tls = false): Promise<Uint8Array[]> {
  const client = imap(user, pass, tls);
  await client.connect();
  try {
    const box = await client.mailboxOpen("INBOX", { readOnly: true });
    if (box.exists === 0) return [];
    const out: Uint8Array[] = [];
    for await (const m of client.fetch("1:*", { uid: true, source: true }, { uid: true })) {
      out.push(new Uint8Array(m.source!));
    }
    return out;
  } finally {
    await client.logout();
  }
}

/** Postfix hands mail to Dovecot asynchronously: poll until it is there. */
async function waitForInbox(user: string, pass: string, count: number): Promise<Uint8Array[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await inbox(user, pass);
    if (got.length >= count) return got;
    if (Date.now() > deadline) {
      throw new Error(`${user} has ${got.length} of ${count} messages after 60 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sendOne(from: string, to: string, body: string): string[] {
  return [
    "EHLO test.example.test",
    `MAIL FROM:<${from}>`,
    `RCPT TO:<${to}>`,
    "DATA",
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${body}\r\n\r\n${body}\r\n.`,
  ];
}

function codes(replies: Reply[]): number[] {
  return replies.map((r) => r.code);
}

Deno.test("mail sent over SMTP arrives in the INBOX, read over IMAP and IMAPS", async () => {
  await ensureMailstack();
  const box = await freshUser("smtp");
  const tag = crypto.randomUUID();
  const replies = await smtp(sendOne("sender@example.test", box.address, `Pedido ${tag}`));
  assert.deepEqual(codes(replies), [220, 250, 250, 250, 354, 250, 221], JSON.stringify(replies));

  const plain = await waitForInbox(box.user, box.pass, 1);
  assert.equal(plain.length, 1);
  assert.match(dec.decode(plain[0]), new RegExp(`Subject: Pedido ${tag}`));

  const overTls = await inbox(box.user, box.pass, true);
  assert.deepEqual(overTls, plain);
});

Deno.test("the server offers IDLE, and a wrong password is refused", async () => {
  await ensureMailstack();
  const box = await freshUser("caps");
  const client = imap(box.user, box.pass, false);
  await client.connect();
  try {
    assert.ok(client.capabilities.has("IDLE"), [...client.capabilities.keys()].join(" "));
  } finally {
    await client.logout();
  }
  const wrong = imap(box.user, `${box.pass}x`, false);
  await assert.rejects(() => wrong.connect());
  wrong.close();
});

Deno.test("any example.test address gets a mailbox on first delivery, before adduser", async () => {
  await ensureMailstack();
  const local = `novo${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const address = `${local}@example.test`;
  const replies = await smtp(sendOne("sender@example.test", address, "Primeira"));
  assert.equal(replies.at(-2)?.code, 250, JSON.stringify(replies));
  // Only now can the address log in; the message was kept for it.
  const pass = crypto.randomUUID();
  const add = await new Deno.Command("bash", {
    args: [new URL("../scripts/mailstack.sh", import.meta.url).pathname, "adduser", local, pass],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(add.success, dec.decode(add.stderr));
  assert.equal(dec.decode(add.stdout).trim(), address);
  assert.equal((await waitForInbox(address, pass, 1)).length, 1);
});

Deno.test("mail for other domains is refused at RCPT, never relayed", async () => {
  await ensureMailstack();
  for (const to of ["someone@example.com", "x@notexample.test", "x@example.test.example.com"]) {
    const replies = await smtp([
      "EHLO test.example.test",
      "MAIL FROM:<sender@example.test>",
      `RCPT TO:<${to}>`,
    ]);
    const rcpt = replies[3];
    assert.equal(rcpt.code, 554, `${to}: ${rcpt.text}`);
    assert.match(rcpt.text, /Relay access denied/);
  }
  // A subdomain of example.test is ours, as original senders of forwarded mail use them.
  const sub = await smtp([
    "EHLO test.example.test",
    "MAIL FROM:<sender@example.test>",
    "RCPT TO:<cliente@loja.example.test>",
  ]);
  assert.equal(sub[3].code, 250, sub[3].text);
});

Deno.test("deliverRaw stores the bytes exactly, in order", async () => {
  await ensureMailstack();
  const box = await freshUser("raw");
  const messages = [
    enc.encode(
      "From: Ana <ana@example.test>\r\nTo: caixa@example.test\r\nSubject: =?utf-8?q?Ol=C3=A1?=\r\n" +
        `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: Tue, 3 Nov 2026 10:00:00 -0300\r\n` +
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
        "Olá, ação!\r\n\r\n  espaços no fim   \r\n\tTab.\r\n" + "x".repeat(2000) + "\r\n",
    ),
    // No final line break, a bare "From " line and a lone dot: nothing may be added or quoted.
    enc.encode("Subject: dois\r\n\r\nFrom the start\r\n.\r\nsem fim"),
    enc.encode("Subject: tres\r\n\r\n" + "linha\r\n".repeat(5000)),
  ];
  await deliverRaw(box.user, messages);
  const got = await inbox(box.user, box.pass);
  assert.equal(got.length, messages.length);
  for (const [i, m] of messages.entries()) {
    assert.deepEqual(got[i], m, `message ${i} differs:\n${dec.decode(got[i]).slice(0, 300)}`);
  }
  // The same through files on disk, appended after the first three.
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/quatro.eml`;
    const four = enc.encode("Subject: quatro\r\n\r\nde um arquivo\r\n");
    await Deno.writeFile(file, four);
    await deliverRaw(box.user, [file]);
    const after = await inbox(box.user, box.pass, true);
    assert.equal(after.length, 4);
    assert.deepEqual(after[3], four);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a UIDVALIDITY change is seen by STATUS and by a new SELECT", async () => {
  await ensureMailstack();
  const box = await freshUser("uidv");
  await deliverRaw(box.user, [enc.encode("Subject: um\r\n\r\num\r\n")]);
  const before = await uidValidity(box.user, "INBOX");
  const after = await changeUidValidity(box.user, "INBOX");
  assert.notEqual(after, before);

  const client = imap(box.user, box.pass, false);
  await client.connect();
  try {
    const status = await client.status("INBOX", { uidValidity: true, messages: true });
    assert.ok(status, "STATUS INBOX failed");
    assert.equal(status.uidValidity, BigInt(after));
    assert.equal(status.messages, 1);
    const opened = await client.mailboxOpen("INBOX", { readOnly: true });
    assert.equal(opened.uidValidity, BigInt(after));
  } finally {
    await client.logout();
  }
});

Deno.test("imapConfig names the plain loopback port", () => {
  assert.deepEqual(imapConfig("u@example.test", "p"), {
    host: "127.0.0.1",
    port: 1143,
    secure: false,
    user: "u@example.test",
    pass: "p",
  });
});
