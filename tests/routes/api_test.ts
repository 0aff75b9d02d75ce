/** `/api/v1` and `/metrics`: Bearer tokens, JSON shapes, stable error codes. */
import assert from "node:assert/strict";
import { eml, type Harness, harness, NOW, outboxIdOf, seedMessage } from "./support.ts";
import { writeIdleHealth, writeProgress } from "../../src/store/account_health.ts";
import { heartbeatIdleLeases } from "../../src/store/idle_leases.ts";

async function call(h: Harness, token: string | null, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return await h.app.request(`http://localhost${path}`, { ...init, headers });
}

Deno.test("API: 401 JSON without a valid token; a session cookie is not enough", async () => {
  const h = await harness();
  try {
    await h.login();
    for (
      const [what, res] of [
        ["no token", await call(h, null, "/api/v1/messages")],
        ["bad token", await call(h, "crt_" + "z".repeat(43), "/api/v1/messages")],
        ["cookie only", await h.request("/api/v1/messages")],
        ["metrics", await call(h, null, "/metrics")],
      ] as const
    ) {
      assert.equal(res.status, 401, what);
      assert.equal(res.headers.get("Content-Type"), "application/json");
      assert.equal(res.headers.get("WWW-Authenticate"), 'Bearer realm="carteiro"');
      const body = await res.json();
      assert.equal(body.error.code, "unauthorized", what);
      assert.equal(typeof body.error.message, "string");
    }
    // A token from the UI works once created, and stops when revoked.
    const created = await h.post("/tokens", { name: "grafana" }, { "HX-Request": "true" });
    const token = /<code class="token">([^<]+)<\/code>/.exec(await created.text())?.[1] ?? "";
    assert.ok(token.startsWith("crt_"));
    assert.equal((await call(h, token, "/api/v1/stats")).status, 200);
    const list = await (await h.request("/tokens")).text();
    assert.ok(!list.includes(token), "the value is shown once only");
    const [{ id }] = await h.db.query<{ id: number }>("SELECT id FROM api_tokens");
    assert.equal((await h.post(`/tokens/${id}/revoke`)).status, 303);
    assert.equal((await call(h, token, "/api/v1/stats")).status, 401);
    const dup = await h.post("/tokens", { name: "grafana" });
    assert.equal(dup.status, 422);
  } finally {
    await h.close();
  }
});

Deno.test("API: messages with filters and cursor, detail, raw", async () => {
  const h = await harness();
  try {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        await seedMessage(
          h.db,
          eml({ subject: `Pedido ${i}`, text: i === 3 ? "boleto vencido" : "ok" }),
          {
            receivedAt: new Date(Date.parse("2026-03-01T00:00:00Z") + i * 60_000),
            decision: { outcome: "no_rule", ruleName: null, reason: null, detail: null, trail: [] },
          },
        ),
      );
    }
    const token = await h.apiToken();
    const first = await (await call(h, token, "/api/v1/messages?limit=2")).json();
    assert.deepEqual(first.data.map((m: { id: number }) => m.id), [ids[4], ids[3]]);
    assert.equal(typeof first.next_cursor, "string");
    const m = first.data[0];
    assert.deepEqual(Object.keys(m).sort(), [
      "account",
      "account_id",
      "confidence",
      "decision",
      "from",
      "id",
      "kind",
      "mailbox",
      "original_from",
      "outbox_status",
      "parse_status",
      "received_at",
      "subject",
    ]);
    assert.deepEqual(m.decision, { outcome: "no_rule", rule: null, reason: null });
    const second =
      await (await call(h, token, `/api/v1/messages?limit=2&cursor=${first.next_cursor}`)).json();
    assert.deepEqual(second.data.map((x: { id: number }) => x.id), [ids[2], ids[1]]);
    const search = await (await call(h, token, "/api/v1/messages?q=boleto")).json();
    assert.deepEqual(search.data.map((x: { id: number }) => x.id), [ids[3]]);
    const bad = await call(h, token, "/api/v1/messages?kind=x&limit=100000");
    assert.equal(bad.status, 422);
    const err = await bad.json();
    assert.equal(err.error.code, "invalid_request");
    assert.equal(err.error.details.length, 2);

    const detail = await (await call(h, token, `/api/v1/messages/${ids[0]}`)).json();
    assert.equal(detail.data.subject, "Pedido 0");
    assert.equal(detail.data.classification.kind, "direct");
    assert.equal(detail.data.decision.outcome, "no_rule");
    assert.deepEqual(detail.data.outbox, []);
    const raw = await call(h, token, `/api/v1/messages/${ids[0]}/raw`);
    assert.equal(raw.headers.get("Content-Type"), "message/rfc822");
    assert.match(await raw.text(), /^From: Ana Souza/);
    const missing = await call(h, token, "/api/v1/messages/424242");
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");
    assert.equal((await (await call(h, token, "/api/v1/nothing")).json()).error.code, "not_found");
  } finally {
    await h.close();
  }
});

Deno.test("API: outbox list and actions, with 409 wrong_status and audit by token name", async () => {
  const h = await harness();
  try {
    const o = await outboxIdOf(
      h.db,
      await seedMessage(h.db, eml({}), { outbox: { status: "unknown" } }),
    );
    const token = await h.apiToken("ops");
    const list = await (await call(h, token, "/api/v1/outbox?status=unknown")).json();
    assert.deepEqual(list.data.map((r: { id: number }) => r.id), [o]);
    assert.equal(list.next_before, null);
    const notJson = await call(h, token, `/api/v1/outbox/${o}/settle`, {
      method: "POST",
      body: "{",
    });
    assert.equal(notJson.status, 400);
    assert.equal((await notJson.json()).error.code, "invalid_json");
    const badChoice = await call(h, token, `/api/v1/outbox/${o}/settle`, {
      method: "POST",
      body: JSON.stringify({ choice: "whatever" }),
    });
    assert.equal(badChoice.status, 422);
    // No CSRF token needed: no cookie is involved.
    const ok = await call(h, token, `/api/v1/outbox/${o}/settle`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ choice: "send_again" }),
    });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).data.status, "pending");
    const again = await call(h, token, `/api/v1/outbox/${o}/settle`, {
      method: "POST",
      body: JSON.stringify({ choice: "sent" }),
    });
    assert.equal(again.status, 409);
    assert.equal((await again.json()).error.code, "wrong_status");
    const cancel = await call(h, token, `/api/v1/outbox/${o}/cancel`, { method: "POST" });
    assert.equal((await cancel.json()).data.status, "cancelled");
    const audit = await (await call(h, token, "/api/v1/audit?event=settled")).json();
    assert.equal(audit.data.length, 1);
    assert.equal(audit.data[0].detail.by, "token:ops");
    assert.deepEqual(Object.keys(audit.data[0]).sort(), [
      "account_id",
      "at",
      "detail",
      "event",
      "id",
      "message_id",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("API: rules CRUD, order, preview and dry-run", async () => {
  const h = await harness();
  try {
    const msg = await seedMessage(h.db, eml({ subject: "Oi" }), {
      receivedAt: new Date("2026-03-09T00:00:00Z"),
    });
    const token = await h.apiToken();
    const json = (method: string, body: unknown) => ({ method, body: JSON.stringify(body) });
    const def = {
      name: "ack",
      when: { kind: "direct" },
      reply: { to: "sender", text: "Recebemos, {{from_name}}." },
    };
    const created = await call(h, token, "/api/v1/rules", json("POST", { definition: def }));
    assert.equal(created.status, 201);
    const rule = (await created.json()).data;
    assert.equal(rule.definition.reply.subject, "Re: {{subject}}", "stored as the export format");
    const second = await call(h, token, "/api/v1/rules", json("POST", { ...def, name: "two" }));
    assert.equal(second.status, 201);
    const two = (await second.json()).data;
    const invalid = await call(
      h,
      token,
      "/api/v1/rules",
      json("POST", { name: "bad", when: { x: 1 }, ignore: true }),
    );
    assert.equal(invalid.status, 422);
    assert.match((await invalid.json()).error.details[0], /unknown condition/);

    const order = await call(
      h,
      token,
      "/api/v1/rules/order",
      json("PUT", { ids: [two.id, rule.id] }),
    );
    assert.deepEqual((await order.json()).data.map((r: { name: string }) => r.name), [
      "two",
      "ack",
    ]);
    assert.equal(
      (await call(h, token, "/api/v1/rules/order", json("PUT", { ids: [two.id] }))).status,
      422,
    );

    const put = await call(
      h,
      token,
      `/api/v1/rules/${rule.id}`,
      json("PUT", { ...def, priority: 3 }),
    );
    assert.equal((await put.json()).data.priority, 3);
    const off = await call(
      h,
      token,
      `/api/v1/rules/${rule.id}/enabled`,
      json("POST", { enabled: false }),
    );
    assert.equal((await off.json()).data.definition.enabled, false);

    const preview = await call(
      h,
      token,
      "/api/v1/rules/preview",
      json("POST", { definition: def, message_id: msg }),
    );
    const p = (await preview.json()).data;
    assert.equal(p.outcome, "reply");
    assert.equal(p.text, "Recebemos, Ana Souza.");
    const run = await call(
      h,
      token,
      "/api/v1/rules/dry-run",
      json("POST", { definition: def, days: 7, replaces_id: rule.id }),
    );
    const r = (await run.json()).data;
    assert.equal(r.examined, 1);
    assert.equal(r.other_rule.length, 1, "rule `two` comes first in the order and takes it");
    assert.equal(r.other_rule[0].result.rule, "two");

    const del = await call(h, token, `/api/v1/rules/${two.id}`, { method: "DELETE" });
    assert.deepEqual((await del.json()).data, { deleted: "two" });
    const run2 = await call(
      h,
      token,
      "/api/v1/rules/dry-run",
      json("POST", { definition: def, days: 7 }),
    );
    assert.equal((await run2.json()).data.replied.length, 1);
    assert.equal((await call(h, token, `/api/v1/rules/${two.id}`)).status, 404);
    const [n] = await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox");
    assert.equal(n.n, 0);
  } finally {
    await h.close();
  }
});

Deno.test("API stats and /metrics in Prometheus text", async () => {
  const h = await harness();
  try {
    await seedMessage(h.db, eml({}), {
      decision: {
        outcome: "suppressed",
        ruleName: "ack",
        reason: "list",
        detail: "List-Id",
        trail: [],
      },
    });
    await seedMessage(h.db, eml({}), { outbox: { status: "unknown" } });
    await seedMessage(h.db, new TextEncoder().encode("x"), { failParse: "broken" });
    await h.db.query(`UPDATE accounts SET last_sync_at = $1::timestamptz`, [
      new Date(h.clock.now.getTime() - 90_000).toISOString(),
    ]);
    const [{ id }] = await h.db.query<{ id: number }>("SELECT id FROM accounts");
    await h.db.query("UPDATE accounts SET consecutive_failures = 1");
    const idle = (instance: string, state: string, failures: number) =>
      writeIdleHealth(h.db, instance, [{
        accountId: id,
        state,
        mailbox: "INBOX",
        since: h.clock.now,
        lastEventAt: null,
        consecutiveFailures: failures,
        lastError: failures ? "connection refused" : null,
        lastErrorAt: null,
      }], h.clock.now);
    await heartbeatIdleLeases(h.db, "web1:1", [{ accountId: id, mailbox: "INBOX" }]);
    // One instance listens, another keeps failing: up, and its failures are not hidden.
    await idle("web1:1", "idle", 0);
    await idle("web2:1", "backoff", 3);
    await writeProgress(
      h.db,
      { accountId: id, mailbox: "INBOX", done: 12_000, total: 100_000 },
      h.clock.now,
    );
    const token = await h.apiToken();
    const stats = await (await call(h, token, "/api/v1/stats")).json();
    assert.equal(stats.data.messages, 3);
    assert.equal(stats.data.accounts[0].lag_seconds, 90);
    assert.equal(stats.data.accounts[0].idle.instance, "web1:1");
    assert.equal(stats.data.accounts[0].progress.done, 12_000);
    assert.equal(stats.data.outbox.unknown, 1);
    const metrics = await call(h, token, "/metrics");
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const text = await metrics.text();
    for (
      const line of [
        "carteiro_messages_collected_total 3",
        "carteiro_parse_failures_total 1",
        'carteiro_outbox_rows{status="unknown"} 1',
        'carteiro_outbox_rows{status="sent"} 0',
        'carteiro_replies_suppressed_total{reason="list"} 1',
        'carteiro_account_last_sync_age_seconds{account="atendimento"} 90',
        'carteiro_send_failures_total{outcome="failed"} 0',
        'carteiro_account_idle_up{account="atendimento"} 1',
        'carteiro_account_collect_consecutive_failures{account="atendimento"} 1',
        'carteiro_account_idle_consecutive_failures{account="atendimento"} 3',
        'carteiro_account_sync_remaining_messages{account="atendimento"} 88000',
        'carteiro_account_imap_connection_cap{account="atendimento"} 10',
        'carteiro_account_idle_mailboxes_held{account="atendimento"} 1',
        'carteiro_account_idle_mailboxes_cron_only{account="atendimento"} 0',
      ]
    ) {
      assert.ok(text.split("\n").includes(line), `missing "${line}" in\n${text}`);
    }
    assert.match(text, /# TYPE carteiro_messages_collected_total counter/);
    const accounts = await (await call(h, token, "/api/v1/accounts")).json();
    assert.equal(accounts.data[0].health.lag_seconds, 90);
    assert.equal(accounts.data[0].imap.password_set, false);
    // Three minutes later neither instance has reported again: IDLE is not claimed to be up.
    h.clock.now = new Date(h.clock.now.getTime() + 180_000);
    const stale = await (await call(h, token, "/metrics")).text();
    assert.ok(stale.includes('carteiro_account_idle_up{account="atendimento"} 0\n'), stale);
    assert.ok(
      stale.includes('carteiro_account_idle_consecutive_failures{account="atendimento"} 0\n'),
    );
  } finally {
    await h.close();
  }
});

Deno.test("API tokens: each scope opens its own doors; an expired token is refused with the date", async () => {
  const h = await harness();
  try {
    const reader = await h.apiToken("reader", { scopes: ["read"] });
    const writer = await h.apiToken("writer", { scopes: ["write"] });
    const scraper = await h.apiToken("scraper", { scopes: ["metrics"] });
    const rule = JSON.stringify({
      definition: { name: "r", when: { kind: "direct" }, reply: { to: "sender", text: "Oi." } },
    });
    const post = { method: "POST", body: rule, headers: { "Content-Type": "application/json" } };

    assert.equal((await call(h, reader, "/api/v1/stats")).status, 200);
    const refused = await call(h, reader, "/api/v1/rules", post);
    assert.equal(refused.status, 403);
    const body = await refused.json();
    assert.equal(body.error.code, "forbidden");
    assert.match(body.error.message, /scopes \(read\) do not include "write"/);
    assert.equal((await call(h, reader, "/metrics")).status, 403);
    assert.equal(await h.db.query("SELECT 1 FROM rules").then((r) => r.length), 0);

    assert.equal((await call(h, writer, "/api/v1/rules", post)).status, 201);
    assert.equal((await call(h, writer, "/api/v1/rules")).status, 200, "write includes read");

    assert.equal((await call(h, scraper, "/metrics")).status, 200);
    assert.equal((await call(h, scraper, "/api/v1/messages")).status, 403);

    const brief = await h.apiToken("brief", { expiresAt: new Date(NOW.getTime() + 60_000) });
    assert.equal((await call(h, brief, "/api/v1/stats")).status, 200);
    h.clock.now = new Date(NOW.getTime() + 60_000);
    const late = await call(h, brief, "/api/v1/stats");
    assert.equal(late.status, 401);
    assert.match((await late.json()).error.message, /expired at 2026-03-10T12:01:00.000Z/);
  } finally {
    await h.close();
  }
});

Deno.test("tokens page: scopes and an expiry chosen in the form, listed with the last use", async () => {
  const h = await harness();
  try {
    await h.login();
    const none = await h.post("/tokens", { name: "nothing", scopes: "", expires: "" });
    assert.equal(none.status, 422);
    assert.match(
      await none.text(),
      /<code>scopes<\/code>: indique ao menos um de read, write, metrics/,
    );

    const form = new URLSearchParams({ _csrf: h.csrf, name: "grafana", expires: "2026-04-01" });
    form.append("scopes", "");
    form.append("scopes", "metrics");
    const made = await h.request("/tokens", { method: "POST", body: form });
    assert.equal(made.status, 200);
    const token = /<code class="token">([^<]+)<\/code>/.exec(await made.text())?.[1] ?? "";
    assert.equal((await call(h, token, "/metrics")).status, 200);
    assert.equal((await call(h, token, "/api/v1/stats")).status, 403);

    const [row] = await h.db.query<{ scopes: string[]; expires_at: Date; last_used_at: Date }>(
      "SELECT scopes, expires_at, last_used_at FROM api_tokens WHERE name = 'grafana'",
    );
    assert.deepEqual(row.scopes, ["metrics"]);
    assert.equal(row.expires_at.toISOString(), "2026-04-01T23:59:59.999Z");
    assert.equal(row.last_used_at.toISOString(), NOW.toISOString());
    const page = await (await h.request("/tokens")).text();
    assert.match(page, /<td>metrics<\/td>/);
    const [{ detail }] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'token_created'",
    );
    assert.deepEqual(detail.scopes, ["metrics"]);

    const past = await h.post("/tokens", { name: "old", scopes: "read", expires: "2026-03-01" });
    assert.equal(past.status, 422);
    assert.match(await past.text(), /<code>expires<\/code>: uma data futura/);
  } finally {
    await h.close();
  }
});
