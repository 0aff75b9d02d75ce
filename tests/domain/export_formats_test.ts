/** mboxrd quoting and reading, CSV fields and records, the ZIP64 end of a large zip: pure. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { unzipSync } from "fflate";
import { asctime, mboxrdEntry, mboxSeparator, readMboxrd } from "../../src/domain/mbox.ts";
import { csvField, csvLine } from "../../src/domain/csv.ts";
import { zipEndRecords } from "../../src/domain/zip_end.ts";
import { streamedZip } from "../../src/actions/exports.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const AT = new Date("2026-03-05T09:04:05Z");

Deno.test("mboxrd: a separator line, From lines quoted with one more '>', an empty line after", () => {
  const raw = bytes(
    "From: a@b.test\r\nSubject: x\r\n\r\nFrom here on\r\n>From there\r\n>>From afar\r\nnot From\r\n",
  );
  assert.equal(
    text(mboxrdEntry(raw, "a@b.test", AT)),
    "From a@b.test Thu Mar  5 09:04:05 2026\n" +
      "From: a@b.test\r\nSubject: x\r\n\r\n>From here on\r\n>>From there\r\n>>>From afar\r\n" +
      "not From\r\n\n",
  );
  // "From:" (a header) is not a From_ line; only "From " is.
  assert.equal(asctime(new Date("2026-12-25T23:59:59Z")), "Fri Dec 25 23:59:59 2026");
  assert.equal(mboxSeparator(null, AT), "From MAILER-DAEMON Thu Mar  5 09:04:05 2026\n");
  assert.equal(mboxSeparator("a b@c", AT), "From MAILER-DAEMON Thu Mar  5 09:04:05 2026\n");
  // A source without a final line break gets one before the empty line.
  assert.equal(text(mboxrdEntry(bytes("garbage"), null, AT)).endsWith("\ngarbage\n\n"), true);
});

Deno.test("mboxrd: reading gives every message back byte for byte", () => {
  const line = fc.oneof(
    fc.constantFrom("From ", ">From ", ">>From x", "From: h", "", "\r", " From "),
    fc.string({ maxLength: 12 }),
  );
  const message = fc.array(line, { minLength: 1, maxLength: 8 }).map((ls) =>
    bytes(ls.join(ls.length % 2 ? "\r\n" : "\n") + "\r\n")
  );
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), (messages) => {
      const parts = messages.map((m, i) => mboxrdEntry(m, i % 2 ? null : "s@x.test", AT));
      const mbox = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) mbox.set(p, (o += p.length) - p.length);
      const back = readMboxrd(mbox);
      assert.equal(back.length, messages.length);
      back.forEach((m, i) => assert.deepEqual(m, messages[i]));
    }),
    { numRuns: 300 },
  );
});

Deno.test("CSV: RFC 4180 quoting, formulas kept as text, CRLF records", () => {
  assert.equal(csvField("=1+1"), "'=1+1");
  assert.equal(csvField("+5"), "'+5");
  assert.equal(csvField("-2"), "'-2");
  assert.equal(csvField("@SUM(A1)"), "'@SUM(A1)");
  assert.equal(csvField('say "hi", then'), '"say ""hi"", then"');
  assert.equal(csvField("two\nlines"), '"two\nlines"');
  assert.equal(csvField("plain"), "plain");
  assert.equal(csvLine([1, null, "=x", "a,b"]), `1,,'=x,"a,b"\r\n`);
});

Deno.test("zip: past 65,534 files the ZIP64 end record carries the count", () => {
  const small = new DataView(zipEndRecords(3, 150, 4096).buffer);
  assert.equal(small.byteLength, 22);
  assert.equal(small.getUint32(0, true), 0x06054b50);
  assert.equal(small.getUint16(8, true), 3);
  assert.equal(small.getUint16(10, true), 3);
  assert.equal(small.getUint32(12, true), 150);
  assert.equal(small.getUint32(16, true), 4096);
  // 0xFFFF itself would read as "see the ZIP64 record": from there on, the ZIP64 records.
  for (const files of [0xffff, 66_000]) {
    const end = zipEndRecords(files, 3_500_000, 9_000_000);
    const v = new DataView(end.buffer);
    assert.equal(end.length, 56 + 20 + 22);
    assert.equal(v.getUint32(0, true), 0x06064b50);
    assert.equal(v.getBigUint64(24, true), BigInt(files));
    assert.equal(v.getBigUint64(32, true), BigInt(files));
    assert.equal(v.getBigUint64(40, true), 3_500_000n);
    assert.equal(v.getBigUint64(48, true), 9_000_000n);
    // The locator points at the ZIP64 record, right after the central directory.
    assert.equal(v.getUint32(56, true), 0x07064b50);
    assert.equal(v.getBigUint64(64, true), 12_500_000n);
    assert.equal(v.getUint32(76, true), 0x06054b50);
    assert.equal(v.getUint16(84, true), 0xffff);
    assert.equal(v.getUint16(86, true), 0xffff);
    assert.equal(v.getUint32(88, true), 3_500_000);
    assert.equal(v.getUint32(92, true), 9_000_000);
  }
});

Deno.test("a streamed zip packs its directory: 66,000 files read back, names and bytes as written", () => {
  const zip = streamedZip();
  const chunks: Uint8Array[] = [];
  const files = 66_000;
  for (let i = 0; i < files; i++) {
    chunks.push(...zip.add(`${i}.eml`, AT.getTime(), bytes(`m${i}\r\n`)));
  }
  chunks.push(...zip.add("ação.eml", AT.getTime(), bytes("acentos")));
  chunks.push(...zip.end());
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) out.set(c, (o += c.length) - c.length);
  const read = unzipSync(out);
  assert.equal(Object.keys(read).length, files + 1);
  assert.equal(text(read["0.eml"]), "m0\r\n");
  assert.equal(text(read["65999.eml"]), "m65999\r\n");
  assert.equal(text(read["ação.eml"]), "acentos");
});

Deno.test("a small streamed zip has the classic end record only", () => {
  const zip = streamedZip();
  const chunks = [
    ...zip.add("a.eml", AT.getTime(), bytes("a")),
    ...zip.add("b.eml", AT.getTime(), bytes("bb")),
  ];
  chunks.push(...zip.end());
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) out.set(c, (o += c.length) - c.length);
  const end = new DataView(out.buffer, out.length - 22);
  assert.equal(end.getUint32(0, true), 0x06054b50);
  assert.equal(end.getUint16(10, true), 2);
  assert.deepEqual(Object.keys(unzipSync(out)).sort(), ["a.eml", "b.eml"]);
});
