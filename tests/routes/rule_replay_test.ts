/**
 * `/rules/:id/replay` and `POST /api/v1/rules/:id/replay`: the dry-run's list, the confirmation
 * that enqueues it, a viewer refused, problems as 422 and a stale token as 409.
 */
import assert from "node:assert/strict";
import { eml, type Harness, harness, seedMessage } from "./support.ts";
import { createUser } from "../../src/store/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";

const ACK = {
  name: "ack",
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos." },
};

async function call(h: Harness, token: string, path: string, body: unknown) {
  return await h.app.request(`http://localhost${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

/** A rule and mail: one message before the date, two after (one from the list's filter out). */
async function seed(h: Harness) {
  const token = await h.apiToken();
  const created = await call(h, token, "/api/v1/rules", ACK);
  assert.equal(created.status, 201);
  const ruleId = (await created.json()).data.id as number;
  const old = await seedMessage(h.db, eml({ from: "Olga <olga@cliente.test>" }), {
    receivedAt: new Date("2026-02-10T10:00:00Z"),
  });
  const ana = await seedMessage(h.db, eml({ subject: "Pedido 9" }), {
    receivedAt: new Date("2026-03-02T10:00:00Z"),
    decision: { outcome: "no_rule", ruleName: null, reason: null, detail: null, trail: [] },
  });
  const fwd = await seedMessage(h.db, eml({ from: "Bia <bia@cliente.test>" }), {
    receivedAt: new Date("2026-03-03T10:00:00Z"),
    kind: "forwarded",
    originalFrom: "cliente@externo.test",
  });
  return { token, ruleId, old, ana, fwd };
}

const outboxRows = async (h: Harness) =>
  (await h.db.query<{ message_id: number; recipient: string }>(
    "SELECT message_id, recipient FROM outbox ORDER BY id",
  )).map((r) => [Number(r.message_id), r.recipient]);

Deno.test("replay page: linked from the rules, a dry-run's list, then the confirmation", async () => {
  const h = await harness();
  try {
    await h.login();
    const { ruleId, old, ana, fwd } = await seed(h);
    const list = await (await h.request("/rules")).text();
    assert.match(list, new RegExp(`href="/rules/${ruleId}/replay"[^>]*>Reaplicar<`));
    const page = await h.request(`/rules/${ruleId}/replay`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Reaplicar a regra “ack”/);

    // The date is required.
    const noDate = await h.post(`/rules/${ruleId}/replay`, { kind: "direct" }, {
      "HX-Request": "true",
    });
    assert.equal(noDate.status, 422);
    assert.match(await noDate.text(), /<code>since<\/code>: obrigatório/);

    const dry = await h.post(`/rules/${ruleId}/replay`, { since: "2026-03-01" }, {
      "HX-Request": "true",
    });
    assert.equal(dry.status, 200);
    const fragment = await dry.text();
    assert.ok(fragment.startsWith('<section id="replay"'), fragment.slice(0, 80));
    assert.match(fragment, /2 mensagens examinadas: 1 seriam respondidas, 1 não/);
    assert.match(fragment, new RegExp(`data-message="${ana}" data-outcome="reply"`));
    assert.match(fragment, new RegExp(`data-message="${fwd}" data-outcome="skipped"`));
    assert.ok(!fragment.includes(`data-message="${old}"`), "mail before the date is not listed");
    const token = /name="confirm" value="([0-9a-f]{64})"/.exec(fragment)?.[1];
    assert.ok(token, "the confirmation form carries the dry-run's token");
    assert.deepEqual(await outboxRows(h), []);

    // A viewer may look but not replay.
    await createUser(
      h.db,
      "viewer@example.test",
      await hashPassword("viewer password 123"),
      new Date(),
      "viewer",
    );
    const admin = { jar: h.jar, csrf: h.csrf };
    await h.login({ email: "viewer@example.test", password: "viewer password 123" });
    assert.equal((await h.request(`/rules/${ruleId}/replay`)).status, 200);
    const refused = await h.post(`/rules/${ruleId}/replay`, {
      since: "2026-03-01",
      confirm: token,
    });
    assert.equal(refused.status, 403);
    assert.deepEqual(await outboxRows(h), []);
    h.jar = admin.jar;
    h.csrf = admin.csrf;

    // Without JavaScript: the confirmation answers with the page, the rows enqueued.
    const done = await h.post(`/rules/${ruleId}/replay`, { since: "2026-03-01", confirm: token });
    assert.equal(done.status, 200);
    const html = await done.text();
    assert.match(html, /1 respostas na fila/);
    assert.deepEqual(await outboxRows(h), [[ana, "ana@cliente.test"]]);

    // The same token again: nothing new would be sent, so it no longer matches.
    const again = await h.post(`/rules/${ruleId}/replay`, { since: "2026-03-01", confirm: token });
    assert.equal(again.status, 409);
    assert.match(await again.text(), /run the dry-run again/);
    assert.deepEqual(await outboxRows(h), [[ana, "ana@cliente.test"]]);
    assert.equal((await h.request("/rules/999/replay")).status, 404);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

Deno.test("replay API: dry_run, then dry_run false with the token; problems", async () => {
  const h = await harness();
  try {
    const { token, ruleId, ana, fwd } = await seed(h);
    const path = `/api/v1/rules/${ruleId}/replay`;
    const invalid = await call(h, token, path, { kind: "direct", dry_run: true });
    assert.equal(invalid.status, 422);
    assert.deepEqual((await invalid.json()).error.details, [
      "since: required: only mail received on or after this day is replayed",
    ]);
    const noToken = await call(h, token, path, { since: "2026-03-01", dry_run: false });
    assert.equal(noToken.status, 422);

    const dry = await call(h, token, path, { since: "2026-03-01" });
    assert.equal(dry.status, 200);
    const report = (await dry.json()).data;
    assert.equal(report.confirmed, false);
    assert.deepEqual([report.examined, report.replies, report.skipped], [2, 1, 1]);
    assert.deepEqual(
      report.items.map((i: { message_id: number; outcome: string }) => [
        i.message_id,
        i.outcome,
      ]),
      [[ana, "reply"], [fwd, "skipped"]],
    );
    assert.equal(report.items[0].outbox_id, null);
    assert.deepEqual(await outboxRows(h), []);

    // The filters: only forwarded mail has no reply to make.
    const forwarded = await call(h, token, path, { since: "2026-03-01", kind: "forwarded" });
    assert.equal((await forwarded.json()).data.replies, 0);

    const done = await call(h, token, path, {
      since: "2026-03-01",
      dry_run: false,
      confirm: report.token,
    });
    assert.equal(done.status, 200);
    const confirmed = (await done.json()).data;
    assert.equal(confirmed.confirmed, true);
    assert.equal(typeof confirmed.items[0].outbox_id, "number");
    assert.deepEqual(await outboxRows(h), [[ana, "ana@cliente.test"]]);

    const stale = await call(h, token, path, {
      since: "2026-03-01",
      dry_run: false,
      confirm: report.token,
    });
    assert.equal(stale.status, 409);
    assert.equal((await stale.json()).error.code, "conflict");
    assert.equal(
      (await call(h, token, "/api/v1/rules/999/replay", { since: "2026-03-01" })).status,
      404,
    );
    const [audit] = await h.db.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'rule_replayed'",
    );
    assert.equal(audit.detail.enqueued, 1);
    assert.equal(audit.detail.by, "token:tests");
  } finally {
    await h.close();
  }
});
