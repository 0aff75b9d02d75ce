/** `/messages`: filters, search, keyset paging, fragments, detail, raw, HTML frame, override. */
import assert from "node:assert/strict";
import { eml, type Harness, harness, seedMessage } from "./support.ts";

const HX = { "HX-Request": "true", "HX-Target": "results" };

function ids(html: string): number[] {
  return [...html.matchAll(/<tr data-id="(\d+)">/g)].map((m) => Number(m[1]));
}

async function seedVariety(h: Harness) {
  const a = await seedMessage(
    h.db,
    eml({ subject: "Faturas de março", text: "Segue a fatura em anexo." }),
    {
      receivedAt: new Date("2026-03-01T09:00:00Z"),
      decision: { outcome: "reply", ruleName: "ack", reason: null, detail: null, trail: [] },
      outbox: { status: "sent" },
    },
  );
  const b = await seedMessage(
    h.db,
    eml({
      subject: "Invoices for March",
      text: "We received your invoices.",
      from: "bob@fornecedor.test",
    }),
    {
      receivedAt: new Date("2026-03-05T09:00:00Z"),
      kind: "forwarded",
      originalFrom: "carla@externo.test",
      decision: {
        outcome: "suppressed",
        ruleName: "ack",
        reason: "auto_submitted",
        detail: "Auto-Submitted: auto-replied",
        trail: [{ rule: "ack", hit: true, why: "kind is forwarded" }],
      },
    },
  );
  const c = await seedMessage(h.db, new TextEncoder().encode("garbage\x00\xff"), {
    receivedAt: new Date("2026-03-07T09:00:00Z"),
    failParse: "no headers",
  });
  return { a, b, c };
}

for (const kind of ["pglite", "postgres"] as const) {
  Deno.test(`filters and full-text search, each as an htmx fragment with Vary [${kind}]`, async () => {
    const h = await harness({ kind });
    try {
      const { a, b, c } = await seedVariety(h);
      await h.login();
      const list = async (q: string) => {
        const res = await h.request(`/messages${q}`, { headers: HX });
        assert.equal(res.status, 200, q);
        assert.match(res.headers.get("Vary") ?? "", /HX-Request/);
        const html = await res.text();
        assert.doesNotMatch(html, /<html/, "a fragment, not a page");
        assert.match(html, /^<div id="results"/);
        return ids(html);
      };
      assert.deepEqual(await list(""), [c, b, a]);
      assert.deepEqual(await list("?kind=forwarded"), [b]);
      assert.deepEqual(await list("?kind=direct"), [a]);
      assert.deepEqual(await list("?reply=suppressed"), [b]);
      assert.deepEqual(await list("?reply=reply"), [a]);
      assert.deepEqual(await list("?reply=undecided"), [c]);
      assert.deepEqual(await list("?unparsed=1"), [c]);
      assert.deepEqual(await list("?since=2026-03-02&until=2026-03-05"), [b]);
      assert.deepEqual(await list("?until=2026-03-01"), [a]);
      const [account] = await h.db.query<{ id: number }>("SELECT id FROM accounts");
      assert.deepEqual(await list(`?account=${account.id}&kind=direct`), [a]);
      assert.deepEqual(await list(`?account=${account.id + 1}`), []);
      // Portuguese and English stemming, addresses, phrases.
      assert.deepEqual(await list("?q=fatura"), [a]);
      assert.deepEqual(await list("?q=invoice"), [b]);
      assert.deepEqual(await list("?q=receive"), [b]);
      assert.deepEqual(await list("?q=bob%40fornecedor.test"), [b]);
      assert.deepEqual(await list("?q=mar%C3%A7o"), [a]);
      assert.deepEqual(await list("?q=%22your+invoices%22"), [b]);
      assert.deepEqual(await list("?q=fatura+-anexo"), []);
      assert.deepEqual(await list("?q=%27%3B+DROP+TABLE+messages%3B+--"), []);
      // The whole page has the form (filled in) around the same fragment.
      const page = await h.request("/messages?kind=forwarded&q=invoice");
      const html = await page.text();
      assert.match(html, /^<!doctype html><html lang=/);
      assert.match(html, /<option value="forwarded" selected>/);
      assert.match(html, /name="q" value="invoice"/);
      assert.match(html, /hx-push-url="true"/);
      assert.deepEqual(ids(html), [b]);
      // A history restore asks for the whole page.
      const restore = await h.request("/messages?kind=forwarded", {
        headers: { ...HX, "HX-History-Restore-Request": "true" },
      });
      assert.match(await restore.text(), /<html/);
      assert.deepEqual(h.errors, []);
    } finally {
      await h.close();
    }
  });
}

Deno.test("invalid filters: 422 with the form re-rendered and the problems listed", async () => {
  const h = await harness();
  try {
    await h.login();
    const res = await h.request("/messages?since=2026-13-45&kind=spam&q=ok");
    assert.equal(res.status, 422);
    const html = await res.text();
    assert.match(html, /<form id="filters"/);
    assert.match(html, /name="since" value="2026-13-45"/);
    assert.match(html, /<code>since<\/code>: deve ser uma data/);
    assert.match(html, /<code>kind<\/code>: deve ser forwarded ou direct/);
    const frag = await h.request("/messages?after=nonsense", { headers: HX });
    assert.equal(frag.status, 422);
    assert.match(await frag.text(), /^<div id="results".*<code>after<\/code>: não é um cursor/s);
  } finally {
    await h.close();
  }
});

Deno.test("keyset paging walks every message once, newest first, through the next links", async () => {
  const h = await harness();
  try {
    const all: number[] = [];
    const start = Date.parse("2026-02-01T00:00:00Z");
    for (let i = 0; i < 23; i++) {
      // Two messages share each timestamp: the id breaks the tie.
      const at = new Date(start + Math.floor(i / 2) * 3_600_000);
      all.push(await seedMessage(h.db, eml({ subject: `m${i}` }), { receivedAt: at }));
    }
    await h.login();
    const seen: number[] = [];
    let url = "/messages?limit=5";
    for (let pages = 0; pages < 10 && url; pages++) {
      const res = await h.request(url, { headers: HX });
      const html = await res.text();
      seen.push(...ids(html));
      const next = /<a rel="next" href="([^"]+)"/.exec(html);
      url = next ? next[1].replaceAll("&amp;", "&") : "";
    }
    const expected = [...all].sort((x, y) => y - x);
    assert.deepEqual(seen, expected);
    assert.doesNotMatch(url, /offset/i);
  } finally {
    await h.close();
  }
});

Deno.test("message page: headers, classification, trail, outbox rows, sandboxed HTML, raw", async () => {
  const h = await harness();
  try {
    const { b } = await seedVariety(h);
    const hostile = await seedMessage(
      h.db,
      eml({
        subject: `<script>alert("s")</script> Ol\u00e1`,
        from: `"<img src=x onerror=alert(1)>" <eve@evil.test>`,
        text: "<b>not bold</b>",
        html:
          `<p>Hi</p><script>alert(1)</script><img src="http://tracker.test/px.gif" alt="logo">` +
          `<a href="javascript:alert(1)">x</a><div hx-get="/api/v1/accounts" hx-trigger="load">h</div>`,
      }),
      { outbox: { status: "unknown" } },
    );
    await h.login();
    const page = await h.request(`/messages/${b}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Invoices for March/);
    assert.match(html, /bob@fornecedor.test/);
    assert.match(html, /carla@externo.test/, "original sender of the forward");
    assert.match(html, /auto_submitted/);
    assert.match(html, /<b>ack<\/b>: ✓ o tipo é encaminhada/);

    const evil = await (await h.request(`/messages/${hostile}`)).text();
    assert.ok(!evil.includes("<script>alert"), "the subject is escaped");
    assert.ok(evil.includes("&lt;script&gt;alert"));
    assert.ok(!evil.includes("<img src=x"), "the display name is escaped");
    assert.ok(evil.includes("&lt;b&gt;not bold&lt;/b&gt;"), "text is shown as text");
    const frame = /<iframe[^>]*>/.exec(evil)?.[0] ?? "";
    assert.match(frame, /sandbox="allow-popups allow-popups-to-escape-sandbox"/);
    assert.doesNotMatch(frame, /allow-scripts|allow-same-origin/);
    assert.match(frame, new RegExp(`src="/messages/${hostile}/html"`));
    assert.match(evil, /outbox\?status=unknown/);

    const body = await h.request(`/messages/${hostile}/html`);
    assert.equal(body.status, 200);
    const csp = body.headers.get("Content-Security-Policy") ?? "";
    assert.match(csp, /^default-src 'none'; img-src data: cid:; style-src 'unsafe-inline';/);
    assert.match(csp, /frame-ancestors 'self'/);
    assert.match(csp, /sandbox allow-popups allow-popups-to-escape-sandbox/);
    assert.equal(body.headers.get("X-Frame-Options"), "SAMEORIGIN");
    const sanitized = await body.text();
    for (const sink of [/<script/i, /javascript:/i, /hx-get/i, /tracker\.test/, /onerror/i]) {
      assert.doesNotMatch(sanitized, sink);
    }
    assert.match(sanitized, /\[logo\]/, "the remote image is a placeholder");
    // Remote images on request: a POST with the CSRF token, then the frame with this session's key.
    const asked = await h.post(`/messages/${hostile}/images`);
    const key = /images=([0-9a-f]+)/.exec(asked.headers.get("Location") ?? "")?.[1];
    const withImages = await h.request(`/messages/${hostile}/html?images=${key}`);
    assert.match(
      withImages.headers.get("Content-Security-Policy") ?? "",
      /img-src data: cid: https: http:/,
    );
    assert.match(await withImages.text(), /<img src="http:\/\/tracker.test\/px.gif"/);

    const raw = await h.request(`/messages/${hostile}/raw`);
    assert.equal(raw.headers.get("Content-Type"), "message/rfc822");
    assert.equal(
      raw.headers.get("Content-Disposition"),
      `attachment; filename="message-${hostile}.eml"`,
    );
    const [stored] = await h.db.query<{ raw: Uint8Array }>(
      "SELECT raw FROM messages WHERE id = $1",
      [
        hostile,
      ],
    );
    assert.deepEqual(new Uint8Array(await raw.arrayBuffer()), new Uint8Array(stored.raw));
    assert.equal((await h.request("/messages/99999")).status, 404);
    assert.equal((await h.request("/messages/99999/raw")).status, 404);
    assert.equal((await h.request("/messages/99999/html")).status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("classification override: 422 re-renders the section; success is audited", async () => {
  const h = await harness();
  try {
    const id = await seedMessage(h.db, eml({}));
    await h.login();
    const bad = await h.post(`/messages/${id}/classification`, {
      kind: "forwarded",
      original_from_address: "not an address",
    }, HX);
    assert.equal(bad.status, 422);
    const frag = await bad.text();
    assert.match(frag, /^<section id="classification">/);
    assert.match(frag, /<code>original_from_address<\/code>: um encaminhamento precisa/);
    const badPage = await h.post(`/messages/${id}/classification`, { kind: "spam" });
    assert.equal(badPage.status, 422);
    assert.match(
      await badPage.text(),
      /<html[\s\S]*<code>kind<\/code>: deve ser forwarded ou direct/,
    );

    const ok = await h.post(`/messages/${id}/classification`, {
      kind: "forwarded",
      original_from_address: "Real@Cliente.test",
      original_from_name: "Real",
    }, HX);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /real@cliente.test/);
    const [m] = await h.db.query<
      { kind: string; original_from_address: string; confidence: number }
    >(
      "SELECT kind, original_from_address, confidence FROM messages WHERE id = $1",
      [id],
    );
    assert.deepEqual({ ...m, confidence: Number(m.confidence) }, {
      kind: "forwarded",
      original_from_address: "real@cliente.test",
      confidence: 1,
    });
    const [e] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'classification_overridden'",
    );
    assert.equal(e.detail.by, "admin@example.test");
    // Without htmx: a redirect to the message.
    const plain = await h.post(`/messages/${id}/classification`, { kind: "direct" });
    assert.equal(plain.status, 303);
    assert.equal(plain.headers.get("Location"), `/messages/${id}`);
  } finally {
    await h.close();
  }
});
