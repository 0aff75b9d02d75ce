/**
 * Export memory at scale: COUNT messages (default 100,000) in a fresh PostgreSQL database,
 * exported as mbox and as a zip of `.eml` files by `exportMessages` (src/actions/exports.ts), the
 * way `/messages/export` and `cli export` do, into a file. Each export runs in a child process of
 * its own, which samples its resident set (RSS, /proc/self/status) every 20 ms and prints the peak
 * when the 10,000th message has been read and at the end: an export that holds one page at a time
 * has the same peak at both.
 *
 * The messages are made on the server (`INSERT … SELECT … FROM generate_series`): raw sources of
 * 1.5–33 KB (a text part, and for a third of them a base64 "attachment"), some with lines that
 * start with "From " (quoted by the mbox), dates over the last year, about a third forwarded.
 *
 *   deno run -A bench/export.ts [COUNT]        prints a table for bench/RESULTS.md
 */
import { openPostgres } from "../src/store/postgres_db.ts";
import { migrate, readMigrations } from "../src/store/migrate.ts";
import { createAccount } from "../src/store/accounts_admin.ts";
import type { Db, Queryable, Row } from "../src/store/db.ts";
import { exportMessages, type MessageExportFormat } from "../src/actions/exports.ts";
import { cliTask, fixed, freshPostgresDatabase, machine, table } from "./support.ts";

const say = (line: string) => console.error(line);

/** The process's resident set in MB, as the kernel counts it. */
async function rssMb(): Promise<number> {
  const status = await Deno.readTextFile("/proc/self/status");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** A Queryable that counts the raw sources read, so the child knows how far the export is. */
function counting(db: Db, onRaw: (n: number) => void): Db {
  return new Proxy(db, {
    get(target, key, receiver) {
      if (key !== "query") return Reflect.get(target, key, receiver);
      return async <T extends Row>(text: string, params?: unknown[]) => {
        const rows = await target.query<T>(text, params);
        if (text.startsWith("SELECT id, raw FROM messages")) onRaw(rows.length);
        return rows;
      };
    },
  }) as Db;
}

/** The child: one export into `out`; prints one JSON line. */
async function child(url: string, format: MessageExportFormat, out: string) {
  const db = openPostgres({ url, max: 2 });
  let messages = 0;
  let peak = await rssMb();
  const start = peak;
  let peakAt10k: number | null = null;
  const sampler = setInterval(async () => {
    peak = Math.max(peak, await rssMb());
  }, 20);
  const q: Queryable = counting(db, (n) => {
    messages += n;
  });
  const deps = { db: q as Db, now: () => new Date() };
  const t0 = performance.now();
  const file = await Deno.open(out, { write: true, create: true, truncate: true });
  let bytes = 0;
  const reader = exportMessages(deps, {}, format, { filter: {}, by: "bench" }).getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    let w = 0;
    while (w < value.length) w += await file.write(value.subarray(w));
    bytes += value.length;
    if (peakAt10k === null && messages >= 10_000) {
      peak = Math.max(peak, await rssMb());
      peakAt10k = peak;
    }
  }
  file.close();
  clearInterval(sampler);
  peak = Math.max(peak, await rssMb());
  const seconds = (performance.now() - t0) / 1000;
  await db.close();
  console.log(JSON.stringify({ format, messages, bytes, seconds, start, peakAt10k, peak }));
}

/** Messages lo..hi, parsed and classified as the pipeline leaves them, with raw sources. */
function fillSql(lo: number, hi: number, accountId: number, count: number): string {
  return `
WITH s AS (
  SELECT g,
    now() - interval '365 days' + (g * (365.0 * 86400 / ${count})) * interval '1 second' AS at,
    (hashint8extended(g, 1) & 2147483647) % 3 = 0 AS fwd,
    (hashint8extended(g, 2) & 2147483647) % 3 = 0 AS attach,
    (hashint8extended(g, 3) & 2147483647) % 8 = 0 AS fromline,
    1 + (hashint8extended(g, 4) & 2147483647) % 24 AS kb
  FROM generate_series(${lo}, ${hi}) g
), t AS (
  SELECT s.*,
    'cliente' || (g % 5000) || '@empresa' || (g % 97) || '.example' AS addr,
    (CASE WHEN fwd THEN 'Fwd: ' ELSE '' END) || 'Pedido ' || g || ' sobre a fatura de ' ||
      to_char(at, 'TMMonth') AS subject,
    'Olá, bom dia.' || E'\\r\\n\\r\\nSegue o pedido ' || g || ' com a fatura em anexo.' ||
      (CASE WHEN fromline THEN E'\\r\\nFrom the desk of the buyer:\\r\\n>From earlier mail' ELSE '' END)
      || E'\\r\\n\\r\\nAtenciosamente,\\r\\nCliente ' || g || E'\\r\\n' AS body
  FROM s
), u AS (
  SELECT t.*,
    'Message-ID: <' || g || '.bench@empresa.example>' || E'\\r\\nFrom: Cliente ' || g || ' <' ||
      addr || E'>\\r\\nTo: Atendimento <atendimento@carteiro.example>\\r\\nSubject: ' || subject ||
      E'\\r\\nDate: ' || to_char(at, 'Dy, DD Mon YYYY HH24:MI:SS +0000') ||
      E'\\r\\nMIME-Version: 1.0\\r\\nContent-Type: multipart/mixed; boundary="b' || g || E'"\\r\\n\\r\\n' ||
      '--b' || g || E'\\r\\nContent-Type: text/plain; charset=utf-8\\r\\n\\r\\n' || body ||
      (CASE WHEN attach THEN '--b' || g || E'\\r\\nContent-Type: application/pdf; name="fatura-' || g ||
        E'.pdf"\\r\\nContent-Transfer-Encoding: base64\\r\\n\\r\\n' ||
        (SELECT string_agg(encode(sha512(int8send(g * 1000 + k)), 'base64'), E'\\r\\n')
         FROM generate_series(1, kb * 11) k) || E'\\r\\n' ELSE '' END) ||
      '--b' || g || E'--\\r\\n' AS rawtext
  FROM t
)
INSERT INTO messages (account_id, mailbox, uidvalidity, uid, content_sha256, raw, size,
  internal_date, collected_at, parse_status, parsed_at, message_id, from_address, from_name,
  subject, sent_date, text_body, kind, confidence, original_from_address, classified_at)
SELECT ${accountId}, 'INBOX', 1, g, encode(sha256(convert_to(rawtext, 'UTF8')), 'hex'),
  convert_to(rawtext, 'UTF8'), octet_length(convert_to(rawtext, 'UTF8')), at,
  at + interval '40 seconds', 'parsed', at + interval '41 seconds',
  '<' || g || '.bench@empresa.example>', addr, 'Cliente ' || g, subject, at, body,
  CASE WHEN fwd THEN 'forwarded' ELSE 'direct' END, 0.9,
  CASE WHEN fwd THEN 'original' || g || '@externo.example' END, at + interval '41 seconds'
FROM u`;
}

async function main() {
  if (Deno.args[0] === "--child") {
    return await child(Deno.args[1], Deno.args[2] as MessageExportFormat, Deno.args[3]);
  }
  const count = Number(Deno.args[0] ?? 100_000);
  if (!Number.isInteger(count) || count < 10_000) {
    console.error("usage: deno run -A bench/export.ts [COUNT ≥ 10000]");
    Deno.exit(2);
  }
  const fresh = await freshPostgresDatabase();
  const db = openPostgres({ url: fresh.url, max: 2 });
  const dir = await Deno.makeTempDir({ prefix: "carteiro-bench-export-" });
  try {
    await migrate(db, await readMigrations());
    const accountId = await createAccount(db, {
      name: "atendimento",
      address: "atendimento@carteiro.example",
      displayName: "Atendimento",
      enabled: true,
      imapHost: "imap.carteiro.example",
      imapPort: 993,
      imapTls: "tls",
      imapUser: "atendimento@carteiro.example",
      mailboxes: ["INBOX"],
      smtpHost: null,
      smtpPort: null,
      smtpTls: "tls",
      smtpUser: null,
      copyToSent: false,
      imapPassEnc: null,
      smtpPassEnc: null,
    }, new Date(Date.now() - 400 * 86400_000));
    say(`filling ${fixed(count)} messages…`);
    const t0 = performance.now();
    for (let lo = 1; lo <= count; lo += 10_000) {
      await db.query(fillSql(lo, Math.min(count, lo + 9_999), accountId, count));
      say(`  ${fixed(Math.min(count, lo + 9_999))} (${fixed((performance.now() - t0) / 1000)} s)`);
    }
    await db.exec("VACUUM (ANALYZE) messages");
    const [{ mb }] = await db.query<{ mb: number }>(
      "SELECT (sum(octet_length(raw)) / 1048576)::int AS mb FROM messages",
    );
    say(`${fixed(count)} messages, ${mb} MB of raw sources`);
    // The children run as `deno task cli` runs the service: its environment and V8 flags.
    const task = await cliTask();
    const rows: Array<Array<string | number>> = [];
    for (const format of ["mbox", "zip"] as const) {
      say(`exporting as ${format}…`);
      const out = `${dir}/export.${format}`;
      const run = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          ...task.v8Flags,
          import.meta.filename!,
          "--child",
          fresh.url,
          format,
          out,
        ],
        env: task.env,
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (!run.success) throw new Error(`the ${format} export failed`);
      const r = JSON.parse(new TextDecoder().decode(run.stdout));
      if (r.messages !== count) throw new Error(`${format}: ${r.messages} of ${count} exported`);
      rows.push([
        format,
        fixed(r.messages),
        fixed(r.bytes / 1048576),
        fixed(r.seconds, 1),
        fixed(r.start),
        fixed(r.peakAt10k),
        fixed(r.peak),
      ]);
      await Deno.remove(out);
    }
    const m = await machine();
    console.log(`\n${new Date().toISOString()} · ${m.cpu}, ${m.cores} cores, ${m.memory}\n`);
    console.log(table(
      [
        "format",
        "messages",
        "file MB",
        "seconds",
        "RSS at start MB",
        "peak RSS at 10,000 MB",
        `peak RSS at ${fixed(count)} MB`,
      ],
      rows,
    ));
  } finally {
    await db.close();
    await fresh.drop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

await main();
