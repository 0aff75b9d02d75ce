/**
 * In real Chromium: a person opens a rule's replay from the rules page, chooses mail with the
 * message list's filters and a date, reads the dry-run's list, confirms it, and finds the
 * replies in the outbox — and mail from before the date untouched.
 */
import assert from "node:assert/strict";
import { browserRig, logIn, screenshot } from "./support.ts";
import { eml, seedMessage } from "../routes/support.ts";
import { createRule } from "../../src/actions/rules.ts";

Deno.test({
  name: "a person replays a rule over filtered mail after its dry-run and sees the outbox rows",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const rig = await browserRig();
    try {
      const { page, base, h } = rig;
      const rule = await createRule(h.deps, {
        name: "confirmar-recebimento",
        when: { kind: "direct" },
        reply: { to: "sender", subject: "Re: {{subject}}", text: "Olá {{from_name}}, recebemos." },
      }, "setup");
      assert.ok(rule.ok);
      const old = await seedMessage(h.db, eml({ from: "Olga <olga@cliente.test>" }), {
        receivedAt: new Date("2026-02-10T10:00:00Z"),
      });
      const ana = await seedMessage(h.db, eml({ subject: "Pedido 77" }), {
        receivedAt: new Date("2026-03-02T10:00:00Z"),
        decision: { outcome: "no_rule", ruleName: null, reason: null, detail: null, trail: [] },
      });
      const robot = await seedMessage(
        h.db,
        eml({ from: "robo@cliente.test", headers: { "Auto-Submitted": "auto-generated" } }),
        { receivedAt: new Date("2026-03-03T10:00:00Z") },
      );
      const forwarded = await seedMessage(h.db, eml({ from: "Bia <bia@empresa.test>" }), {
        receivedAt: new Date("2026-03-04T10:00:00Z"),
        kind: "forwarded",
      });
      await logIn(rig);

      await page.goto(`${base}/rules`);
      await Promise.all([
        page.waitForURL(`${base}/rules/${rule.value.id}/replay`),
        page.click(`a[href="/rules/${rule.value.id}/replay"]`),
      ]);
      assert.equal(await page.title(), "Replay rule “confirmar-recebimento” · Carteiro");
      await page.fill('#replay-filters input[name="since"]', "2026-03-01");
      await page.selectOption('#replay-filters select[name="kind"]', "direct");
      await page.click('#replay-filters button[type="submit"]');
      await page.waitForSelector('#replay-report[data-confirmed="false"]');
      assert.equal(
        (await page.textContent("#replay-report .summary"))?.trim(),
        "2 messages examined: 1 would be answered, 1 not.",
      );
      const outcomes = await page.$$eval(
        "#replay-report tr[data-message]",
        (rows) => rows.map((r) => [r.getAttribute("data-message"), r.getAttribute("data-outcome")]),
      );
      assert.deepEqual(outcomes, [[String(ana), "reply"], [String(robot), "skipped"]]);
      assert.match(await page.textContent("#replay-report") ?? "", /auto_submitted/);
      const [before] = await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox");
      assert.equal(before.n, 0, "the dry-run enqueued nothing");
      await screenshot(page, "rule-replay");

      await page.click("#replay-confirm button[type=submit]");
      await page.waitForSelector('#replay-report[data-confirmed="true"]');
      assert.match(
        await page.textContent("#replay-report .summary") ?? "",
        /1 replies enqueued, 1 not answered/,
      );
      const rows = await h.db.query<{ id: number; message_id: number; recipient: string }>(
        "SELECT id, message_id, recipient FROM outbox ORDER BY id",
      );
      assert.deepEqual(rows.map((r) => [Number(r.message_id), r.recipient]), [
        [ana, "ana@cliente.test"],
      ]);
      assert.ok(![old, forwarded].some((m) => rows.some((r) => Number(r.message_id) === m)));

      await Promise.all([
        page.waitForURL(`${base}/outbox`),
        page.click("#replay-report a[href='/outbox']"),
      ]);
      await page.waitForSelector(`#outbox-${rows[0].id}[data-status="pending"]`);
      assert.match(await page.textContent(`#outbox-${rows[0].id}`) ?? "", /ana@cliente\.test/);
      const [audit] = await h.db.query<{ detail: Record<string, unknown> }>(
        "SELECT detail FROM audit_events WHERE event = 'rule_replayed'",
      );
      assert.equal(audit.detail.enqueued, 1);
      assert.deepEqual(rig.outside, [], "no request left 127.0.0.1");
      assert.deepEqual(h.errors, []);
    } finally {
      await rig.close();
    }
  },
});
