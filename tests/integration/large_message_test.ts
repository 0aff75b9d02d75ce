/**
 * Large messages end to end: a real Dovecot mailbox holding a message over the account's limit
 * among ordinary ones, collected by the real command (`main.ts cli collect --once`) into a fresh
 * PostgreSQL database. The one over the limit is never downloaded: it is kept with its headers
 * and the reason; the ones after it are collected; a large one under the limit is stored byte
 * for byte (in pieces, src/store/messages.ts) and parsed.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import { deliverRaw, ensureMailstack, freshUser, imapConfig } from "../support/mailstack.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { rawInbox } from "../support/mailbox_reader.ts";

const enc = new TextEncoder();

function plain(n: number): Uint8Array {
  return enc.encode(
    `From: Cliente ${n} <c${n}@example.test>\r\nTo: caixa@example.test\r\nSubject: Pedido ${n}\r\n` +
      `Message-ID: <plain-${n}@example.test>\r\nDate: Tue, 3 Nov 2026 10:00:00 -0300\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nPedido ${n}.\r\n`,
  );
}

/** A message with a PDF of `bytes` bytes of pseudo-random content, base64 in 76-column lines. */
function withPdf(tag: string, bytes: number): Uint8Array {
  const pdf = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(pdf.subarray(i, i + 65536));
  const b64 = Buffer.from(pdf).toString("base64").replace(/.{76}/g, "$&\r\n");
  return enc.encode(
    `From: Cliente <cliente@example.test>\r\nTo: caixa@example.test\r\nSubject: Contrato ${tag}\r\n` +
      `Message-ID: <${tag}@example.test>\r\nDate: Tue, 3 Nov 2026 10:00:00 -0300\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nSegue o contrato.\r\n--b1\r\n` +
      `Content-Type: application/pdf; name="contrato.pdf"\r\n` +
      `Content-Disposition: attachment; filename="contrato.pdf"\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b1--\r\n`,
  );
}

Deno.test("a message over the account's limit is kept with its headers and the reason; the rest is collected", async () => {
  await ensureMailstack();
  const box = await freshUser("large");
  const over = withPdf("over", 6_000_000); // ~8 MB as sent: over a 4 MB limit
  const under = withPdf("under", 2_500_000); // ~3.3 MB: under it, stored in pieces
  const delivered = [plain(1), over, plain(2), under, plain(3)];
  await deliverRaw(box.user, delivered);
  const database = await freshPostgresDatabase();
  const db = openPostgres({ url: database.url, max: 2 });
  const imap = imapConfig(box.user, box.pass);
  try {
    const run = await runCli(["collect", "--once"], {
      EMAIL_HOST: imap.host,
      IMAP_PORT: String(imap.port),
      IMAP_TLS: "false",
      EMAIL_USER: box.user,
      EMAIL_PASS: box.pass,
      EMAIL_ADDRESS: box.address,
      DATABASE_URL: database.url,
      MAX_MESSAGE_MB: "4",
    });
    assert.equal(run.code, 0, `collect failed:\n${run.stderr}`);
    const summary = run.docs[0] as Record<string, unknown>;
    const [account] = summary.accounts as Array<Record<string, unknown>>;
    assert.equal(account.status, "ok", JSON.stringify(summary));
    assert.equal(summary.stored, 5, JSON.stringify(summary));
    assert.equal(summary.tooLarge, 1, JSON.stringify(summary));

    const served = await rawInbox(imap);
    assert.equal(served.length, 5);
    const rows = await db.query<{
      id: number;
      uid: number;
      raw: Uint8Array;
      size: number;
      too_large: boolean;
      parse_status: string;
      parse_error: string | null;
      content_sha256: string;
      attachments: Array<{ size: number }> | null;
    }>(
      `SELECT id, uid::int AS uid, raw, size, too_large, parse_status, parse_error,
         content_sha256, attachments
       FROM messages ORDER BY uid`,
    );
    assert.equal(rows.length, 5);
    const big = rows[1];
    const servedBig = served[1].raw;
    assert.equal(big.too_large, true);
    assert.equal(big.parse_status, "failed");
    assert.match(
      big.parse_error ?? "",
      /^too large: 7\.\d MB is over the account's limit of 4 MB; only its headers are stored/,
    );
    assert.equal(big.size, servedBig.length, "the size is the server's, not the headers'");
    const headerEnd = new TextDecoder().decode(servedBig.subarray(0, 4096)).indexOf("\r\n\r\n") +
      4;
    assert.deepEqual(new Uint8Array(big.raw), servedBig.subarray(0, headerEnd));
    assert.equal(await sha256Hex(new Uint8Array(big.raw)), big.content_sha256);

    for (const i of [0, 2, 3, 4]) {
      const r = rows[i];
      assert.equal(r.too_large, false);
      assert.equal(r.parse_status, "parsed", `uid ${r.uid}: ${r.parse_error}`);
      assert.deepEqual(new Uint8Array(r.raw), served[i].raw, `uid ${r.uid} stored byte for byte`);
      assert.equal(r.size, served[i].raw.length);
    }
    assert.equal(rows[3].attachments?.[0]?.size, 2_500_000, "the attachment counted, not read");

    const events = await db.query<{ message_id: number; detail: Record<string, unknown> }>(
      "SELECT message_id, detail FROM audit_events WHERE event = 'message_too_large'",
    );
    assert.equal(events.length, 1);
    assert.equal(Number(events[0].message_id), Number(big.id));
    assert.deepEqual(events[0].detail, {
      mailbox: "INBOX",
      uid: big.uid,
      size: servedBig.length,
      limit: 4 * 2 ** 20,
    });
    const collected = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE event = 'collected'",
    );
    assert.equal(collected[0].n, 4);

    // The next run finds nothing new: the high-water mark passed the large message.
    const again = await runCli(["collect", "--once"], {
      EMAIL_HOST: imap.host,
      IMAP_PORT: String(imap.port),
      IMAP_TLS: "false",
      EMAIL_USER: box.user,
      EMAIL_PASS: box.pass,
      EMAIL_ADDRESS: box.address,
      DATABASE_URL: database.url,
      MAX_MESSAGE_MB: "4",
    });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.docs[0] as Record<string, unknown>).fetched, 0);
  } finally {
    await db.close();
    await database.drop();
  }
});
