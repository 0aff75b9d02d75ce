/**
 * Limits a person sees and resets: the banner on every page while a loop breaker is open, the
 * breakers page and `/api/v1/breakers` (list, reset one, reset all), `/metrics` and stats; an
 * account's reply settings in its form and `/api/v1/accounts/{id}/settings`; a rule's period on
 * the rules page.
 */
import assert from "node:assert/strict";
import { type Harness, harness, NOW } from "./support.ts";
import { tripBreaker } from "../../src/store/outbox.ts";
import { readAccountReplySettings } from "../../src/store/account_settings.ts";

const HX = { "HX-Request": "true" };
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

async function call(h: Harness, token: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  return await h.app.request(`http://localhost${path}`, { ...init, headers });
}

const json = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { "Content-Type": "application/json" },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

async function breakerIds(h: Harness): Promise<Record<string, number>> {
  const rows = await h.db.query<{ id: number; recipient: string }>(
    "SELECT id::int AS id, recipient FROM reply_breakers",
  );
  return Object.fromEntries(rows.map((r) => [r.recipient || "(account)", Number(r.id)]));
}

Deno.test("an open breaker shows on every page until a person resets it there", async () => {
  const h = await harness();
  try {
    await h.login();
    assert.doesNotMatch(await (await h.request("/messages")).text(), /breaker-banner/);
    await tripBreaker(h.db, 1, "ana@cliente.test", minutes(-5), "5 replies", minutes(55));
    await tripBreaker(h.db, 1, "old@cliente.test", minutes(-120), "cooled", minutes(-60));

    for (const path of ["/messages", "/outbox", "/rules", "/accounts"]) {
      const page = await (await h.request(path)).text();
      assert.match(page, /id="breaker-banner"/, path);
      assert.match(page, /Disjuntores de laço abertos: 1\./, path);
      assert.match(page, /<a href="\/breakers">Ver e rearmar<\/a>/, path);
    }
    // A fragment is not a page: no banner in it.
    assert.doesNotMatch(await (await h.request("/messages", { headers: HX })).text(), /banner/);

    const list = await (await h.request("/breakers")).text();
    assert.match(list, /<code>ana@cliente\.test<\/code>/);
    assert.match(list, /aberto/);
    assert.match(list, /fechado \(esfriou\)/);
    assert.match(list, /5 replies/);

    const ids = await breakerIds(h);
    const reset = await h.post(`/breakers/${ids["ana@cliente.test"]}/reset`);
    assert.equal(reset.status, 303);
    assert.equal(reset.headers.get("Location"), "/breakers");
    const after = await (await h.request("/breakers")).text();
    assert.doesNotMatch(after, /breaker-banner/);
    assert.doesNotMatch(after, /ana@cliente\.test/);
    // Twice (someone else was quicker): back to the list, nothing else happens.
    assert.equal((await h.post(`/breakers/${ids["ana@cliente.test"]}/reset`)).status, 303);
    const events = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'breaker_reset'",
    );
    assert.deepEqual(events.map((e) => [e.detail.recipient, e.detail.by]), [
      ["ana@cliente.test", "admin@example.test"],
    ]);

    // Reset all: only open ones go.
    await tripBreaker(h.db, 1, null, minutes(-1), "120 replies", null);
    assert.match(await (await h.request("/outbox")).text(), /Disjuntores de laço abertos: 1\./);
    assert.equal((await h.post("/breakers/reset")).status, 303);
    assert.deepEqual(Object.keys(await breakerIds(h)), ["old@cliente.test"]);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("API: breakers listed, reset one and all; /metrics and stats count the open ones", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken();
    await tripBreaker(h.db, 1, "ana@cliente.test", minutes(-5), "5 replies", minutes(55));
    await tripBreaker(h.db, 1, null, minutes(-3), "120 replies", null);
    await tripBreaker(h.db, 1, "old@cliente.test", minutes(-120), "cooled", minutes(-60));

    const all = await (await call(h, token, "/api/v1/breakers")).json();
    assert.deepEqual(
      all.data.map((b: { scope: string; recipient: string | null; open: boolean }) => [
        b.scope,
        b.recipient,
        b.open,
      ]),
      [["account", null, true], ["recipient", "ana@cliente.test", true], [
        "recipient",
        "old@cliente.test",
        false,
      ]],
    );
    assert.equal(all.data[0].open_until, null);
    assert.equal(all.data[1].open_until, minutes(55).toISOString());
    assert.equal(all.data[1].account, "atendimento");
    const open = await (await call(h, token, "/api/v1/breakers?open=true")).json();
    assert.equal(open.data.length, 2);
    assert.equal((await call(h, token, "/api/v1/breakers?open=maybe")).status, 422);

    const metrics = (await (await call(h, token, "/metrics")).text()).split("\n");
    assert.ok(metrics.includes('carteiro_reply_breakers_open{scope="account"} 1'));
    assert.ok(metrics.includes('carteiro_reply_breakers_open{scope="recipient"} 1'));
    const stats = await (await call(h, token, "/api/v1/stats")).json();
    assert.deepEqual(stats.data.breakers_open, { account: 1, recipient: 1 });

    const ids = await breakerIds(h);
    const one = await call(h, token, `/api/v1/breakers/${ids["ana@cliente.test"]}/reset`, {
      method: "POST",
    });
    assert.equal(one.status, 200);
    assert.equal((await one.json()).data.recipient, "ana@cliente.test");
    const again = await call(h, token, `/api/v1/breakers/${ids["ana@cliente.test"]}/reset`, {
      method: "POST",
    });
    assert.equal(again.status, 404);
    assert.equal((await again.json()).error.code, "not_found");
    const rest = await (await call(h, token, "/api/v1/breakers/reset", { method: "POST" })).json();
    assert.deepEqual(rest.data.map((b: { scope: string }) => b.scope), ["account"]);
    const events = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'breaker_reset' ORDER BY id",
    );
    assert.deepEqual(events.map((e) => e.detail.by), ["token:tests", "token:tests"]);
    const none = (await (await call(h, token, "/metrics")).text()).split("\n");
    assert.ok(none.includes('carteiro_reply_breakers_open{scope="account"} 0'));
  } finally {
    await h.close();
  }
});

Deno.test("reply settings form: shown for an account from the environment, 422 as typed, saved", async () => {
  const h = await harness();
  try {
    await h.login();
    const accounts = await (await h.request("/accounts")).text();
    assert.match(accounts, /<a href="\/accounts\/1\/settings">Configurações de resposta<\/a>/);
    const form = await (await h.request("/accounts/1/settings")).text();
    assert.match(form, /Configurações de resposta · atendimento/);
    assert.match(form, /name="check_auth" value="1" checked/);
    assert.match(form, /o próprio domínio da conta \(empresa\.test\)/);

    const bad = await h.post("/accounts/1/settings", {
      time_zone: "America/Sao Paulo",
      authserv_ids: "mx.empresa.test",
      trusted_forwarders: "empresa.test, a@b@c",
      limits: '{"cool_down_seconds": 0}',
      check_auth: "1",
    }, HX);
    assert.equal(bad.status, 422);
    const refused = await bad.text();
    assert.ok(refused.startsWith('<div id="settings-editor"'), refused.slice(0, 60));
    assert.match(
      refused,
      /<code>time_zone<\/code>: &quot;America\/Sao Paulo&quot; não é um fuso horário IANA/,
    );
    assert.match(refused, /<code>trusted_forwarders\[1\]<\/code>: tem mais de um @/);
    assert.match(refused, /<code>limits\.cool_down_seconds<\/code>: must be null/);
    assert.match(refused, /value="America\/Sao Paulo"/);

    const notJson = await h.post("/accounts/1/settings", { limits: "{cool" });
    assert.equal(notJson.status, 422);
    assert.match(
      await notJson.text(),
      /<code>limits<\/code>: não é JSON \(erro de sintaxe na posição 1/,
    );

    const saved = await h.post("/accounts/1/settings", {
      time_zone: "America/Sao_Paulo",
      authserv_ids: "mx.empresa.test, MX2.empresa.test",
      trusted_forwarders: "",
      limits: '{"cool_down_seconds": 600}',
      check_spam: "1",
    });
    assert.equal(saved.status, 303);
    assert.deepEqual(await readAccountReplySettings(h.db, 1), {
      timeZone: "America/Sao_Paulo",
      authservIds: ["mx.empresa.test", "mx2.empresa.test"],
      checkAuth: false,
      checkSpam: true,
      trustedForwarders: null,
      limits: { coolDownSeconds: 600 },
      keepRawDays: null,
      keepMessagesDays: null,
    });
    const shown = await (await h.request("/accounts/1/settings")).text();
    assert.match(shown, /value="mx\.empresa\.test, mx2\.empresa\.test"/);
    assert.match(shown, /&quot;cool_down_seconds&quot;: 600/);
    assert.equal((await h.request("/accounts/99/settings")).status, 404);
    assert.equal((await h.post("/accounts/99/settings", {})).status, 404);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("API: an account's reply settings read and patched, problems with their keys", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken();
    const read = await (await call(h, token, "/api/v1/accounts/1/settings")).json();
    assert.deepEqual(read.data, {
      time_zone: null,
      authserv_ids: [],
      check_auth: true,
      check_spam: true,
      trusted_forwarders: null,
      limits: null,
      keep_raw_days: null,
      keep_messages_days: null,
      limits_in_force: {
        window_seconds: 604_800,
        breakers: [
          { scope: "recipient", max: 5, within_seconds: 3_600 },
          { scope: "recipient", max: 10, within_seconds: 86_400 },
          { scope: "account", max: 120, within_seconds: 600 },
          { scope: "account", max: 600, within_seconds: 3_600 },
        ],
        cool_down_seconds: 3_600,
      },
    });
    const patched = await call(
      h,
      token,
      "/api/v1/accounts/1/settings",
      json("PATCH", { trusted_forwarders: ["empresa.test"], limits: { window_seconds: 3_600 } }),
    );
    assert.equal(patched.status, 200);
    const body = await patched.json();
    assert.deepEqual(body.data.trusted_forwarders, ["empresa.test"]);
    assert.equal(body.data.limits.window_seconds, 86_400);
    assert.equal(body.data.limits_in_force.window_seconds, 86_400);
    assert.match(body.notes[0], /limits\.window_seconds: 3600 is below the minimum/);

    const bad = await call(
      h,
      token,
      "/api/v1/accounts/1/settings",
      json("PATCH", { check_auth: "no", limits: { breakers: [] } }),
    );
    assert.equal(bad.status, 422);
    const error = (await bad.json()).error;
    assert.equal(error.code, "invalid_request");
    assert.deepEqual(error.details, [
      "check_auth: must be true or false",
      "limits.breakers: must be a non-empty list (a breaker cannot be switched off)",
    ]);
    assert.equal(
      (await call(h, token, "/api/v1/accounts/1/settings", json("PATCH", "{x"))).status,
      400,
    );
    assert.equal((await call(h, token, "/api/v1/accounts/99/settings")).status, 404);
    assert.equal(
      (await call(h, token, "/api/v1/accounts/99/settings", json("PATCH", {}))).status,
      404,
    );
  } finally {
    await h.close();
  }
});

Deno.test("rules page: each rule's period in the viewer's language", async () => {
  const h = await harness();
  try {
    await h.login();
    const rule = (name: string, period: Record<string, string>) => ({
      name,
      ...period,
      when: { kind: "direct" },
      reply: { to: "sender", subject: "Re: {{subject}}", text: "Ok." },
    });
    // NOW is 2026-03-10.
    for (
      const def of [
        rule("always", {}),
        rule("vacation", { active_from: "2026-03-01", active_until: "2026-03-12" }),
        rule("last-day", { active_until: "2026-03-10" }),
        rule("long", { active_until: "2026-06-30" }),
        rule("gone", { active_until: "2026-02-28" }),
        rule("later", { active_from: "2026-04-01" }),
      ]
    ) {
      const res = await h.post("/rules", { definition: JSON.stringify(def) });
      assert.equal(res.status, 303, await res.text());
    }
    const pt = await (await h.request("/rules")).text();
    for (
      const text of [
        "sempre",
        "ativa agora · termina em 3 dias",
        "ativa agora · último dia hoje",
        "ativa agora · até 30 de jun. de 2026",
        "expirou em 28 de fev. de 2026",
        "começa em 1 de abr. de 2026",
      ]
    ) {
      assert.ok(pt.includes(text), `missing "${text}"`);
    }
    h.jar.set("carteiro_lang", "en");
    const en = await (await h.request("/rules")).text();
    for (
      const text of [
        "always",
        "active now · ends in 3 days",
        "expired on Feb 28, 2026",
        "starts on Apr 1, 2026",
      ]
    ) {
      assert.ok(en.includes(text), `missing "${text}"`);
    }
  } finally {
    await h.close();
  }
});
