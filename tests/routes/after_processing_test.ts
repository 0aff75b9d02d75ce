/**
 * After processing and unavailable mailboxes in the admin and the API: the setting in the
 * accounts form and `PUT /api/v1/accounts/:id/after_processing`, a failure on the message page and
 * its API document, a missing mailbox on the accounts page, the API and `/metrics`.
 */
import assert from "node:assert/strict";
import { eml, type Harness, harness, seedMessage } from "./support.ts";
import { listAccounts } from "../../src/store/accounts.ts";
import { markAfterPending, recordAfterOutcome } from "../../src/store/after_processing.ts";
import { reportMailboxProblem } from "../../src/store/mailbox_problems.ts";

const FORM = {
  name: "vendas",
  address: "vendas@empresa.test",
  display_name: "",
  enabled: "1",
  imap_host: "imap.empresa.test",
  imap_port: "993",
  imap_tls: "1",
  imap_user: "vendas@empresa.test",
  imap_pass: "imap-Secret-Passw0rd!",
  mailboxes: "INBOX",
  smtp_host: "",
  smtp_port: "",
  smtp_user: "",
};

async function api(h: Harness, token: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  return await h.app.request(`http://localhost${path}`, { ...init, headers });
}

async function accountId(h: Harness, name: string): Promise<number> {
  const [row] = await h.db.query<{ id: number }>("SELECT id FROM accounts WHERE name = $1", [name]);
  return row.id;
}

Deno.test("the accounts form saves after processing, shows it back, refuses a move without a folder", async () => {
  const h = await harness();
  try {
    await h.login();
    const bad = await h.post("/accounts", { ...FORM, after_processing: "move", after_folder: "" });
    assert.equal(bad.status, 422);
    assert.match(
      await bad.text(),
      /<code>after_folder<\/code>: a pasta para onde mover a mensagem processada/,
    );
    const res = await h.post("/accounts", {
      ...FORM,
      after_processing: "move",
      after_folder: "Processados",
    });
    assert.equal(res.status, 303);
    const id = await accountId(h, "vendas");
    const [row] = await h.db.query<{ after_processing: string; after_folder: string }>(
      "SELECT after_processing, after_folder FROM accounts WHERE id = $1",
      [id],
    );
    assert.deepEqual(row, { after_processing: "move", after_folder: "Processados" });
    const page = await (await h.request(`/accounts/${id}`)).text();
    assert.match(page, /<option value="move" selected>/);
    assert.match(page, /name="after_folder" value="Processados"/);
    const [audit] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'account_changed' AND account_id = $1",
      [id],
    );
    assert.equal(audit.detail.after_processing, "move");
    assert.equal(audit.detail.after_folder, "Processados");
    // Back to "leave it as it is": the folder is not kept.
    await h.post(`/accounts/${id}`, { ...FORM, imap_pass: "", after_processing: "keep" });
    const [kept] = await h.db.query<{ after_processing: string; after_folder: string | null }>(
      "SELECT after_processing, after_folder FROM accounts WHERE id = $1",
      [id],
    );
    assert.deepEqual(kept, { after_processing: "keep", after_folder: null });
  } finally {
    await h.close();
  }
});

Deno.test("PUT /api/v1/accounts/:id/after_processing: set, audited, refused when invalid or from the environment", async () => {
  const h = await harness();
  try {
    await h.login();
    assert.equal((await h.post("/accounts", FORM)).status, 303);
    const id = await accountId(h, "vendas");
    const token = await h.apiToken();
    const put = (target: number, body: unknown) =>
      api(h, token, `/api/v1/accounts/${target}/after_processing`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const ok = await put(id, { mode: "seen" });
    assert.equal(ok.status, 200);
    const doc = await ok.json();
    assert.deepEqual(doc.data.after_processing, { mode: "seen", folder: null });
    const invalid = await put(id, { mode: "delete" });
    assert.equal(invalid.status, 422);
    assert.equal((await invalid.json()).error.code, "invalid_request");
    const noFolder = await put(id, { mode: "move" });
    assert.equal(noFolder.status, 422);
    const envAccount = (await listAccounts(h.db)).find((a) => a.source === "env")!;
    assert.equal((await put(envAccount.id, { mode: "seen" })).status, 409);
    assert.equal((await put(999999, { mode: "seen" })).status, 404);
    const moved = await put(id, { mode: "move", folder: "Arquivo" });
    assert.deepEqual((await moved.json()).data.after_processing, {
      mode: "move",
      folder: "Arquivo",
    });
    const got = await (await api(h, token, `/api/v1/accounts/${id}`)).json();
    assert.deepEqual(got.data.after_processing, { mode: "move", folder: "Arquivo" });
    const changes = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'account_changed' AND account_id = $1 ORDER BY id",
      [id],
    );
    assert.deepEqual(
      changes.map((c) => [c.detail.after_processing, c.detail.after_folder]),
      [["keep", null], ["seen", null], ["move", "Arquivo"]],
    );
  } finally {
    await h.close();
  }
});

Deno.test("a failed after-processing is shown on the message page and in its API document", async () => {
  const h = await harness();
  try {
    await h.login();
    const id = await seedMessage(h.db, eml({ subject: "Fica onde está" }), { kind: "direct" });
    const error =
      "IMAP 127.0.0.1: cannot move messages of INBOX to ~Recusada: Invalid mailbox name";
    await markAfterPending(h.db, [id]);
    await recordAfterOutcome(h.db, [id], { kind: "move", folder: "~Recusada" }, error, h.clock.now);
    const page = await (await h.request(`/messages/${id}`)).text();
    assert.match(page, /class="problems after-failed"/);
    assert.ok(page.includes("cannot move messages of INBOX to ~Recusada"), "the server's answer");
    assert.match(page, /failed \(1 tries\)|falhou \(1 tentativas\)/);
    const token = await h.apiToken();
    const doc = await (await api(h, token, `/api/v1/messages/${id}`)).json();
    assert.deepEqual(doc.data.after_processing, {
      state: "failed",
      action: "move",
      folder: "~Recusada",
      error,
      attempts: 1,
      at: h.clock.now.toISOString(),
    });
    // Done on a later run: the page says so, and the failure is gone.
    await recordAfterOutcome(h.db, [id], { kind: "move", folder: "Aceita" }, null, h.clock.now);
    const after = await (await h.request(`/messages/${id}`)).text();
    assert.ok(!after.includes("after-failed"));
    assert.match(after, /class="after-done"/);
    // A message with nothing to do says nothing of it.
    const plain = await seedMessage(h.db, eml({ subject: "Nada" }), { kind: "direct" });
    const none = await (await api(h, token, `/api/v1/messages/${plain}`)).json();
    assert.equal(none.data.after_processing, null);
  } finally {
    await h.close();
  }
});

Deno.test("a missing mailbox is shown on the accounts page, in the API and in /metrics", async () => {
  const h = await harness();
  try {
    await h.login();
    const [account] = await listAccounts(h.db);
    const error = "IMAP 127.0.0.1: cannot open mailbox Naoexiste: Mailbox doesn't exist: Naoexiste";
    assert.equal(
      await reportMailboxProblem(h.db, account.id, "Naoexiste", error, h.clock.now),
      true,
    );
    assert.equal(
      await reportMailboxProblem(h.db, account.id, "Naoexiste", error, h.clock.now),
      false,
      "a second report of the same mailbox is not new",
    );
    const page = await (await h.request("/accounts")).text();
    assert.match(page, /class="mailbox-problem"/);
    assert.ok(page.includes("Naoexiste"));
    const token = await h.apiToken();
    const doc = await (await api(h, token, `/api/v1/accounts/${account.id}`)).json();
    assert.deepEqual(doc.data.health.mailbox_problems, [{
      mailbox: "Naoexiste",
      error,
      since: h.clock.now.toISOString(),
      checked_at: h.clock.now.toISOString(),
    }]);
    const stats = await (await api(h, token, "/api/v1/stats")).json();
    assert.equal(stats.data.accounts[0].mailbox_problems[0].mailbox, "Naoexiste");
    const metrics = await (await api(h, token, "/metrics")).text();
    assert.match(metrics, /carteiro_account_mailboxes_unavailable\{account="[^"]+"\} 1/);
    assert.match(metrics, /carteiro_after_processing_messages\{state="failed"\} 0/);
  } finally {
    await h.close();
  }
});
