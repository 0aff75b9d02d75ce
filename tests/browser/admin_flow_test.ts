/**
 * A person's path through the admin in real Chromium: log in, filter and search messages (htmx
 * fragments, URL kept in sync, back button), open one, load its remote images on request,
 * settle an unknown reply, edit a rule and dry-run it. With CARTEIRO_SCREENSHOTS=1 it also
 * writes docs/screenshots/*.png.
 */
import assert from "node:assert/strict";
import { type BrowserRig, browserRig, logIn, screenshot } from "./support.ts";
import { eml, outboxIdOf, seedMessage } from "../routes/support.ts";
import { insertRule } from "../../src/store/rules_admin.ts";
import type { AuditEvent } from "../../src/domain/audit_events.ts";
import { recordEvents } from "../../src/store/audit.ts";

async function seed(rig: BrowserRig) {
  const db = rig.h.db;
  const day = (d: number, h = 10) => new Date(Date.UTC(2026, 2, d, h, 17));
  const ids: Record<string, number> = {};
  ids.pedido = await seedMessage(
    db,
    eml({
      from: "Ana Souza <ana@cliente.test>",
      subject: "Pedido 4471 — prazo de entrega",
      text: "Olá, gostaria de saber o prazo de entrega do pedido 4471.\n\nObrigada,\nAna",
    }),
    {
      receivedAt: day(9),
      decision: {
        outcome: "reply",
        ruleName: "confirmar-recebimento",
        reason: null,
        detail: null,
        trail: [{ rule: "confirmar-recebimento", hit: true, why: "kind is direct" }],
      },
      outbox: {
        status: "unknown",
        recipient: "ana@cliente.test",
        subject: "Re: Pedido 4471 — prazo de entrega",
      },
    },
  );
  ids.fatura = await seedMessage(
    db,
    eml({
      from: "Financeiro <financeiro@fornecedor.test>",
      subject: "Fwd: Faturas de março",
      text:
        "---------- Forwarded message ---------\nDe: Carla Lima <carla@externo.test>\n\nSeguem as faturas.",
      html:
        `<p>Seguem as <b>faturas</b> de março.</p><p><img src="${rig.base}/pixel.png" alt="logo do fornecedor"></p>`,
    }),
    {
      receivedAt: day(8),
      kind: "forwarded",
      originalFrom: "carla@externo.test",
      decision: {
        outcome: "reply",
        ruleName: "encaminhadas",
        reason: null,
        detail: null,
        trail: [
          {
            rule: "confirmar-recebimento",
            hit: false,
            why: "kind is forwarded, the rule wants direct",
          },
          {
            rule: "encaminhadas",
            hit: true,
            why: 'from "financeiro@fornecedor.test" matches "*@fornecedor.test"',
          },
        ],
      },
      outbox: { status: "sent", recipient: "carla@externo.test", subject: "Re: Faturas de março" },
    },
  );
  ids.ooo = await seedMessage(
    db,
    eml({
      from: "Bruno <bruno@cliente.test>",
      subject: "Out of office: Pedido 4471",
      text: "I am out of the office until Monday.",
      headers: { "Auto-Submitted": "auto-replied" },
    }),
    {
      receivedAt: day(7),
      decision: {
        outcome: "suppressed",
        ruleName: "confirmar-recebimento",
        reason: "auto_submitted",
        detail: 'Auto-Submitted: "auto-replied"',
        trail: [{ rule: "confirmar-recebimento", hit: true, why: "kind is direct" }],
      },
    },
  );
  ids.newsletter = await seedMessage(
    db,
    eml({
      from: "Novidades <news@loja.test>",
      subject: "Promoções da semana",
      text: "Confira as ofertas.",
      headers: { "List-Id": "<ofertas.loja.test>" },
    }),
    {
      receivedAt: day(6),
      decision: {
        outcome: "ignored",
        ruleName: "newsletters",
        reason: null,
        detail: null,
        trail: [],
      },
    },
  );
  ids.broken = await seedMessage(db, new TextEncoder().encode("\x00\x01garbage"), {
    receivedAt: day(5),
    failParse: "the message has no header block",
  });
  ids.duvida = await seedMessage(
    db,
    eml({ subject: "Dúvida sobre boleto", from: "Dora <dora@cliente.test>" }),
    {
      receivedAt: day(4),
      decision: {
        outcome: "reply",
        ruleName: "confirmar-recebimento",
        reason: null,
        detail: null,
        trail: [],
      },
      outbox: {
        status: "failed",
        recipient: "dora@cliente.test",
        subject: "Re: Dúvida sobre boleto",
      },
    },
  );
  await insertRule(db, {
    name: "confirmar-recebimento",
    enabled: true,
    priority: 0,
    definition: {
      name: "confirmar-recebimento",
      enabled: true,
      priority: 0,
      when: { kind: "direct" },
      reply: {
        to: "sender",
        subject: "Re: {{subject}}",
        text: "Olá {{from_name}}, recebemos sua mensagem.",
        html: null,
      },
    },
  }, rig.h.clock.now);
  await insertRule(db, {
    name: "newsletters",
    enabled: true,
    priority: 10,
    definition: {
      name: "newsletters",
      enabled: true,
      priority: 10,
      when: { header: { name: "List-Id" } },
      ignore: true,
    },
  }, rig.h.clock.now);
  await recordEvents(db, [
    { event: "collected", at: day(9, 9), detail: { messages: 6 } } as unknown as AuditEvent,
  ]);
  return ids;
}

const rowIds = (rig: BrowserRig) =>
  rig.page.$$eval(
    "#results tr[data-id]",
    (rows) => rows.map((r) => Number(r.getAttribute("data-id"))),
  );

/** Waits until the results table has `n` rows (polling from the test; the page allows no eval). */
async function waitRows(rig: BrowserRig, n: number) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await rowIds(rig)).length === n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`expected ${n} rows, got ${(await rowIds(rig)).length} after 60 s`);
}

Deno.test({
  name:
    "a person logs in, filters, searches, opens a message, settles a reply, edits and dry-runs a rule",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const rig = await browserRig();
    try {
      const ids = await seed(rig);
      const { page, base } = rig;
      await logIn(rig);
      assert.equal(await page.title(), "Messages · Carteiro");
      assert.deepEqual(await rowIds(rig), [
        ids.pedido,
        ids.fatura,
        ids.ooo,
        ids.newsletter,
        ids.broken,
        ids.duvida,
      ]);
      await screenshot(page, "messages");

      // Filter: a change on the select is an htmx request for the fragment; the URL follows.
      const fragment = page.waitForResponse((r) =>
        r.url().includes("kind=forwarded") && r.request().headers()["hx-request"] === "true"
      );
      await page.selectOption('select[name="kind"]', "forwarded");
      const res = await fragment;
      assert.match(res.headers()["vary"] ?? "", /HX-Request/);
      await page.waitForURL(/kind=forwarded/);
      assert.deepEqual(await rowIds(rig), [ids.fatura]);

      // Search, in Portuguese, with htmx after typing stops.
      await page.selectOption('select[name="kind"]', "");
      await page.waitForURL((u) => !u.search.includes("kind="));
      await page.fill("#q", "pedido");
      await page.waitForURL(/q=pedido/);
      await waitRows(rig, 3);
      // "pedido" is in two subjects and in the text of a third message.
      assert.deepEqual(await rowIds(rig), [ids.pedido, ids.ooo, ids.duvida]);
      // A shared link restores the view; so does the back button.
      const shared = page.url();
      await page.goto(`${base}/messages?kind=forwarded`);
      assert.deepEqual(await rowIds(rig), [ids.fatura]);
      await page.goBack();
      await page.waitForURL(shared);
      assert.equal(await page.inputValue("#q"), "pedido");
      assert.deepEqual(await rowIds(rig), [ids.pedido, ids.ooo, ids.duvida]);
      await page.selectOption('select[name="reply"]', "suppressed");
      await waitRows(rig, 1);
      assert.deepEqual(await rowIds(rig), [ids.ooo]);

      // Open a forwarded message: its HTML is in the sandboxed frame, remote images held back.
      await page.goto(`${base}/messages`);
      await Promise.all([
        page.waitForURL(`${base}/messages/${ids.fatura}`),
        page.click(`a[href="/messages/${ids.fatura}"]`),
      ]);
      await page.waitForSelector("iframe.mailhtml");
      const frame = page.frames().find((f) => f.url().endsWith(`/messages/${ids.fatura}/html`));
      assert.ok(frame, "the HTML frame loaded");
      await frame.waitForSelector(".carteiro-blocked-image");
      assert.equal(await frame.textContent(".carteiro-blocked-image"), "[logo do fornecedor]");
      assert.ok(!rig.requests.some((r) => r.url().endsWith("/pixel.png")), "no image request yet");
      assert.match(await page.textContent("main") ?? "", /carla@externo\.test/);
      await screenshot(page, "message-detail");
      const pixel = page.waitForRequest((r) => r.url() === `${base}/pixel.png`);
      await Promise.all([
        page.waitForURL(/images=[0-9a-f]{32}/),
        page.click("text=Load remote images"),
      ]);
      await pixel;

      // Settle the unknown reply: "send again" asks for confirmation, then the row changes in place.
      await page.goto(`${base}/outbox`);
      await screenshot(page, "outbox");
      const outboxId = await outboxIdOf(rig.h.db, ids.pedido);
      const row = `#outbox-${outboxId}`;
      assert.equal(await page.getAttribute(row, "data-status"), "unknown");
      await page.click(`${row} button[data-action="settle-send_again"]`);
      await page.waitForSelector(`${row}[data-status="pending"]`);
      assert.ok(rig.dialogs.some((d) => d.startsWith("confirm: Send this reply again?")));
      const [stored] = await rig.h.db.query<{ status: string }>(
        "SELECT status FROM outbox WHERE id = $1",
        [outboxId],
      );
      assert.equal(stored.status, "pending");
      const [settled] = await rig.h.db.query<{ detail: Record<string, unknown> }>(
        "SELECT detail FROM audit_events WHERE event = 'settled'",
      );
      assert.equal(settled.detail.choice, "send_again");

      // Edit a rule and dry-run it before saving.
      await page.goto(`${base}/rules`);
      await screenshot(page, "rules");
      await Promise.all([
        page.waitForURL(/\/rules\/\d+$/),
        page.click("text=confirmar-recebimento"),
      ]);
      // The rule opens in the form; its JSON is under "Advanced".
      await page.click('button[name="edit"][value="view:json"]');
      await page.waitForSelector('textarea[name="definition"]');
      const definition = JSON.parse(await page.inputValue('textarea[name="definition"]'));
      definition.reply.text =
        "Olá {{from_name}}, recebemos sua mensagem e responderemos em até 24 horas.";
      await page.fill('textarea[name="definition"]', JSON.stringify(definition, null, 2));
      await page.fill('input[name="days"]', "30");
      await page.click("button[formaction='/rules/dry-run']");
      await page.waitForSelector("#dry-run .summary");
      const summary = await page.textContent("#dry-run .summary") ?? "";
      assert.match(
        summary,
        /5 messages examined: 2 would be answered, 1 suppressed, 1 taken by an earlier rule, 1 not matched/,
      );
      assert.match(await page.textContent("#dry-run") ?? "", /auto_submitted/);
      await page.selectOption('select[name="message_id"]', String(ids.pedido));
      await page.click("button[formaction='/rules/preview']");
      await page.waitForSelector("#preview .reply-preview");
      assert.match(await page.textContent("#preview") ?? "", /responderemos em até 24 horas/);
      await screenshot(page, "rule-edit");
      await Promise.all([
        page.waitForURL(`${base}/rules`),
        page.click('button[value="save"]:not(.default-submit)'),
      ]);
      const [rule] = await rig.h.db.query<{ definition: { reply: { text: string } } }>(
        "SELECT definition FROM rules WHERE name = 'confirmar-recebimento'",
      );
      assert.match(rule.definition.reply.text, /24 horas/);
      const [outboxRows] = await rig.h.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM outbox",
      );
      assert.equal(outboxRows.n, 3, "the dry-run queued nothing");
      assert.deepEqual(rig.outside, [], "no request left 127.0.0.1");
      assert.deepEqual(rig.h.errors, []);
    } finally {
      await rig.close();
    }
  },
});
