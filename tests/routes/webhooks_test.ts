/** The webhooks page (`/webhooks`, admin only) and `/api/v1/webhooks`: add, edit, list, resend. */
import assert from "node:assert/strict";
import { type Harness, harness } from "./support.ts";
import { recordEvent } from "../../src/store/audit.ts";

async function call(h: Harness, token: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  return await h.app.request(`http://localhost${path}`, { ...init, headers });
}

const json = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

async function auditEvents(h: Harness) {
  return (await h.db.query<{ event: string }>(
    "SELECT event FROM audit_events WHERE event LIKE 'webhook%' ORDER BY id",
  )).map((r) => r.event);
}

Deno.test("webhooks page: adds an endpoint and shows its secret, edits, disables, deletes", async () => {
  const h = await harness();
  try {
    await h.login();
    const empty = await (await h.request("/webhooks")).text();
    assert.match(empty, /Nenhum endpoint de webhook/);
    assert.match(empty, /href="\/webhooks" aria-current="page"/);

    const refused = await h.post("/webhooks", { url: "ftp://x.test/", events: "" });
    assert.equal(refused.status, 422);
    const problems = await refused.text();
    assert.match(problems, /only http:\/\/ and https:\/\//);
    assert.match(problems, /indique ao menos um evento/);

    // An address on this machine is refused when typed, not at every delivery after.
    const inside = await h.post("/webhooks", { url: "http://127.0.0.1:9/in", events: "*" });
    assert.equal(inside.status, 422);
    assert.match(
      await inside.text(),
      /127\.0\.0\.1 é esta máquina ou uma rede privada, onde as entregas são recusadas \(defina WEBHOOK_ALLOW_PRIVATE=1/,
    );

    const added = await h.post("/webhooks", {
      url: "https://hooks.example.com/in",
      events: "reply.sent",
      account_id: "1",
      description: "CRM",
    });
    assert.equal(added.status, 200);
    assert.equal(added.headers.get("Cache-Control"), "no-store");
    const page = await added.text();
    const secret = /<code class="token">(whsec_[\w-]+)<\/code>/.exec(page)?.[1];
    assert.ok(secret, "the secret is shown once added");
    assert.match(page, /<a href="\/webhooks\/1">https:\/\/hooks\.example\.com\/in<\/a>/);

    const edit = await (await h.request("/webhooks/1")).text();
    assert.ok(edit.includes(secret), "an admin sees the secret again");
    const saved = await h.post("/webhooks/1", {
      url: "https://hooks.example.com/v2",
      events: "reply.unknown",
      account_id: "",
      description: "",
      enabled: "1",
    });
    assert.equal(saved.status, 303);
    const [row] = await h.db.query<{ url: string; account_id: number | null }>(
      "SELECT url, account_id FROM webhook_endpoints",
    );
    assert.deepEqual({ ...row }, { url: "https://hooks.example.com/v2", account_id: null });

    const off = await h.post("/webhooks/1/enabled", { enabled: "0" }, { "HX-Request": "true" });
    assert.equal(off.status, 200);
    assert.match(await off.text(), /<td>Inativa<\/td>/);
    const gone = await h.post("/webhooks/1/delete", {});
    assert.equal(gone.status, 303);
    assert.equal((await h.db.query("SELECT 1 FROM webhook_endpoints")).length, 0);
    assert.deepEqual(await auditEvents(h), [
      "webhook_created",
      "webhook_changed",
      "webhook_changed",
      "webhook_removed",
    ]);
    const [created] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'webhook_created'",
    );
    assert.ok(!JSON.stringify(created.detail).includes(secret), "the secret is never audited");
  } finally {
    await h.close();
  }
});

Deno.test("webhooks page lists deliveries and resends one; API adds, lists and changes", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken("ops");
    const badEvents = await call(
      h,
      token,
      "/api/v1/webhooks",
      json("POST", { url: "https://x.test/", events: ["reply.lost"] }),
    );
    assert.equal(badEvents.status, 422);
    const created = await call(
      h,
      token,
      "/api/v1/webhooks",
      json("POST", { url: "https://x.test/hook", events: "*" }),
    );
    assert.equal(created.status, 201);
    const body = (await created.json()).data;
    assert.match(body.secret, /^whsec_/);
    assert.equal(body.events.length, 8);
    const listed = (await (await call(h, token, "/api/v1/webhooks")).json()).data;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].secret, undefined, "the list never shows a secret");
    const put = await call(
      h,
      token,
      `/api/v1/webhooks/${body.id}`,
      json("PUT", { url: "https://x.test/hook", events: ["reply.sent"], enabled: true }),
    );
    assert.equal(put.status, 200);
    assert.deepEqual((await put.json()).data.events, ["reply.sent"]);
    assert.equal(
      (await call(
        h,
        token,
        "/api/v1/webhooks/99",
        json("PUT", { url: "https://x.test/", events: "*" }),
      ))
        .status,
      404,
    );

    await recordEvent(h.db, {
      event: "sent",
      at: new Date(),
      accountId: 1,
      detail: { outbox_id: 1, recipient: "ana@x.test", attempt: 1, result: "accepted" },
    });
    const deliveries = (await (await call(h, token, "/api/v1/webhooks/deliveries")).json()).data;
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0].event_type, "reply.sent");
    assert.equal(deliveries[0].status, "pending");
    assert.equal(
      (await call(h, token, "/api/v1/webhooks/deliveries?status=lost")).status,
      422,
    );

    await h.login();
    const page = await (await h.request("/webhooks")).text();
    assert.match(page, /<code>reply\.sent<\/code>/);
    assert.match(page, /action="\/webhooks\/deliveries\/1\/resend"/);
    const resent = await h.post("/webhooks/deliveries/1/resend", {});
    assert.equal(resent.status, 303);
    const viaApi = await call(h, token, "/api/v1/webhooks/deliveries/1/resend", { method: "POST" });
    assert.equal(viaApi.status, 200);
    assert.equal(
      (await call(h, token, "/api/v1/webhooks/deliveries/9/resend", { method: "POST" })).status,
      404,
    );
    const removed = await call(h, token, `/api/v1/webhooks/${body.id}`, { method: "DELETE" });
    assert.equal(removed.status, 200);
    assert.deepEqual(await auditEvents(h), [
      "webhook_created",
      "webhook_changed",
      "webhook_resent",
      "webhook_resent",
      "webhook_removed",
    ]);
  } finally {
    await h.close();
  }
});
