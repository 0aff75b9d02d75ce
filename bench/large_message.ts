/**
 * One large message: a 31 MB PDF sent as base64 (42 MB of message) in a fresh Dovecot
 * mailbox, collected by `main.ts cli collect --once` (the `cli` task's settings and V8 flags) into
 * an empty PostgreSQL database and into the embedded PGlite. Prints the collector's peak RSS
 * (VmHWM) beside the message's size; the target is ≤ 300 MB + 3× the message on PostgreSQL.
 *
 *   deno run -A bench/large_message.ts [--mb 31] [--only postgres|pglite] [--json]
 */
import { deliverRaw } from "../tests/support/mailstack.ts";
import { createDataDir, runCollector } from "./ingest.ts";
import {
  dropMailbox,
  ensureMailstack,
  fixed,
  freshPostgresDatabase,
  freshUser,
  machine,
  table,
} from "./support.ts";

/**
 * A message with a short text and one attachment of `pdfBytes` bytes of pseudo-random content
 * (compressed PDF streams are as good as random), base64 in 76-character lines (RFC 2045 §6.8).
 */
export function largeMessage(pdfBytes: number, to: string, tag = "large"): Uint8Array {
  const pdf = new Uint8Array(pdfBytes);
  // xorshift32: fixed, fast, incompressible enough.
  let x = 0x9e3779b9;
  const words = new Uint32Array(pdf.buffer, 0, Math.floor(pdfBytes / 4));
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  pdf.set(new TextEncoder().encode("%PDF-1.7\n"));
  const b64 = base64Lines(pdf);
  const head = [
    `From: Cliente <cliente@example.test>`,
    `To: ${to}`,
    `Subject: Contrato assinado (${fixed(pdfBytes / 1e6)} MB)`,
    `Message-ID: <${tag}-${crypto.randomUUID()}@example.test>`,
    `Date: Tue, 3 Nov 2026 10:00:00 -0300`,
    `MIME-Version: 1.0`,
    `Content-Type: multipart/mixed; boundary="b1"`,
    ``,
    `--b1`,
    `Content-Type: text/plain; charset=utf-8`,
    ``,
    `Segue o contrato assinado.`,
    `--b1`,
    `Content-Type: application/pdf; name="contrato.pdf"`,
    `Content-Disposition: attachment; filename="contrato.pdf"`,
    `Content-Transfer-Encoding: base64`,
    ``,
    ``,
  ].join("\r\n");
  const tail = "\r\n--b1--\r\n";
  const enc = new TextEncoder();
  const h = enc.encode(head);
  const t = enc.encode(tail);
  const out = new Uint8Array(h.length + b64.length + t.length);
  out.set(h);
  out.set(b64, h.length);
  out.set(t, h.length + b64.length);
  return out;
}

function base64Lines(bytes: Uint8Array): Uint8Array {
  const alphabet = new TextEncoder().encode(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
  );
  const groups = Math.ceil(bytes.length / 3);
  const chars = groups * 4;
  const lines = Math.ceil(chars / 76);
  const out = new Uint8Array(chars + lines * 2 - 2);
  let o = 0;
  let col = 0;
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out[o++] = alphabet[(n >> 18) & 63];
    out[o++] = alphabet[(n >> 12) & 63];
    out[o++] = i + 1 < bytes.length ? alphabet[(n >> 6) & 63] : 61;
    out[o++] = i + 2 < bytes.length ? alphabet[n & 63] : 61;
    col += 4;
    if (col === 76 && o < out.length) {
      out[o++] = 13;
      out[o++] = 10;
      col = 0;
    }
  }
  return out.subarray(0, o);
}

export interface LargeMessageRun {
  store: "postgres" | "pglite";
  messageMb: number;
  peakRssMb: number;
  targetMb: number;
  seconds: number;
}

/** Collects one message of about `pdfMb` × 4/3 MB into each store; returns the peak RSS. */
export async function runLargeMessage(
  pdfMb: number,
  stores: Array<"postgres" | "pglite">,
  say: (l: string) => void = (l) => console.error(l),
): Promise<LargeMessageRun[]> {
  await ensureMailstack();
  const out: LargeMessageRun[] = [];
  for (const store of stores) {
    const box = await freshUser("large");
    const raw = largeMessage(Math.round(pdfMb * 1e6), box.address);
    const tmp = await Deno.makeTempDir({ prefix: "carteiro-large-" });
    const database = store === "postgres" ? await freshPostgresDatabase() : null;
    try {
      say(`large message: ${fixed(raw.length / 1e6, 1)} MB into ${store}`);
      await deliverRaw(box.user, [raw]);
      // The embedded database is created first, by another process: the figure is the message's
      // cost, not that of a first start (bench/ingest.ts --pglite measures that).
      if (!database) await createDataDir(box, `${tmp}/data`);
      const run = await runCollector(
        box,
        database ? { url: database.url } : { dataDir: `${tmp}/data` },
        { messages: 1, bytes: raw.length },
      );
      const messageMb = raw.length / 2 ** 20;
      out.push({
        store,
        messageMb,
        peakRssMb: run.peakRssMb,
        targetMb: 300 + 3 * messageMb,
        seconds: run.seconds,
      });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      await database?.drop();
      await dropMailbox(box.address);
    }
  }
  return out;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--mb");
  const mb = i >= 0 ? Number(Deno.args[i + 1]) : 31;
  const j = Deno.args.indexOf("--only");
  const only = j >= 0 ? Deno.args[j + 1] : null;
  const stores = (["postgres", "pglite"] as const).filter((s) => !only || s === only);
  const runs = await runLargeMessage(mb, [...stores]);
  if (Deno.args.includes("--json")) console.log(JSON.stringify(runs, null, 2));
  const m = await machine();
  console.log(`${m.cpu}, ${m.cores} cores, ${m.memory}; ${new Date().toISOString()}`);
  console.log(table(
    ["store", "message", "peak RSS", "target (300 MB + 3×)", "×message", "s"],
    runs.map((r) => [
      r.store,
      `${fixed(r.messageMb, 1)} MiB`,
      `${fixed(r.peakRssMb)} MiB`,
      `${fixed(r.targetMb)} MiB`,
      `${fixed(r.peakRssMb / r.messageMb, 1)}×`,
      fixed(r.seconds, 1),
    ]),
  ));
}
