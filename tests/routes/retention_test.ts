/**
 * Retention and erasure in the admin and the API: the retention page (admin only) with the
 * audit-log setting, the purge and the erasure reviewed before it is confirmed; an account's keep
 * days in its settings form; "raw source purged" where the raw would be shown or downloaded;
 * `/api/v1/retention`, `/api/v1/purge` and `/api/v1/erase`.
 */
import assert from "node:assert/strict";
import { eml, type Harness, harness, NOW, seedMessage } from "./support.ts";
import { createUser } from "../../src/store/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";
import { readAccountReplySettings } from "../../src/store/account_settings.ts";
import { readKeepAuditDays } from "../../src/store/retention.ts";
import { addressHash } from "../../src/domain/retention.ts";

const ZECA = "zeca@cliente.test";
const DAY = 86_400_000;

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

async function messageCount(h: Harness): Promise<number> {
  return (await h.db.query("SELECT id FROM messages")).length;
}

Deno.test("retention page: audit days, purge now, an erasure reviewed then confirmed", async () => {
  const h = await harness();
  try {
    await h.login();
    await seedMessage(h.db, eml({ from: `Zeca <${ZECA}>` }), {
      outbox: { status: "sent", recipient: ZECA },
    });
    await seedMessage(h.db, eml({ from: "Ana <ana@cliente.test>" }));
    const page = await (await h.request("/retention")).text();
    assert.match(page, /Retenção e apagamento/);
    assert.match(page, /<a href="\/accounts\/1\/settings">atendimento<\/a>/);
    assert.match(page, /href="\/retention" aria-current="page"/);

    const bad = await h.post("/retention/audit", { keep_audit_days: "-3" });
    assert.equal(bad.status, 422);
    assert.match(
      await bad.text(),
      /<code>keep_audit_days<\/code>: deve ser um número inteiro de dias/,
    );
    const saved = await h.post("/retention/audit", { keep_audit_days: "365" });
    assert.equal(saved.status, 303);
    assert.equal(await readKeepAuditDays(h.db), 365);

    const purged = await h.post("/retention/purge");
    assert.equal(purged.status, 200);
    assert.match(await purged.text(), /Removidos: 0 fontes brutas, 0 mensagens/);

    // The first step only shows what would go.
    const review = await (await h.post("/retention/erase", { address: ` ${ZECA} ` })).text();
    assert.match(review, /Apagar zeca@cliente.test remove estas linhas/);
    assert.match(review, /<code>messages<\/code><\/td><td>1<\/td>/);
    assert.match(review, /<input type="hidden" name="confirm" value="yes"/);
    assert.equal(await messageCount(h), 2);
    // The confirmation erases.
    const erased = await (await h.post("/retention/erase", { address: ZECA, confirm: "yes" }))
      .text();
    assert.match(erased, /Apagado\. Linhas removidas:/);
    assert.equal(await messageCount(h), 1);
    const [audit] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'address_erased'",
    );
    assert.equal(audit.detail.address_sha256, addressHash(ZECA));
    assert.equal(audit.detail.by, "admin@example.test");

    const refused = await h.post("/retention/erase", { address: "not an address" });
    assert.equal(refused.status, 422);
    assert.match(await refused.text(), /<code>address<\/code>: deve ser um só endereço de e-mail/);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("retention page: operators and viewers may neither see it nor erase", async () => {
  const h = await harness();
  try {
    await seedMessage(h.db, eml({ from: `Zeca <${ZECA}>` }));
    const password = "uma senha comprida o bastante";
    for (const role of ["operator", "viewer"] as const) {
      const email = `${role}@example.test`;
      await createUser(h.db, email, await hashPassword(password), NOW, role);
      await h.login({ email, password });
      assert.equal((await h.request("/retention")).status, 403);
      assert.doesNotMatch(await (await h.request("/messages")).text(), /href="\/retention"/);
      const erase = await h.post("/retention/erase", { address: ZECA, confirm: "yes" });
      assert.equal(erase.status, 403);
      assert.equal(await messageCount(h), 1);
    }
  } finally {
    await h.close();
  }
});

Deno.test("keep days in an account's settings; a purged raw source is said so", async () => {
  const h = await harness();
  try {
    await h.login();
    const form = await (await h.request("/accounts/1/settings")).text();
    assert.match(form, /name="keep_raw_days" value=""/);
    const bad = await h.post("/accounts/1/settings", { keep_raw_days: "0" });
    assert.equal(bad.status, 422);
    assert.match(
      await bad.text(),
      /<code>keep_raw_days<\/code>: deve ser um número inteiro de dias/,
    );
    const saved = await h.post("/accounts/1/settings", {
      check_auth: "1",
      check_spam: "1",
      keep_raw_days: "7",
      keep_messages_days: "",
    });
    assert.equal(saved.status, 303);
    const stored = await readAccountReplySettings(h.db, 1);
    assert.equal(stored?.keepRawDays, 7);
    assert.equal(stored?.keepMessagesDays, null);

    const old = await seedMessage(h.db, eml({}), { receivedAt: new Date(NOW.getTime() - 9 * DAY) });
    h.clock.now = NOW;
    const done = await h.post("/retention/purge");
    assert.match(await done.text(), /Removidos: 1 fontes brutas/);
    const detail = await (await h.request(`/messages/${old}`)).text();
    assert.match(detail, /fonte bruta descartada/);
    assert.doesNotMatch(detail, new RegExp(`href="/messages/${old}/raw"`));
    assert.equal((await h.request(`/messages/${old}/raw`)).status, 410);
    const token = await h.apiToken();
    const raw = await call(h, token, `/api/v1/messages/${old}/raw`);
    assert.equal(raw.status, 410);
    assert.equal((await raw.json()).error.code, "raw_purged");
    const api = await (await call(h, token, `/api/v1/messages/${old}`)).json();
    assert.equal(api.data.raw_purged_at, NOW.toISOString());
    assert.equal(api.data.subject, "Pedido 123");
  } finally {
    await h.close();
  }
});

Deno.test("API: retention settings, purge and erase, with their dry runs", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken("ops");
    await seedMessage(h.db, eml({ from: `Zeca <${ZECA}>` }), {
      outbox: { status: "sent", recipient: ZECA },
    });

    const read = await (await call(h, token, "/api/v1/retention")).json();
    assert.equal(read.data.keep_audit_days, null);
    assert.equal(read.data.due.dry_run, true);
    const put = await call(h, token, "/api/v1/retention", json("PUT", { keep_audit_days: 30 }));
    assert.deepEqual(await put.json(), { data: { keep_audit_days: 30 } });
    const badPut = await call(h, token, "/api/v1/retention", json("PUT", { keep: 3 }));
    assert.equal(badPut.status, 422);
    assert.equal((await call(h, token, "/api/v1/retention", json("PUT", "{x"))).status, 400);

    const dryPurge = await call(h, token, "/api/v1/purge", json("POST", { dry_run: true }));
    assert.equal((await dryPurge.json()).data.dry_run, true);
    const purge = await (await call(h, token, "/api/v1/purge", json("POST", {}))).json();
    assert.equal(purge.data.dry_run, false);
    assert.equal(purge.data.totals.messages, 0);
    const badPurge = await call(h, token, "/api/v1/purge", json("POST", { dry_run: "yes" }));
    assert.equal(badPurge.status, 422);

    const dry = await call(
      h,
      token,
      "/api/v1/erase",
      json("POST", { address: ZECA, dry_run: true }),
    );
    const dryBody = await dry.json();
    assert.equal(dryBody.data.dry_run, true);
    assert.equal(dryBody.data.removed.messages, 1);
    assert.equal(dryBody.data.removed.outbox, 1);
    assert.equal(await messageCount(h), 1);
    const erased = await (await call(h, token, "/api/v1/erase", json("POST", { address: ZECA })))
      .json();
    assert.deepEqual(erased.data.removed, dryBody.data.removed);
    assert.equal(erased.data.address_sha256, addressHash(ZECA));
    assert.equal(await messageCount(h), 0);
    const [audit] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'address_erased'",
    );
    assert.equal(audit.detail.by, "token:ops");
    assert.doesNotMatch(JSON.stringify(audit.detail), /zeca/);

    const bad = await call(h, token, "/api/v1/erase", json("POST", { address: "zeca" }));
    assert.equal(bad.status, 422);
    assert.equal((await bad.json()).error.code, "invalid_request");
    const own = await call(
      h,
      token,
      "/api/v1/erase",
      json("POST", { address: "atendimento@empresa.test" }),
    );
    assert.equal(own.status, 422);
    const readOnly = await h.apiToken("reader", { scopes: ["read"] });
    assert.equal(
      (await call(h, readOnly, "/api/v1/erase", json("POST", { address: ZECA }))).status,
      403,
    );
  } finally {
    await h.close();
  }
});
