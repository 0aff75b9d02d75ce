/**
 * A stored account reaches the real Dovecot and Postfix on loopback in the TLS mode it was saved
 * with (src/mail/account_access.ts): plain IMAP and STARTTLS on 1143, TLS from the first byte on
 * 1993; plain SMTP on 1025 (and with a login on 1587), TLS from the first byte on 1465; and
 * STARTTLS required where the server offers none stops before anything is sent. Dovecot's own
 * log says how each session was protected. The stack's certificate is self-signed: a stored
 * account verifies certificates, so the TLS modes first fail on it as saved (proof that TLS was
 * spoken), then connect with the one allowance the test adds.
 */
import assert from "node:assert/strict";
import { openTestStore } from "../support/databases.ts";
import {
  deliverRaw,
  dovecotLogins,
  ensureMailstack,
  freshUser,
  IMAP,
  imapConfig,
  IMAPS,
  SMTP,
  SMTPS,
  SUBMISSION,
} from "../support/mailstack.ts";
import { settledInbox } from "../support/mailbox_reader.ts";
import { saveAccount } from "../../src/actions/accounts.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";
import { listAccounts } from "../../src/store/accounts.ts";
import {
  type AccountAccess,
  connectWithLogin,
  imapLogin,
  smtpLogin,
} from "../../src/mail/account_access.ts";
import { connectImap } from "../../src/mail/imap_reader.ts";
import { createSmtpSender, type OutgoingReply } from "../../src/mail/smtp_sender.ts";
import type { TlsMode } from "../../src/domain/tls_mode.ts";
import type { Db } from "../../src/store/db.ts";

const box = createSecretBox("a-very-long-secret-key-for-tests");

type Person = Awaited<ReturnType<typeof freshUser>>;

async function storedAccount(
  db: Db,
  name: string,
  person: Person,
  imap: { port: number; tls: TlsMode },
  smtp: { port: number; tls: TlsMode; login?: boolean },
) {
  const saved = await saveAccount({ db, now: () => new Date(), box }, null, {
    settings: {
      name,
      address: person.address,
      displayName: "",
      enabled: true,
      imapHost: IMAP.host,
      imapPort: imap.port,
      imapTls: imap.tls,
      imapUser: person.user,
      mailboxes: ["INBOX"],
      smtpHost: SMTP.host,
      smtpPort: smtp.port,
      smtpTls: smtp.tls,
      smtpUser: smtp.login ? person.user : null,
      copyToSent: false,
    },
    passwords: { imap: person.pass, smtp: smtp.login ? person.pass : "" },
  }, "tests");
  assert.ok(saved.ok, JSON.stringify(saved));
  return (await listAccounts(db)).find((a) => a.id === saved.value)!;
}

function reply(from: Person, to: Person, subject: string): OutgoingReply {
  return {
    from: { name: "", address: from.address },
    to: { name: "", address: to.address },
    subject,
    text: "Recebemos.",
    html: null,
    messageId: `<${crypto.randomUUID()}@example.test>`,
    inReplyTo: null,
    references: [],
    headers: { "Auto-Submitted": "auto-replied" },
  };
}

/** How Dovecot saw the user's latest login: `TLS` or `secured` (plain on loopback). */
async function lastProtection(user: string, logins: number): Promise<string> {
  const deadline = Date.now() + 60_000;
  let lines = await dovecotLogins(user);
  while (lines.length < logins && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    lines = await dovecotLogins(user);
  }
  assert.equal(lines.length, logins, lines.join("\n"));
  return / (TLS|secured)[,:]/.exec(lines.at(-1)!)?.[1] ?? lines.at(-1)!;
}

/** Logs in as the account is stored, and counts the INBOX. */
async function inboxCount(access: AccountAccess, db: Db, id: number, allowInvalid = false) {
  const account = (await listAccounts(db)).find((a) => a.id === id)!;
  const reader = allowInvalid
    ? await connectImap({ ...await imapLogin(access, account), allowInvalidCertificate: true })
    : await connectWithLogin(access, account, connectImap);
  try {
    return (await reader.open("INBOX")).exists;
  } finally {
    await reader.close();
  }
}

async function send(access: AccountAccess, id: number, r: OutgoingReply, allowInvalid = false) {
  const conn = await smtpLogin(access, id);
  const sender = createSmtpSender({
    ...conn,
    pooled: false,
    timeoutMs: 30_000,
    ...(allowInvalid ? { allowInvalidCertificate: true } : {}),
  });
  try {
    return await sender.send(r);
  } finally {
    sender.close();
  }
}

Deno.test("stored accounts reach Dovecot and Postfix in each TLS mode they were saved with", async () => {
  await ensureMailstack();
  const store = await openTestStore("postgres");
  const db = store.db;
  const access: AccountAccess = { db, secrets: box, envAccount: null };
  const [plain, starttls, tls, ana] = await Promise.all(
    ["plano", "starttls", "tls", "ana"].map((p) => freshUser(p)),
  );
  try {
    const hello = new TextEncoder().encode(
      "From: ana@example.test\r\nTo: x@example.test\r\nSubject: Oi\r\n" +
        `Message-ID: <${crypto.randomUUID()}@example.test>\r\n\r\nOi.\r\n`,
    );
    await Promise.all([plain, starttls, tls].map((p) => deliverRaw(p.user, [hello])));

    // Plain IMAP on loopback, plain SMTP without a login: straight through, and Dovecot saw no TLS.
    const a = await storedAccount(db, "plano", plain, { port: IMAP.port, tls: "plain" }, {
      port: SMTP.port,
      tls: "plain",
    });
    assert.equal(await inboxCount(access, db, a.id), 1);
    assert.equal(await lastProtection(plain.user, 1), "secured");
    assert.equal((await send(access, a.id, reply(plain, ana, "plano"))).kind, "accepted");

    // STARTTLS on 1143: as stored it upgrades and checks the certificate (self-signed: refused);
    // allowed, it logs in over TLS.
    const b = await storedAccount(db, "starttls", starttls, { port: IMAP.port, tls: "starttls" }, {
      port: SUBMISSION.port,
      tls: "plain",
      login: true,
    });
    await assert.rejects(
      () => inboxCount(access, db, b.id),
      /certificate|self.signed|UnknownIssuer/i,
    );
    assert.equal((await dovecotLogins(starttls.user)).length, 0, "no login without TLS");
    assert.equal(await inboxCount(access, db, b.id, true), 1);
    assert.equal(await lastProtection(starttls.user, 1), "TLS");
    // Plain SMTP with a login, to loopback's submission port.
    assert.equal((await send(access, b.id, reply(starttls, ana, "submissao"))).kind, "accepted");

    // TLS from the first byte on 1993 and 1465.
    const c = await storedAccount(db, "tls", tls, { port: IMAPS.port, tls: "tls" }, {
      port: SMTPS.port,
      tls: "tls",
    });
    await assert.rejects(
      () => inboxCount(access, db, c.id),
      /certificate|self.signed|UnknownIssuer/i,
    );
    assert.equal(await inboxCount(access, db, c.id, true), 1);
    assert.equal(await lastProtection(tls.user, 1), "TLS");
    const refused = await send(access, c.id, reply(tls, ana, "tls recusado"));
    assert.notEqual(refused.kind, "accepted", "the self-signed certificate is refused as saved");
    assert.equal((await send(access, c.id, reply(tls, ana, "tls"), true)).kind, "accepted");

    // STARTTLS required where the server offers none (Postfix on 1025): nothing goes out.
    const d = await storedAccount(db, "sem-starttls", tls, { port: IMAPS.port, tls: "tls" }, {
      port: SMTP.port,
      tls: "starttls",
    });
    const stopped = await send(access, d.id, reply(tls, ana, "sem starttls"));
    assert.notEqual(stopped.kind, "accepted", JSON.stringify(stopped));

    const subjects = (await settledInbox(imapConfig(ana.user, ana.pass), 3)).map((m) =>
      m.email.subject
    );
    assert.deepEqual(subjects.sort(), ["plano", "submissao", "tls"]);
  } finally {
    await store.close();
  }
});

Deno.test("a stored row that says plain to a remote host never connects", async () => {
  const store = await openTestStore("pglite");
  const db = store.db;
  try {
    const saved = await storedAccount(
      db,
      "remoto",
      { user: "u@example.test", pass: "p", address: "u@example.test" },
      { port: IMAP.port, tls: "tls" },
      { port: SMTP.port, tls: "tls" },
    );
    // Written behind the settings' back, as an old or hand-edited row could be.
    await db.query(
      "UPDATE accounts SET imap_host = 'imap.example.com', imap_tls = 'plain', " +
        "smtp_host = 'smtp.example.com', smtp_tls = 'plain' WHERE id = $1",
      [saved.id],
    );
    const access: AccountAccess = { db, secrets: box, envAccount: null };
    const account = (await listAccounts(db)).find((a) => a.id === saved.id)!;
    await assert.rejects(
      () => imapLogin(access, account),
      /IMAP imap\.example\.com:1143: plain IMAP .* only to a loopback host/,
    );
    await assert.rejects(
      () => smtpLogin(access, saved.id),
      /SMTP smtp\.example\.com:1025: plain SMTP .* only to a loopback host/,
    );
  } finally {
    await store.close();
  }
});
