/** The exceptions page (`/exceptions`) and `/api/v1/never-answer`: add, list, remove, problems. */
import assert from "node:assert/strict";
import { type Harness, harness } from "./support.ts";

async function call(h: Harness, token: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  return await h.app.request(`http://localhost${path}`, { ...init, headers });
}

const post = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

Deno.test("exceptions page: linked beside the rules, adds and removes entries", async () => {
  const h = await harness();
  try {
    await h.login();
    const empty = await (await h.request("/exceptions")).text();
    assert.match(
      empty,
      /<a href="\/rules" >Regras<\/a><a href="\/exceptions" aria-current="page">Exceções<\/a>/,
    );
    assert.match(empty, /Nenhuma exceção/);
    assert.match(empty, /<option value="1" >atendimento<\/option>/);

    // htmx: the list fragment, with the new entry.
    const added = await h.post("/exceptions", { pattern: " *@Spam.test ", account: "" }, {
      "HX-Request": "true",
    });
    assert.equal(added.status, 200);
    const fragment = await added.text();
    assert.ok(fragment.startsWith('<div id="exceptions"'), fragment.slice(0, 80));
    assert.match(fragment, /<code>\*@spam\.test<\/code>/);
    assert.match(fragment, /Todas as contas/);
    assert.match(fragment, /admin@example\.test/);

    // Without JavaScript: a redirect to the page, which lists the account's entry.
    const own = await h.post("/exceptions", { pattern: "chefe@empresa.test", account: "1" });
    assert.equal(own.status, 303);
    assert.equal(own.headers.get("Location"), "/exceptions");
    const page = await (await h.request("/exceptions")).text();
    assert.match(page, /chefe@empresa\.test<\/code><\/td><td[^>]*>atendimento</);

    // Problems re-render the form with 422 and what was typed.
    const duplicate = await h.post("/exceptions", { pattern: "*@SPAM.test", account: "" }, {
      "HX-Request": "true",
    });
    assert.equal(duplicate.status, 422);
    const refused = await duplicate.text();
    assert.match(refused, /already on the list/);
    assert.match(refused, /value="\*@SPAM\.test"/);
    const invalid = await h.post("/exceptions", { pattern: "ana silva@x.test", account: "" });
    assert.equal(invalid.status, 422);
    assert.match(await invalid.text(), /not an address glob|não é um padrão de endereço/);
    const noAccount = await h.post("/exceptions", { pattern: "x.test", account: "99" });
    assert.equal(noAccount.status, 422);
    assert.match(await noAccount.text(), /no such account|não há essa conta/);
    const badAccount = await h.post("/exceptions", { pattern: "x.test", account: "abc" });
    assert.equal(badAccount.status, 422);

    const [{ id }] = await h.db.query<{ id: number }>(
      "SELECT id FROM never_answer WHERE pattern = 'chefe@empresa.test'",
    );
    const removed = await h.post(`/exceptions/${id}/remove`, {}, { "HX-Request": "true" });
    assert.equal(removed.status, 200);
    assert.ok(!(await removed.text()).includes("chefe@empresa.test"));
    assert.equal((await h.post(`/exceptions/${id}/remove`)).status, 404);
    assert.equal((await h.post("/exceptions/1/remove", {})).status, 303);
    assert.equal((await h.db.query("SELECT 1 FROM never_answer")).length, 0);
    const events = await h.db.query<{ event: string }>(
      "SELECT event FROM audit_events WHERE event LIKE 'never_answer%' ORDER BY id",
    );
    assert.deepEqual(events.map((e) => e.event), [
      "never_answer_added",
      "never_answer_added",
      "never_answer_removed",
      "never_answer_removed",
    ]);
    // Without the CSRF token nothing is added.
    const forged = await h.request("/exceptions", {
      method: "POST",
      body: new URLSearchParams({ pattern: "y.test" }),
    });
    assert.equal(forged.status, 403);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("API: never-answer list, add and delete, with the API's errors", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken("ops");
    assert.deepEqual(await (await call(h, token, "/api/v1/never-answer")).json(), { data: [] });

    const created = await call(
      h,
      token,
      "/api/v1/never-answer",
      post({ pattern: "Fornecedor.test" }),
    );
    assert.equal(created.status, 201);
    const entry = (await created.json()).data;
    assert.deepEqual(entry, {
      id: entry.id,
      pattern: "fornecedor.test",
      account_id: null,
      account: null,
      created_at: "2026-03-10T12:00:00.000Z",
      created_by: "token:ops",
    });
    const own = await call(
      h,
      token,
      "/api/v1/never-answer",
      post({ pattern: "ana@x.test", account_id: 1 }),
    );
    assert.equal(own.status, 201);
    assert.equal((await own.json()).data.account, "atendimento");
    const listed = (await (await call(h, token, "/api/v1/never-answer")).json()).data;
    assert.deepEqual(listed.map((e: { pattern: string }) => e.pattern), [
      "fornecedor.test",
      "ana@x.test",
    ]);

    const errors = async (init: RequestInit, path = "/api/v1/never-answer") => {
      const res = await call(h, token, path, init);
      return [res.status, (await res.json()).error.code];
    };
    assert.deepEqual(await errors(post({ pattern: "fornecedor.test" })), [409, "conflict"]);
    assert.deepEqual(await errors(post({ pattern: "" })), [422, "invalid_request"]);
    assert.deepEqual(await errors(post({ pattern: 7 })), [422, "invalid_request"]);
    assert.deepEqual(await errors(post({})), [422, "invalid_request"]);
    assert.deepEqual(await errors(post({ pattern: "y.test", account_id: "1" })), [
      422,
      "invalid_request",
    ]);
    assert.deepEqual(await errors(post({ pattern: "y.test", account_id: 99 })), [404, "not_found"]);
    assert.deepEqual(await errors(post("{not json")), [400, "invalid_json"]);

    const deleted = await call(h, token, `/api/v1/never-answer/${entry.id}`, { method: "DELETE" });
    assert.equal(deleted.status, 200);
    assert.deepEqual(await deleted.json(), { data: { deleted: entry.id } });
    assert.deepEqual(await errors({ method: "DELETE" }, `/api/v1/never-answer/${entry.id}`), [
      404,
      "not_found",
    ]);
    assert.deepEqual(await errors({ method: "DELETE" }, "/api/v1/never-answer/abc"), [
      404,
      "not_found",
    ]);
    // Without a token: 401, nothing changed.
    const anonymous = await h.app.request(
      "http://localhost/api/v1/never-answer",
      post({
        pattern: "z.test",
      }),
    );
    assert.equal(anonymous.status, 401);
    assert.equal((await h.db.query("SELECT 1 FROM never_answer")).length, 1);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});
