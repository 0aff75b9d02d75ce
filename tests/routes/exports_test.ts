/**
 * `/messages/export` and `/outbox/export` (and their `/api/v1` twins): each format's content and
 * headers, the list's filter respected, CSV escaping, the raw source of an unparsable message kept
 * byte for byte, the viewer allowed, every export audited.
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { eml, type Harness, harness, seedMessage } from "./support.ts";
import { readMboxrd } from "../../src/domain/mbox.ts";
import { createUser } from "../../src/store/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";

async function seed(h: Harness) {
  const raws = {
    a: eml({
      subject: '=HYPERLINK("http://evil.test","x")',
      text: "From here the mbox quotes this line.\r\n>From there too.",
    }),
    b: eml({ subject: 'Invoices, "March"', from: "bob@fornecedor.test" }),
    // Not a message at all, without a final line break.
    c: new TextEncoder().encode("garbage\x00\xff\r\nFrom nowhere"),
  };
  const a = await seedMessage(h.db, raws.a, {
    receivedAt: new Date("2026-03-01T09:00:00Z"),
    decision: { outcome: "reply", ruleName: "ack", reason: null, detail: null, trail: [] },
    outbox: { status: "sent", subject: "@Re: pedido", recipient: "ana@cliente.test" },
  });
  const b = await seedMessage(h.db, raws.b, {
    receivedAt: new Date("2026-03-05T09:00:00Z"),
    kind: "forwarded",
    originalFrom: "carla@externo.test",
  });
  const c = await seedMessage(h.db, raws.c, {
    receivedAt: new Date("2026-03-07T09:00:00Z"),
    failParse: "no headers",
  });
  return { ids: { a, b, c }, raws };
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
};

async function exported(h: Harness, what: "messages" | "outbox") {
  const rows = await h.db.query<{ detail: Record<string, unknown> }>(
    "SELECT detail FROM audit_events WHERE event = 'exported' ORDER BY id",
  );
  return rows.map((r) => r.detail).filter((d) => d.what === what);
}

Deno.test("messages export: mbox holds each raw source byte for byte, newest first, filtered", async () => {
  const h = await harness();
  try {
    const { raws } = await seed(h);
    await h.login();
    const res = await h.request("/messages/export?format=mbox");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("Content-Type"), "application/mbox");
    assert.equal(
      res.headers.get("Content-Disposition"),
      'attachment; filename="carteiro-messages-2026-03-10.mbox"',
    );
    const mbox = new Uint8Array(await res.arrayBuffer());
    const text = new TextDecoder().decode(mbox);
    assert.match(text, /^From MAILER-DAEMON Sat Mar {2}7 09:00:00 2026\n/);
    assert.match(text, /\nFrom bob@fornecedor\.test Thu Mar {2}5 09:00:00 2026\n/);
    assert.match(text, /\r\n>From here the mbox[^\n]*\n>>From there too\./);
    const back = readMboxrd(mbox);
    assert.equal(back.length, 3);
    // The unparsable one gets the line break its entry needs; the others come back exactly.
    assert.deepEqual(back[0], concat([raws.c, new TextEncoder().encode("\n")]));
    assert.deepEqual(back[1], raws.b);
    assert.deepEqual(back[2], raws.a);

    const forwarded = await h.request("/messages/export?format=mbox&kind=forwarded");
    const only = readMboxrd(new Uint8Array(await forwarded.arrayBuffer()));
    assert.deepEqual(only, [raws.b]);

    const events = await exported(h, "messages");
    assert.deepEqual(events, [
      {
        by: "admin@example.test",
        what: "messages",
        format: "mbox",
        filter: {},
        count: 3,
        complete: true,
      },
      {
        by: "admin@example.test",
        what: "messages",
        format: "mbox",
        filter: { kind: "forwarded" },
        count: 1,
        complete: true,
      },
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("messages export: a zip of .eml files with the raw sources, filtered", async () => {
  const h = await harness();
  try {
    const { ids, raws } = await seed(h);
    await h.login();
    const res = await h.request("/messages/export?format=zip&until=2026-03-06");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("Content-Type"), "application/zip");
    assert.equal(
      res.headers.get("Content-Disposition"),
      'attachment; filename="carteiro-messages-2026-03-10.zip"',
    );
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    assert.deepEqual(Object.keys(files), [
      `20260305T090000Z-${ids.b}.eml`,
      `20260301T090000Z-${ids.a}.eml`,
    ]);
    assert.deepEqual(files[`20260305T090000Z-${ids.b}.eml`], raws.b);
    assert.deepEqual(files[`20260301T090000Z-${ids.a}.eml`], raws.a);
    const unparsed = unzipSync(
      new Uint8Array(
        await (await h.request("/messages/export?format=zip&unparsed=1")).arrayBuffer(),
      ),
    );
    assert.deepEqual(Object.values(unparsed), [raws.c], "the stored bytes, exactly");
    const empty = await h.request("/messages/export?format=zip&q=nothingmatchesthis");
    assert.deepEqual(unzipSync(new Uint8Array(await empty.arrayBuffer())), {});
  } finally {
    await h.close();
  }
});

Deno.test("messages and outbox export as CSV: the list's columns, RFC 4180, formulas as text", async () => {
  const h = await harness();
  try {
    const { ids } = await seed(h);
    await h.login();
    const res = await h.request("/messages/export?format=csv");
    assert.equal(res.headers.get("Content-Type"), "text/csv; charset=utf-8");
    assert.equal(
      res.headers.get("Content-Disposition"),
      'attachment; filename="carteiro-messages-2026-03-10.csv"',
    );
    const lines = (await res.text()).split("\r\n");
    assert.equal(
      lines[0],
      "id,received_at,account,mailbox,from_address,from_name,subject,kind,confidence," +
        "original_from,parse_status,reply_status,rule,reason,outbox_status",
    );
    assert.equal(lines.length, 5, "a header, three records, and the final CRLF");
    assert.match(lines[1], new RegExp(`^${ids.c},2026-03-07T09:00:00.000Z,atendimento,INBOX,`));
    assert.match(lines[1], /,failed,undecided,,,$/);
    assert.match(lines[2], /,"Invoices, ""March""",forwarded,0\.9,carla@externo\.test,parsed,/);
    assert.match(lines[3], /,"'=HYPERLINK\(""http:\/\/evil\.test"",""x""\)",direct,/);
    assert.match(lines[3], /,reply,ack,,sent$/);

    const reply = (await (await h.request("/messages/export?format=csv&reply=reply")).text())
      .split("\r\n");
    assert.equal(reply.length, 3);
    assert.match(reply[1], new RegExp(`^${ids.a},`));

    const outbox = await h.request("/outbox/export?format=csv&status=sent");
    assert.equal(outbox.status, 200);
    assert.equal(
      outbox.headers.get("Content-Disposition"),
      'attachment; filename="carteiro-outbox-2026-03-10.csv"',
    );
    const rows = (await outbox.text()).split("\r\n");
    assert.match(rows[0], /^id,status,created_at,sent_at,account_id,message_id,rule,recipient,/);
    assert.equal(rows.length, 3);
    assert.match(rows[1], new RegExp(`,${ids.a},ack,ana@cliente\\.test,,'@Re: pedido,`));
    const none = await (await h.request("/outbox/export?format=csv&status=failed")).text();
    assert.equal(none.split("\r\n").length, 2, "the header alone");
    assert.equal((await exported(h, "outbox")).length, 2);

    // Refused filters and formats, before anything is read or audited.
    const bad = await h.request("/messages/export?format=pdf&since=yesterday");
    assert.equal(bad.status, 422);
    assert.match(await bad.text(), /format: must be one of mbox, zip, csv[\s\S]*since:/);
    assert.equal((await h.request("/messages/export")).status, 422);
    assert.equal((await h.request("/outbox/export?format=mbox")).status, 422);
    assert.equal((await exported(h, "messages")).length, 2);
  } finally {
    await h.close();
  }
});

Deno.test("export links carry the list's filter; a viewer may export; the API with a read token", async () => {
  const h = await harness();
  try {
    const { raws } = await seed(h);
    await createUser(
      h.db,
      "viewer@example.test",
      await hashPassword("uma senha comprida o bastante"),
      new Date(),
      "viewer",
    );
    await h.login({ email: "viewer@example.test", password: "uma senha comprida o bastante" });
    const page = await (await h.request("/messages?kind=forwarded&q=invoices")).text();
    for (const f of ["mbox", "zip", "csv"]) {
      assert.match(
        page,
        new RegExp(`href="/messages/export\\?kind=forwarded&amp;q=invoices&amp;format=${f}"`),
      );
    }
    const outboxPage = await (await h.request("/outbox?status=sent")).text();
    assert.match(outboxPage, /href="\/outbox\/export\?status=sent&amp;format=csv"/);
    const res = await h.request("/messages/export?kind=forwarded&q=invoices&format=mbox");
    assert.equal(res.status, 200);
    assert.deepEqual(readMboxrd(new Uint8Array(await res.arrayBuffer())), [raws.b]);

    const token = await h.apiToken("reader", { scopes: ["read"] });
    const auth = { Authorization: `Bearer ${token}` };
    const api = await h.request("/api/v1/messages/export?format=mbox&kind=forwarded", {
      headers: auth,
    });
    assert.equal(api.status, 200);
    assert.deepEqual(readMboxrd(new Uint8Array(await api.arrayBuffer())), [raws.b]);
    const csv = await h.request("/api/v1/outbox/export?format=csv", { headers: auth });
    assert.equal(csv.status, 200);
    assert.equal((await csv.text()).split("\r\n").length, 3);
    const bad = await h.request("/api/v1/messages/export?format=xml", { headers: auth });
    assert.equal(bad.status, 422);
    assert.equal((await bad.json()).error.code, "invalid_request");
    const by = (await exported(h, "messages")).map((d) => d.by);
    assert.deepEqual(by, ["viewer@example.test", "token:reader"]);
  } finally {
    await h.close();
  }
});

Deno.test("an export whose reader goes away stops reading and is audited as incomplete", async () => {
  const h = await harness();
  try {
    // Six messages of 200 KB: more than the stream reads ahead (256 KB) before it is asked.
    for (let i = 0; i < 6; i++) {
      await seedMessage(h.db, eml({ subject: `Grande ${i}`, text: `${i}`.repeat(200_000) }), {
        receivedAt: new Date(Date.UTC(2026, 2, 1 + i)),
      });
    }
    await h.login();
    const res = await h.request("/messages/export?format=mbox");
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.length > 0);
    await reader.cancel();
    let events: Record<string, unknown>[] = [];
    // The audit row is written as the cancel reaches the stream.
    for (let waited = 0; waited < 30_000 && events.length === 0; waited += 50) {
      events = await exported(h, "messages");
      if (events.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(events.length, 1);
    assert.equal(events[0].complete, false);
    assert.ok((events[0].count as number) < 6, `read ${events[0].count} of 6 before the cancel`);
  } finally {
    await h.close();
  }
});
