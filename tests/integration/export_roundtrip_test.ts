/**
 * The mbox round trip: messages collected from a real Dovecot mailbox are exported as mbox by
 * the real command (`main.ts cli export`), each message of the file is appended to a fresh
 * Dovecot mailbox over IMAP (imapflow APPEND), and collecting that mailbox stores the very same
 * messages — the same raw bytes, the same hashes — including ones whose lines start with "From ".
 */
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import { deliverRaw, ensureMailstack, freshUser, imapConfig } from "../support/mailstack.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { readMboxrd } from "../../src/domain/mbox.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);

/** Messages whose lines an mbox must quote, and one that is not a message at all. */
function tricky(): Uint8Array[] {
  const enc = new TextEncoder();
  const head = (i: number) =>
    `From: Remetente ${i} <r${i}@example.test>\r\nTo: caixa@example.test\r\nSubject: Linha ${i}\r\n` +
    `Message-ID: <mbox-${i}-${crypto.randomUUID()}@example.test>\r\n` +
    "Date: Tue, 3 Nov 2026 10:00:00 -0300\r\n\r\n";
  return [
    enc.encode(head(1) + "From the start of the line.\r\n>From quoted once.\r\n"),
    enc.encode(head(2) + ">>From quoted twice\r\n\r\nFrom \r\nFrom\r\n"),
    enc.encode(head(3) + "The last line has no line break.\r\nFrom here"),
    enc.encode("no headers at all\r\n\r\nFrom nobody\r\n"),
  ];
}

async function mailbox(prefix: string) {
  const box = await freshUser(prefix);
  const database = await freshPostgresDatabase();
  const imap = imapConfig(box.user, box.pass);
  const env = {
    EMAIL_HOST: imap.host,
    IMAP_PORT: String(imap.port),
    IMAP_TLS: "false",
    EMAIL_USER: box.user,
    EMAIL_PASS: box.pass,
    EMAIL_ADDRESS: box.address,
    DATABASE_URL: database.url,
  };
  const db = openPostgres({ url: database.url, max: 2 });
  return {
    box,
    imap,
    env,
    db,
    close: async () => {
      await db.close();
      await database.drop();
    },
  };
}

type Box = Awaited<ReturnType<typeof mailbox>>;

async function collect(b: Box): Promise<Record<string, number>> {
  const run = await runCli(["collect", "--once"], b.env);
  assert.equal(run.code, 0, `collect failed:\n${run.stderr}\n${JSON.stringify(run.docs)}`);
  return run.docs[0] as Record<string, number>;
}

/** The stored messages' raw bytes by their hash, checking each stored hash on the way. */
async function stored(b: Box): Promise<Map<string, Uint8Array>> {
  const rows = await b.db.query<{ raw: Uint8Array; content_sha256: string }>(
    "SELECT raw, content_sha256 FROM messages ORDER BY id",
  );
  const out = new Map<string, Uint8Array>();
  for (const r of rows) {
    const raw = new Uint8Array(r.raw);
    assert.equal(await sha256Hex(raw), r.content_sha256);
    out.set(r.content_sha256, raw);
  }
  assert.equal(out.size, rows.length, "no two stored messages are the same");
  return out;
}

Deno.test("mbox round trip: export, APPEND to a fresh mailbox, collect: the same messages", async () => {
  await ensureMailstack();
  const files: Uint8Array[] = [];
  for await (const e of Deno.readDir(FIXTURES)) {
    if (e.name.endsWith(".eml")) files.push(await Deno.readFile(new URL(e.name, FIXTURES)));
  }
  const messages = [...files, ...tricky()];
  const first = await mailbox("exporta");
  const second = await mailbox("importa");
  const dir = await Deno.makeTempDir({ prefix: "carteiro-roundtrip-" });
  try {
    await deliverRaw(first.box.user, messages);
    assert.equal((await collect(first)).stored, messages.length);
    const before = await stored(first);
    assert.equal(before.size, messages.length);
    const [unparsed] = await first.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM messages WHERE parse_status <> 'parsed'",
    );

    const out = `${dir}/export.mbox`;
    const exported = await runCli(["export", "--format", "mbox", "--out", out], first.env);
    assert.equal(exported.code, 0, exported.stderr);
    const mbox = await Deno.readFile(out);
    assert.equal((exported.docs[0] as { bytes: number }).bytes, mbox.length);
    const entries = readMboxrd(mbox);
    assert.equal(entries.length, messages.length);

    // Each entry as the mbox gives it back, appended as it is: a source without a final line
    // break came back with one (its entry needed it), which is the one change an mbox makes.
    const client = new ImapFlow({
      host: second.imap.host,
      port: second.imap.port,
      secure: false,
      auth: { user: second.imap.user, pass: second.imap.pass },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await client.connect();
    try {
      for (const raw of entries) await client.append("INBOX", raw as Uint8Array);
    } finally {
      await client.logout();
    }
    assert.equal((await collect(second)).stored, messages.length);
    const after = await stored(second);

    const unchanged = [...before].filter(([, raw]) => raw[raw.length - 1] === 0x0a);
    // Dovecot serves a message without a final line break as it came: one of ours is one.
    assert.equal(unchanged.length, messages.length - 1, "one source has no final line break");
    for (const [hash, raw] of before) {
      if (raw[raw.length - 1] === 0x0a) {
        assert.ok(
          after.has(hash),
          `a message came back different:\n${new TextDecoder().decode(raw)}`,
        );
        assert.deepEqual(after.get(hash), raw);
      } else {
        // The one change: the line break its entry needed, and nothing else.
        const withBreak = new Uint8Array([...raw, 0x0a]);
        const found = [...after.values()].filter((r) =>
          r.length >= raw.length && raw.every((b, i) => r[i] === b)
        );
        assert.equal(found.length, 1, "the source without a final line break came back");
        assert.ok(
          [await sha256Hex(withBreak), await sha256Hex(new Uint8Array([...raw, 0x0d, 0x0a]))]
            .includes(await sha256Hex(found[0])),
        );
      }
    }
    const [again] = await second.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM messages WHERE parse_status <> 'parsed'",
    );
    assert.equal(again.n, unparsed.n, "what did not parse before does not parse now, and no more");
  } finally {
    await first.close();
    await second.close();
    await Deno.remove(dir, { recursive: true });
  }
});
