/** `/accounts`: secrets encrypted at rest, never shown back, fail closed without the key. */
import assert from "node:assert/strict";
import { harness } from "./support.ts";
import { createApp } from "../../routes/app.ts";
import { recordSyncOutcome } from "../../src/store/accounts.ts";
import { writeIdleHealth, writeProgress } from "../../src/store/account_health.ts";
import { heartbeatIdleLeases } from "../../src/store/idle_leases.ts";

const HX = { "HX-Request": "true" };
const IMAP_PASS = "imap-Secret-Passw0rd!";
const SMTP_PASS = "smtp-Secret-Passw0rd?";

const FORM = {
  name: "vendas",
  address: "vendas@empresa.test",
  display_name: "Vendas",
  enabled: "1",
  imap_host: "imap.empresa.test",
  imap_port: "993",
  imap_tls: "1",
  imap_user: "vendas@empresa.test",
  imap_pass: IMAP_PASS,
  mailboxes: "INBOX, Suporte",
  smtp_host: "smtp.empresa.test",
  smtp_port: "465",
  smtp_tls: "1",
  smtp_user: "vendas@empresa.test",
  smtp_pass: SMTP_PASS,
};

Deno.test("add an account: passwords encrypted, never in pages, API or the database in clear", async () => {
  const h = await harness();
  try {
    await h.login();
    const res = await h.post("/accounts", FORM);
    assert.equal(res.status, 303);
    const rows = await h.db.query<Record<string, unknown>>(
      "SELECT * FROM accounts WHERE name = 'vendas'",
    );
    assert.equal(rows.length, 1);
    const dump = JSON.stringify(await h.db.query("SELECT * FROM accounts"));
    assert.ok(!dump.includes(IMAP_PASS) && !dump.includes(SMTP_PASS), "no plaintext at rest");
    assert.match(String(rows[0].imap_pass_enc), /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    assert.notEqual(rows[0].imap_pass_enc, rows[0].smtp_pass_enc);
    const id = rows[0].id as number;

    const token = await h.apiToken();
    const outputs = [
      await (await h.request("/accounts")).text(),
      await (await h.request(`/accounts/${id}`)).text(),
      await (await h.app.request(`http://localhost/api/v1/accounts/${id}`, {
        headers: { Authorization: `Bearer ${token}` },
      })).text(),
      await (await h.app.request("http://localhost/api/v1/accounts", {
        headers: { Authorization: `Bearer ${token}` },
      })).text(),
    ];
    for (const out of outputs) {
      for (const secret of [IMAP_PASS, SMTP_PASS, String(rows[0].imap_pass_enc).slice(3, 20)]) {
        assert.ok(!out.includes(secret), "no secret or ciphertext in any output");
      }
    }
    assert.match(outputs[1], /definida — deixe vazio para manter/);
    assert.match(outputs[1], /<input type="password" name="imap_pass" value=""/);
    const api = JSON.parse(outputs[2]).data;
    assert.equal(api.imap.password_set, true);
    assert.equal(api.smtp.password_set, true);

    // Editing without typing a password keeps the stored one.
    const { imap_pass: _i, smtp_pass: _s, ...rest } = FORM;
    const edit = await h.post(`/accounts/${id}`, { ...rest, display_name: "Vendas BR" });
    assert.equal(edit.status, 303);
    const [after] = await h.db.query<Record<string, unknown>>(
      "SELECT display_name, imap_pass_enc FROM accounts WHERE id = $1",
      [id],
    );
    assert.equal(after.display_name, "Vendas BR");
    assert.equal(after.imap_pass_enc, rows[0].imap_pass_enc);

    // Test connection: the injected tester gets the decrypted passwords; the page shows the result.
    h.nextTest = { ok: false, error: `AUTHENTICATIONFAILED for ${IMAP_PASS}` };
    const test = await h.post(`/accounts/${id}/test`, {}, HX);
    assert.equal(test.status, 200);
    const result = await test.text();
    assert.match(result, /^<span id="test-\d+" class="problems"/);
    assert.ok(!result.includes(IMAP_PASS), "an echoed password is masked");
    assert.equal(h.tested.at(-1)?.imap.pass, IMAP_PASS);
    assert.equal(h.tested.at(-1)?.smtp?.pass, SMTP_PASS);
    const events = await h.db.query<{ event: string; detail: Record<string, unknown> }>(
      "SELECT event, detail FROM audit_events WHERE event IN ('account_changed', 'connection_tested') ORDER BY id",
    );
    assert.deepEqual(events.map((e) => e.event), [
      "account_changed",
      "account_changed",
      "connection_tested",
    ]);
    assert.ok(!JSON.stringify(events).includes(IMAP_PASS));
  } finally {
    await h.close();
  }
});

Deno.test("copies to Sent: on for a new account, turned off and on in the form, shown in the API", async () => {
  const h = await harness();
  try {
    await h.login();
    const form = await (await h.request("/accounts/new")).text();
    assert.match(form, /<input type="checkbox" name="copy_to_sent" value="1" checked/);
    assert.equal((await h.post("/accounts", { ...FORM, copy_to_sent: "1" })).status, 303);
    const [{ id }] = await h.db.query<{ id: number }>(
      "SELECT id FROM accounts WHERE name = 'vendas'",
    );
    const token = await h.apiToken();
    const api = async () =>
      JSON.parse(
        await (await h.app.request(`http://localhost/api/v1/accounts/${id}`, {
          headers: { Authorization: `Bearer ${token}` },
        })).text(),
      ).data.copy_to_sent;
    assert.equal(await api(), true);
    // An unchecked box sends nothing: off.
    assert.equal((await h.post(`/accounts/${id}`, FORM)).status, 303);
    assert.equal(await api(), false);
    const page = await (await h.request(`/accounts/${id}`)).text();
    assert.match(page, /<input type="checkbox" name="copy_to_sent" value="1" >/);
    assert.match(page, /Copiar as respostas para a pasta Enviados/);
    assert.equal((await h.post(`/accounts/${id}`, { ...FORM, copy_to_sent: "on" })).status, 303);
    assert.equal(await api(), true);
  } finally {
    await h.close();
  }
});

Deno.test("invalid account input: 422 with the form re-rendered, passwords not echoed", async () => {
  const h = await harness();
  try {
    await h.login();
    const res = await h.post("/accounts", { ...FORM, imap_port: "99999", address: "nope" }, HX);
    assert.equal(res.status, 422);
    const html = await res.text();
    assert.match(html, /^<div id="account-editor">/);
    assert.match(html, /<code>imap_port<\/code>: deve ser uma porta de 1 a 65535/);
    assert.match(html, /<code>address<\/code>: deve ser um endereço de e-mail/);
    assert.match(html, /name="imap_host" value="imap.empresa.test"/);
    assert.ok(!html.includes(IMAP_PASS));
    const dup = await h.post("/accounts", { ...FORM, name: "atendimento" });
    assert.equal(dup.status, 422);
    assert.match(await dup.text(), /already used by another account/);
    const env = await h.db.query<{ id: number }>("SELECT id FROM accounts WHERE source = 'env'");
    const envEdit = await h.post(`/accounts/${env[0].id}`, FORM);
    assert.equal(envEdit.status, 422, "accounts from the environment are not edited here");
  } finally {
    await h.close();
  }
});

Deno.test("no SECRET_KEY: saving a password is refused with a clear message; a wrong key fails closed", async () => {
  const h = await harness({ secretKey: null });
  try {
    await h.login();
    const res = await h.post("/accounts", FORM);
    assert.equal(res.status, 422);
    assert.match(await res.text(), /SECRET_KEY is not set/);
    assert.equal(
      (await h.db.query("SELECT 1 FROM accounts WHERE name = 'vendas'")).length,
      0,
      "nothing saved without the key",
    );
    // Saved under one key, read under another.
    const keyed = createApp({ ...h.deps, secretKey: "first-key-0123456789abcdef" });
    const saved = await keyed.request("http://localhost/accounts", {
      method: "POST",
      headers: { Cookie: h.jar.header() },
      body: new URLSearchParams({ _csrf: h.csrf, ...FORM }),
    });
    assert.equal(saved.status, 303);
    const [{ id }] = await h.db.query<{ id: number }>(
      "SELECT id FROM accounts WHERE name = 'vendas'",
    );
    const other = createApp({ ...h.deps, secretKey: "another-key-0123456789abcdef" });
    const tested = h.tested.length;
    const test = await other.request(`http://localhost/accounts/${id}/test`, {
      method: "POST",
      headers: { Cookie: h.jar.header(), "HX-Request": "true", "X-CSRF-Token": h.csrf },
    });
    assert.equal(test.status, 200);
    assert.match(await test.text(), /cannot be decrypted with this SECRET_KEY/);
    assert.equal(h.tested.length, tested, "no connection is tried without the password");
  } finally {
    await h.close();
  }
});

Deno.test("account health: last sync, last error, messages and lag", async () => {
  const h = await harness();
  try {
    await h.db.query(
      `UPDATE accounts SET last_sync_at = $1::timestamptz, last_error = 'IMAP login failed',
         last_error_at = $1::timestamptz`,
      [new Date(h.clock.now.getTime() - 300_000).toISOString()],
    );
    await h.login();
    const html = await (await h.request("/accounts")).text();
    assert.match(html, /<time datetime="2026-03-10T11:55:00.000Z">10\/03\/2026 11:55<\/time>/);
    assert.match(html, /há 5 minutos/);
    assert.match(html, /IMAP login failed/);
  } finally {
    await h.close();
  }
});

Deno.test("account health: IMAP IDLE state, failures in a row and a collection's progress, page and API", async () => {
  const h = await harness();
  try {
    const [{ id }] = await h.db.query<{ id: number }>("SELECT id FROM accounts");
    const now = h.clock.now;
    const ago = (ms: number) => new Date(now.getTime() - ms);
    await recordSyncOutcome(h.db, id, ago(120_000), null);
    await recordSyncOutcome(h.db, id, ago(60_000), "IMAP login failed");
    await recordSyncOutcome(h.db, id, ago(30_000), "IMAP login failed");
    await writeIdleHealth(h.db, "web1:4242", [{
      accountId: id,
      state: "idle",
      mailbox: "INBOX",
      since: new Date("2026-03-10T11:40:00Z"),
      lastEventAt: ago(5_000),
      consecutiveFailures: 0,
      lastError: null,
      lastErrorAt: null,
    }], ago(10_000));
    await writeProgress(
      h.db,
      { accountId: id, mailbox: "INBOX", done: 12_000, total: 100_000 },
      now,
    );
    await h.login();

    const pt = await (await h.request("/accounts")).text();
    assert.match(pt, /escutando/);
    assert.match(pt, /desde 10\/03\/2026 11:40, em web1:4242/);
    assert.match(pt, /Coletando INBOX: 12 000 \/ 100 000/);
    assert.match(pt, /<progress value="12000" max="100000">/);
    assert.match(pt, /<td>2<\/td>/, "two failures in a row");
    // While a collection runs the table refreshes itself, as a fragment.
    assert.match(pt, /<table[^>]*hx-get="\/accounts"[^>]*hx-trigger="every 5s"/);
    const fragment = await h.request("/accounts", { headers: HX });
    const table = await fragment.text();
    assert.match(table, /^<table class="list accounts" id="accounts-table"/);
    assert.match(table, /12 000 \/ 100 000/);
    h.jar.set("carteiro_lang", "en");
    const en = await (await h.request("/accounts")).text();
    assert.match(en, /listening/);
    assert.match(en, /since 10 Mar 2026, 11:40, on web1:4242/);
    assert.match(en, /Collecting INBOX: 12 000 \/ 100 000/);

    const token = await h.apiToken();
    const api = async (path: string) =>
      await (await h.app.request(`http://localhost${path}`, {
        headers: { Authorization: `Bearer ${token}` },
      })).json();
    const one = (await api(`/api/v1/accounts/${id}`)).data.health;
    const listed = (await api("/api/v1/accounts")).data[0].health;
    assert.deepEqual(one, listed);
    assert.equal(one.last_error, "IMAP login failed", "the old keys stay");
    assert.equal(one.lag_seconds, 120);
    assert.equal(one.consecutive_failures, 2);
    assert.deepEqual(one.idle, {
      state: "idle",
      instance: "web1:4242",
      mailbox: "INBOX",
      since: "2026-03-10T11:40:00.000Z",
      last_event_at: ago(5_000).toISOString(),
      consecutive_failures: 0,
      last_error: null,
      updated_at: ago(10_000).toISOString(),
    });
    assert.deepEqual(one.progress, {
      mailbox: "INBOX",
      done: 12_000,
      total: 100_000,
      started_at: now.toISOString(),
      updated_at: now.toISOString(),
    });

    // The instance went quiet three minutes ago and the collection ended: nothing is claimed.
    h.clock.now = new Date(now.getTime() + 170_000);
    await recordSyncOutcome(h.db, id, h.clock.now, null);
    const later = await (await h.request("/accounts")).text();
    assert.match(later, /not reported/);
    assert.doesNotMatch(later, /listening|Collecting|hx-trigger/);
    const after = (await api(`/api/v1/accounts/${id}`)).data.health;
    assert.deepEqual([after.idle, after.progress, after.consecutive_failures], [null, null, 0]);
  } finally {
    await h.close();
  }
});

Deno.test("IMAP connection cap: set on the form, checked, and the mailboxes over it shown as left to the cron, with each lease holder, page and API", async () => {
  const h = await harness();
  try {
    await h.login();
    const bad = await h.post("/accounts", { ...FORM, imap_connection_cap: "0" }, HX);
    assert.equal(bad.status, 422);
    assert.match(
      await bad.text(),
      /<code>imap_connection_cap<\/code>: vazio, ou um número inteiro de 1 a 100/,
    );

    const res = await h.post("/accounts", {
      ...FORM,
      mailboxes: "INBOX, Suporte, Vendas",
      imap_connection_cap: "4",
    });
    assert.equal(res.status, 303);
    const [{ id, cap }] = await h.db.query<{ id: number; cap: number }>(
      "SELECT id, imap_connection_cap AS cap FROM accounts WHERE name = 'vendas'",
    );
    assert.equal(cap, 4);
    assert.match(
      await (await h.request(`/accounts/${id}`)).text(),
      /name="imap_connection_cap"[^>]*value="4"/,
    );

    await heartbeatIdleLeases(h.db, "web1:4242", [{ accountId: id, mailbox: "INBOX" }]);
    await heartbeatIdleLeases(h.db, "web2:77", [{ accountId: id, mailbox: "Suporte" }]);
    await writeIdleHealth(h.db, "web1:4242", [{
      accountId: id,
      state: "idle",
      mailbox: "INBOX",
      since: h.clock.now,
      lastEventAt: h.clock.now,
      consecutiveFailures: 0,
      lastError: null,
      lastErrorAt: null,
    }], h.clock.now);
    await writeIdleHealth(h.db, "web2:77", [{
      accountId: id,
      state: "missing",
      mailbox: "Suporte",
      since: h.clock.now,
      lastEventAt: null,
      consecutiveFailures: 1,
      lastError: 'the mailbox "Suporte" does not exist on the server (deleted or renamed?)',
      lastErrorAt: h.clock.now,
    }], h.clock.now);

    const pt = await (await h.request("/accounts")).text();
    assert.match(pt, /INBOX: escutando, em web1:4242/);
    assert.match(pt, /Suporte: a pasta não existe no servidor, em web2:77/);
    assert.match(pt, /Vendas: só a coleta de cada minuto \(acima do limite de 4 conexões IMAP\)/);
    h.jar.set("carteiro_lang", "en");
    const en = await (await h.request("/accounts")).text();
    assert.match(en, /INBOX: listening, on web1:4242/);
    assert.match(en, /Suporte: no such mailbox on the server, on web2:77/);
    assert.match(en, /Vendas: minute cron only \(over the cap of 4 IMAP connections\)/);

    const token = await h.apiToken();
    const api = await (await h.app.request(`http://localhost/api/v1/accounts/${id}`, {
      headers: { Authorization: `Bearer ${token}` },
    })).json();
    assert.equal(api.data.imap.connection_cap, 4);
    assert.equal(api.data.health.connection_cap, 4);
    assert.deepEqual(
      api.data.health.idle_mailboxes.map((
        m: { mailbox: string; mode: string; holder: string | null; state: string | null },
      ) => [m.mailbox, m.mode, m.holder, m.state]),
      [
        ["INBOX", "idle", "web1:4242", "idle"],
        ["Suporte", "idle", "web2:77", "missing"],
        ["Vendas", "cron", null, null],
      ],
    );
  } finally {
    await h.close();
  }
});

Deno.test("send budget: set on the form and by the API, shown with a refused SMTP login, cleared by an edit", async () => {
  const h = await harness();
  try {
    await h.login();
    // A Gmail address on Google's SMTP gets Gmail's default until a budget is set.
    const gmail = {
      ...FORM,
      address: "vendas@gmail.com",
      smtp_host: "smtp.gmail.com",
      smtp_user: "vendas@gmail.com",
    };
    assert.equal((await h.post("/accounts", gmail)).status, 303);
    const [{ id }] = await h.db.query<{ id: number }>(
      "SELECT id FROM accounts WHERE name = 'vendas'",
    );
    let page = await (await h.request("/accounts")).text();
    assert.match(page, /500 por dia \(padrão Gmail\)/);
    // The environment's account: its SMTP host comes from the environment, not its row.
    const [env] = await h.db.query<{ id: number }>(
      "SELECT id FROM accounts WHERE name = 'atendimento'",
    );
    h.deps.envSmtpHost = { accountId: env.id, host: "smtp.office365.com" };
    page = await (await h.request("/accounts")).text();
    assert.match(page, /30 por minuto, 10 000 por dia \(padrão Exchange Online\)/);

    // A faulty budget is the form again, 422, the field named.
    const { imap_pass: _i, smtp_pass: _s, ...rest } = gmail;
    const bad = await h.post(`/accounts/${id}`, {
      ...rest,
      budget_custom: "1",
      budget_per_minute: "0",
    });
    assert.equal(bad.status, 422);
    assert.match(await bad.text(), /<code>budget_per_minute<\/code>: um número inteiro/);

    assert.equal(
      (await h.post(`/accounts/${id}`, { ...rest, budget_custom: "1", budget_per_minute: "5" }))
        .status,
      303,
    );
    const [stored] = await h.db.query<{ send_budget: unknown }>(
      "SELECT send_budget FROM accounts WHERE id = $1",
      [id],
    );
    assert.deepEqual(stored.send_budget, { per_minute: 5, per_day: null });
    const form = await (await h.request(`/accounts/${id}`)).text();
    assert.match(form, /name="budget_per_minute" value="5"/);

    // The SMTP server refused the login: the page, the API and /metrics say so.
    await h.db.query(
      `UPDATE accounts SET smtp_auth_failure = '535 5.7.8 Username and Password not accepted',
         smtp_auth_failure_at = $2::timestamptz WHERE id = $1`,
      [id, h.clock.now.toISOString()],
    );
    page = await (await h.request("/accounts")).text();
    assert.match(page, /Login SMTP recusado em 10\/03\/2026 12:00: 535 5\.7\.8/);
    assert.match(page, /5 por minuto/);
    h.jar.set("carteiro_lang", "en");
    assert.match(await (await h.request("/accounts")).text(), /SMTP login refused at/);

    const token = await h.apiToken();
    const api = (path: string, init: RequestInit = {}) =>
      h.app.request(`http://localhost${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      });
    const one = (await (await api(`/api/v1/accounts/${id}`)).json()).data;
    assert.equal(
      one.health.smtp_auth_failure.error,
      "535 5.7.8 Username and Password not accepted",
    );
    assert.deepEqual(one.send_budget, {
      set: { per_minute: 5, per_day: null },
      in_force: { per_minute: 5, per_day: null },
      provider: "gmail",
    });
    const metrics = await (await api("/metrics")).text();
    assert.match(metrics, /carteiro_account_smtp_auth_failed\{account="vendas"\} 1/);

    // An edit by the API: back to the provider's default, and the refused login is cleared.
    const bad2 = await api(`/api/v1/accounts/${id}/send_budget`, {
      method: "PUT",
      body: JSON.stringify({ per_day: "many" }),
    });
    assert.equal(bad2.status, 422);
    // An object with a `toString` key can't be turned into text: refused as not a number.
    for (const hostile of [{ toString: 1 }, [5], true]) {
      const bad = await api(`/api/v1/accounts/${id}/send_budget`, {
        method: "PUT",
        body: JSON.stringify({ per_minute: hostile }),
      });
      assert.equal(bad.status, 422, JSON.stringify(hostile));
      assert.match((await bad.json()).error.message, /per_minute: a whole number/);
    }
    const put = await api(`/api/v1/accounts/${id}/send_budget`, {
      method: "PUT",
      body: JSON.stringify({ default: true }),
    });
    assert.equal(put.status, 200);
    const after = (await put.json()).data;
    assert.deepEqual(after.send_budget.in_force, { per_minute: null, per_day: 500 });
    assert.equal(after.health.smtp_auth_failure, null);
    const events = await h.db.query<{ event: string; detail: { by: string; reason?: string } }>(
      "SELECT event, detail FROM audit_events WHERE event = 'smtp_auth_cleared'",
    );
    assert.deepEqual(events.map((e) => [e.detail.reason, e.detail.by]), [
      ["account_edited", "token:tests"],
    ]);
    assert.equal(
      (await api("/api/v1/accounts/999/send_budget", {
        method: "PUT",
        body: JSON.stringify({ per_minute: 5 }),
      })).status,
      404,
    );
  } finally {
    await h.close();
  }
});
