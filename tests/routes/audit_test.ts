/** `/audit`: filters, keyset paging, CSV and JSON export. */
import assert from "node:assert/strict";
import { harness } from "./support.ts";
import type { AuditEvent } from "../../src/domain/audit_events.ts";
import { recordEvents } from "../../src/store/audit.ts";
import { csvField } from "../../src/domain/csv.ts";

Deno.test("audit: filters and paging as fragments; 422 on bad filters", async () => {
  const h = await harness();
  try {
    for (let i = 0; i < 7; i++) {
      // Details outside the vocabulary's shapes: the page shows whatever a row holds.
      await recordEvents(h.db, [{
        event: i % 2 ? "sent" : "enqueued",
        at: new Date(Date.parse("2026-03-01T00:00:00Z") + i * 3_600_000),
        detail: { n: i },
      } as unknown as AuditEvent]);
    }
    await h.login();
    const frag = await h.request("/audit?event=enqueued&limit=2", {
      headers: { "HX-Request": "true" },
    });
    assert.equal(frag.status, 200);
    const html = await frag.text();
    assert.match(html, /^<div id="results"/);
    assert.match(html, /<code>n<\/code>: <code>6<\/code>[\s\S]*<code>n<\/code>: <code>4<\/code>/);
    const next = /<a rel="next" href="([^"]+)"/.exec(html)?.[1].replaceAll("&amp;", "&");
    assert.ok(next);
    const page2 = await (await h.request(next, { headers: { "HX-Request": "true" } })).text();
    assert.match(page2, /<code>n<\/code>: <code>2<\/code>[\s\S]*<code>n<\/code>: <code>0<\/code>/);
    assert.doesNotMatch(page2, /<code>n<\/code>: <code>[46]<\/code>/);
    const full = await (await h.request("/audit")).text();
    assert.match(full, /<option value="enqueued"/);
    const bad = await h.request("/audit?since=yesterday&event=DROP TABLE");
    assert.equal(bad.status, 422);
    assert.match(
      await bad.text(),
      /<html[\s\S]*<code>event<\/code>: deve ser o nome de um evento[\s\S]*<code>since<\/code>: deve ser uma data/,
    );
  } finally {
    await h.close();
  }
});

Deno.test("audit export: CSV with formulas neutralised, JSON, same filters", async () => {
  const h = await harness();
  try {
    await recordEvents(h.db, [
      {
        event: "reply_suppressed",
        at: new Date("2026-03-02T10:00:00Z"),
        detail: { subject: '=HYPERLINK("http://evil.test","x")', line: "a\nb" },
      },
      { event: "sent", at: new Date("2026-03-03T10:00:00Z"), detail: {} },
    ] as unknown as AuditEvent[]);
    await h.login();
    const csv = await h.request("/audit/export.csv?event=reply_suppressed");
    assert.equal(csv.headers.get("Content-Type"), "text/csv; charset=utf-8");
    assert.match(
      csv.headers.get("Content-Disposition") ?? "",
      /^attachment; filename="carteiro-audit-2026-03-10.csv"$/,
    );
    const text = await csv.text();
    const lines = text.split("\r\n");
    assert.equal(lines[0], "id,at,event,account_id,message_id,detail");
    assert.equal(lines.length, 3);
    assert.match(
      lines[1],
      /,2026-03-02T10:00:00.000Z,reply_suppressed,,,"\{.*""=HYPERLINK\(\\""http/,
    );
    assert.match(lines[1], /a\\nb/, "a line break inside a value stays escaped in its JSON");
    const json = await h.request("/audit/export.json?since=2026-03-03&until=2026-03-03");
    const events = await json.json();
    assert.deepEqual(events.map((e: { event: string }) => e.event), ["sent"]);
    // A cell starting with = + - @ is prefixed so that spreadsheets keep it as text.
    assert.equal(csvField("=1+1"), "'=1+1");
    assert.equal(csvField("@SUM(A1)"), "'@SUM(A1)");
    assert.equal(csvField('-2+3,"x"'), `"'-2+3,""x"""`);
    assert.equal(csvField("plain"), "plain");
    assert.equal((await h.request("/audit/export.csv?since=nope")).status, 422);
  } finally {
    await h.close();
  }
});
