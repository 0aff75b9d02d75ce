/** `/outbox`: counts, filters, and a person's actions, each guarded and audited. */
import assert from "node:assert/strict";
import { eml, harness, outboxIdOf, seedMessage } from "./support.ts";
import { claimCopies, oweSentCopies, settleCopy } from "../../src/store/sent_copies.ts";

const HX = { "HX-Request": "true" };

Deno.test("counts, status filter as a fragment, unknown rows explain the choice", async () => {
  const h = await harness();
  try {
    for (const status of ["sent", "sent", "failed", "unknown", "pending"]) {
      await seedMessage(h.db, eml({ subject: `s-${status}` }), { outbox: { status } });
    }
    await h.login();
    const page = await (await h.request("/outbox")).text();
    assert.match(page, /enviada <b>2<\/b>/);
    assert.match(page, /resultado desconhecido <b>1<\/b>/);
    assert.match(page, /falhou <b>1<\/b>/);
    const frag = await h.request("/outbox?status=unknown", { headers: HX });
    assert.match(frag.headers.get("Vary") ?? "", /HX-Request/);
    const html = await frag.text();
    assert.match(html, /^<div id="results">/);
    assert.equal([...html.matchAll(/<tr id="outbox-/g)].length, 1);
    assert.match(html, /data-action="settle-sent"/);
    assert.match(html, /data-action="settle-send_again"/);
    assert.match(html, /hx-confirm="Enviar esta resposta de novo\?/);
    const bad = await h.request("/outbox?status=lost");
    assert.equal(bad.status, 422);
    assert.match(await bad.text(), /<html[\s\S]*<code>status<\/code>: must be one of/);
  } finally {
    await h.close();
  }
});

Deno.test("settle an unknown row: once, as the person chose, audited; never twice", async () => {
  const h = await harness();
  try {
    const m1 = await seedMessage(h.db, eml({}), { outbox: { status: "unknown" } });
    const m2 = await seedMessage(h.db, eml({}), { outbox: { status: "unknown" } });
    const o1 = await outboxIdOf(h.db, m1);
    const o2 = await outboxIdOf(h.db, m2);
    await h.login();

    const sent = await h.post(`/outbox/${o1}/settle`, { choice: "sent" }, HX);
    assert.equal(sent.status, 200);
    const row = await sent.text();
    assert.match(row, new RegExp(`^<tr id="outbox-${o1}" data-status="sent">`));
    const again = await h.post(`/outbox/${o1}/settle`, { choice: "send_again" }, HX);
    assert.equal(again.status, 409, "a settled row cannot be settled again");
    assert.match(await again.text(), /data-status="sent"[\s\S]*nada foi feito/);

    // "Send again" from two tabs at once: one new attempt, not two.
    const [x, y] = await Promise.all([
      h.post(`/outbox/${o2}/settle`, { choice: "send_again" }, HX),
      h.post(`/outbox/${o2}/settle`, { choice: "send_again" }, HX),
    ]);
    assert.deepEqual([x.status, y.status].sort(), [200, 409]);
    const rows = await h.db.query<{ id: number; status: string; sent_at: Date | null }>(
      "SELECT id, status, sent_at FROM outbox ORDER BY id",
    );
    assert.deepEqual(rows.map((r) => [Number(r.id), r.status]), [[o1, "sent"], [o2, "pending"]]);
    assert.ok(rows[0].sent_at);
    const events = await h.db.query<{ event: string; detail: Record<string, unknown> }>(
      "SELECT event, detail FROM audit_events WHERE event = 'settled' ORDER BY id",
    );
    assert.deepEqual(events.map((e) => [e.detail.outbox_id, e.detail.choice, e.detail.by]), [
      [o1, "sent", "admin@example.test"],
      [o2, "send_again", "admin@example.test"],
    ]);
    const invalid = await h.post(`/outbox/${o2}/settle`, { choice: "maybe" }, HX);
    assert.equal(invalid.status, 422);
    assert.match(await invalid.text(), /^<tr id="outbox-/);
  } finally {
    await h.close();
  }
});

Deno.test("retry a failed row, cancel a pending one; without htmx the list comes back", async () => {
  const h = await harness();
  try {
    const failed = await outboxIdOf(
      h.db,
      await seedMessage(h.db, eml({}), { outbox: { status: "failed" } }),
    );
    const pending = await outboxIdOf(
      h.db,
      await seedMessage(h.db, eml({}), { outbox: { status: "pending" } }),
    );
    const sent = await outboxIdOf(
      h.db,
      await seedMessage(h.db, eml({}), { outbox: { status: "sent" } }),
    );
    await h.login();
    const retry = await h.post(`/outbox/${failed}/retry`);
    assert.equal(retry.status, 303);
    assert.equal(retry.headers.get("Location"), `/outbox?status=pending#outbox-${failed}`);
    const cancel = await h.post(`/outbox/${pending}/cancel`, {}, HX);
    assert.equal(cancel.status, 200);
    assert.match(await cancel.text(), /data-status="cancelled"/);
    const wrong = await h.post(`/outbox/${sent}/retry`);
    assert.equal(wrong.status, 409);
    const cancelSent = await h.post(`/outbox/${sent}/cancel`, {}, HX);
    assert.equal(cancelSent.status, 409);
    assert.equal((await h.post("/outbox/99999/retry")).status, 404);
    const statuses = await h.db.query<{ id: number; status: string; next_attempt_at: Date }>(
      "SELECT id, status, next_attempt_at FROM outbox ORDER BY id",
    );
    assert.deepEqual(statuses.map((r) => r.status), ["pending", "cancelled", "sent"]);
    assert.equal(statuses[0].next_attempt_at.toISOString(), h.clock.now.toISOString());
    const events = (await h.db.query<{ event: string }>(
      "SELECT event FROM audit_events WHERE event IN ('retry_requested', 'cancelled') ORDER BY id",
    )).map((e) => e.event);
    assert.deepEqual(events, ["retry_requested", "cancelled"]);
  } finally {
    await h.close();
  }
});

Deno.test("settling on PostgreSQL: concurrent choices change the row once", async () => {
  const h = await harness({ kind: "postgres" });
  try {
    const id = await outboxIdOf(
      h.db,
      await seedMessage(h.db, eml({}), { outbox: { status: "unknown" } }),
    );
    await h.login();
    const results = await Promise.all([
      h.post(`/outbox/${id}/settle`, { choice: "send_again" }, HX),
      h.post(`/outbox/${id}/settle`, { choice: "sent" }, HX),
      h.post(`/outbox/${id}/settle`, { choice: "send_again" }, HX),
    ]);
    const ok = results.filter((r) => r.status === 200).length;
    assert.equal(ok, 1, `statuses ${results.map((r) => r.status)}`);
    const [n] = await h.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE event = 'settled'",
    );
    assert.equal(n.n, 1);
  } finally {
    await h.close();
  }
});

Deno.test("the copy in Sent of each sent reply: on the outbox, the message and the API", async () => {
  const h = await harness();
  try {
    const copied = await seedMessage(h.db, eml({ subject: "s-copied" }), {
      outbox: { status: "sent", subject: "Re: copiada" },
    });
    const waiting = await seedMessage(h.db, eml({ subject: "s-waiting" }), {
      outbox: { status: "sent", subject: "Re: esperando" },
    });
    const gmail = await seedMessage(h.db, eml({ subject: "s-gmail" }), {
      outbox: { status: "sent", subject: "Re: gmail" },
    });
    const at = new Date("2026-03-10T12:00:00Z");
    const later = new Date("2026-03-10T12:05:00Z");
    const outcomes = new Map([
      [copied, { status: "copied" as const, mailbox: "Itens Enviados", uid: 3 }],
      [waiting, {
        status: "retry" as const,
        error: "IMAP 127.0.0.1:1 refused",
        nextAttemptAt: later,
      }],
      [gmail, { status: "skipped" as const, error: "Gmail" }],
    ]);
    for (const [message, outcome] of outcomes) {
      const id = await outboxIdOf(h.db, message);
      await oweSentCopies(h.db, [{ outboxId: id, raw: new TextEncoder().encode("x") }], at, later);
      const [c] = await claimCopies(h.db, at, 60_000, `t${id}`, 1);
      assert.ok(await settleCopy(h.db, c.outboxId, c.claimToken, outcome, at));
    }
    await h.login();
    const page = await (await h.request("/outbox?status=sent")).text();
    assert.match(page, /Copiada para Itens Enviados/);
    assert.match(
      page,
      /Cópia para Enviados pendente \(nova tentativa [^)]*\): IMAP 127\.0\.0\.1:1 refused/,
    );
    assert.match(page, /Sem cópia em Enviados: o servidor já guarda o que é enviado \(Gmail\)/);
    const detail = await (await h.request(`/messages/${waiting}`)).text();
    assert.match(detail, /Cópia para Enviados pendente/);

    const token = await h.apiToken();
    const api = async (path: string) =>
      (await (await h.app.request(`http://localhost/api/v1${path}`, {
        headers: { Authorization: `Bearer ${token}` },
      })).json()).data;
    const rows = await api("/outbox?status=sent") as Array<
      { subject: string; sent_copy: { status: string; mailbox: string | null } }
    >;
    assert.deepEqual(
      rows.map((r) => [r.subject, r.sent_copy.status, r.sent_copy.mailbox]).sort(),
      [
        ["Re: copiada", "copied", "Itens Enviados"],
        ["Re: esperando", "owed", null],
        ["Re: gmail", "skipped", null],
      ],
    );
    const message = await api(`/messages/${waiting}`);
    assert.equal(message.outbox[0].sent_copy.last_error, "IMAP 127.0.0.1:1 refused");
  } finally {
    await h.close();
  }
});
