/**
 * Accounts added, edited, disabled and deleted through `/api/v1/accounts` and the accounts page;
 * a deleted account's kept messages show "(deleted account)".
 */
import assert from "node:assert/strict";
import { eml, type Harness, harness, seedMessage } from "./support.ts";

async function call(h: Harness, token: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  if (init.body) headers.set("Content-Type", "application/json");
  return await h.app.request(`http://localhost${path}`, { ...init, headers });
}

const LOJA = {
  name: "loja",
  address: "loja@empresa.test",
  enabled: true,
  imap_host: "127.0.0.1",
  imap_port: 993,
  imap_tls: true,
  imap_user: "loja",
  mailboxes: ["INBOX"],
  imap_pass: "segredo-imap",
};

Deno.test("API: create 201, edit keeps the password, disable, enable, delete with a choice", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken();
    const created = await call(h, token, "/api/v1/accounts", {
      method: "POST",
      body: JSON.stringify(LOJA),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const a = (await created.json()).data;
    assert.equal(a.name, "loja");
    assert.equal(JSON.stringify(a).includes("segredo"), false, "no password in the answer");
    const [{ imap_pass_enc }] = await h.db.query<{ imap_pass_enc: string }>(
      "SELECT imap_pass_enc FROM accounts WHERE id = $1",
      [a.id],
    );
    assert.ok(imap_pass_enc && !imap_pass_enc.includes("segredo"), "stored encrypted");

    const invalid = await call(h, token, "/api/v1/accounts", {
      method: "POST",
      body: JSON.stringify({ ...LOJA, name: "outra", imap_port: 70000 }),
    });
    assert.equal(invalid.status, 422);
    assert.match((await invalid.json()).error.message, /imap_port/);
    const taken = await call(h, token, "/api/v1/accounts", {
      method: "POST",
      body: JSON.stringify(LOJA),
    });
    assert.equal(taken.status, 409);

    const edited = await call(h, token, `/api/v1/accounts/${a.id}`, {
      method: "PUT",
      body: JSON.stringify({ display_name: "Loja" }),
    });
    assert.equal(edited.status, 200, await edited.clone().text());
    const [after] = await h.db.query<{ imap_pass_enc: string; display_name: string }>(
      "SELECT imap_pass_enc, display_name FROM accounts WHERE id = $1",
      [a.id],
    );
    assert.deepEqual([after.imap_pass_enc, after.display_name], [imap_pass_enc, "Loja"]);

    const off = await call(h, token, `/api/v1/accounts/${a.id}/disable`, { method: "POST" });
    assert.equal((await off.json()).data.enabled, false);
    const on = await call(h, token, `/api/v1/accounts/${a.id}/enable`, { method: "POST" });
    assert.equal((await on.json()).data.enabled, true);

    // A message of the account, with a reply waiting.
    const m = await seedMessage(h.db, eml({ subject: "Pedido 9" }), {
      outbox: { status: "pending" },
    });
    await h.db.query("UPDATE messages SET account_id = $1 WHERE id = $2", [a.id, m]);
    await h.db.query("UPDATE outbox SET account_id = $1 WHERE message_id = $2", [a.id, m]);

    const noChoice = await call(h, token, `/api/v1/accounts/${a.id}`, { method: "DELETE" });
    assert.equal(noChoice.status, 422);
    assert.match((await noChoice.json()).error.message, /erase.*keep/);
    const kept = await call(h, token, `/api/v1/accounts/${a.id}?messages=keep`, {
      method: "DELETE",
    });
    assert.equal(kept.status, 200, await kept.clone().text());
    assert.deepEqual((await kept.json()).data, {
      name: "loja",
      messages: "keep",
      message_count: 1,
      replies_cancelled: 1,
    });
    assert.equal((await call(h, token, `/api/v1/accounts/${a.id}`)).status, 404);
    const [row] = await h.db.query<{ status: string }>(
      "SELECT status FROM outbox WHERE message_id = $1",
      [m],
    );
    assert.equal(row.status, "cancelled");
    const msg = await call(h, token, `/api/v1/messages/${m}`);
    assert.equal(msg.status, 200);
    assert.equal((await msg.json()).data.account, null);

    await h.login();
    for (const path of ["/messages", `/messages/${m}`]) {
      const page = await h.request(path);
      assert.equal(page.status, 200, path);
      assert.match(await page.text(), /\(conta excluída\)/, path);
    }
  } finally {
    await h.close();
  }
});

Deno.test("API: the environment's account is neither edited nor deleted there", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken();
    const [env] = await h.db.query<{ id: number }>("SELECT id FROM accounts WHERE source = 'env'");
    const del = await call(h, token, `/api/v1/accounts/${env.id}?messages=erase`, {
      method: "DELETE",
    });
    assert.equal(del.status, 409);
    assert.match((await del.json()).error.message, /environment/);
    const put = await call(h, token, `/api/v1/accounts/${env.id}`, {
      method: "PUT",
      body: JSON.stringify({ display_name: "x" }),
    });
    assert.equal(put.status, 409);
    assert.match((await put.json()).error.message, /environment/);
    const read = await h.apiToken("reader", { scopes: ["read"] });
    const refused = await call(h, read, "/api/v1/accounts", {
      method: "POST",
      body: JSON.stringify(LOJA),
    });
    assert.equal(refused.status, 403);
  } finally {
    await h.close();
  }
});

Deno.test("page: Delete asks for a choice and a confirmation, then removes the account", async () => {
  const h = await harness();
  try {
    await h.login();
    const added = await h.post("/accounts", {
      name: "loja",
      address: "loja@empresa.test",
      enabled: "1",
      imap_host: "127.0.0.1",
      imap_port: "993",
      imap_tls: "1",
      imap_user: "loja",
      mailboxes: "INBOX",
    });
    assert.equal(added.status, 303, await added.text());
    const [{ id }] = await h.db.query<{ id: number }>(
      "SELECT id FROM accounts WHERE name = 'loja'",
    );
    const page = await (await h.request(`/accounts/${id}`)).text();
    assert.match(page, new RegExp(`action="/accounts/${id}/delete"`));
    assert.match(page, /name="messages" value="keep"/);
    assert.match(page, /name="messages" value="erase"/);

    const unconfirmed = await h.post(`/accounts/${id}/delete`, { messages: "erase" });
    assert.equal(unconfirmed.status, 422);
    assert.match(await unconfirmed.text(), /Marque a confirmação/);
    const unchosen = await h.post(`/accounts/${id}/delete`, { confirm: "1" });
    assert.equal(unchosen.status, 422);
    assert.match(await unchosen.text(), /mantém ou apaga/);

    const [env] = await h.db.query<{ id: number }>("SELECT id FROM accounts WHERE source = 'env'");
    assert.doesNotMatch(await (await h.request(`/accounts/${env.id}`)).text(), /\/delete"/);
    const envDelete = await h.post(`/accounts/${env.id}/delete`, {
      messages: "erase",
      confirm: "1",
    });
    assert.equal(envDelete.status, 422);

    const deleted = await h.post(`/accounts/${id}/delete`, { messages: "erase", confirm: "1" });
    assert.equal(deleted.status, 303);
    const left = await h.db.query("SELECT id FROM accounts WHERE name = 'loja'");
    assert.equal(left.length, 0);
  } finally {
    await h.close();
  }
});
