/**
 * Bounced replies in the admin and the API: the answered message shows what the delivery report
 * said and links to it; the report's own page links back to the reply and the message it
 * answered; the outbox filters on `bounced`; `recipient_bounced` is explained in both languages.
 */
import assert from "node:assert/strict";
import { eml, harness, outboxIdOf, seedMessage } from "./support.ts";
import { recordDeliveryReport } from "../../src/store/outbox.ts";

const DIAGNOSTIC = "550 5.1.1 <ninguem@cliente.test>: Recipient address rejected: User unknown";

for (const kind of ["pglite", "postgres"] as const) {
  Deno.test(`a bounced reply on the message, its report, the outbox and the API [${kind}]`, async () => {
    const h = await harness({ kind });
    try {
      const answered = await seedMessage(h.db, eml({ subject: "Pedido 7" }), {
        decision: { outcome: "reply", ruleName: "ack", reason: null, detail: null, trail: [] },
        outbox: { status: "sent", recipient: "ninguem@cliente.test" },
      });
      const report = await seedMessage(
        h.db,
        eml({ subject: "Undelivered Mail Returned to Sender", from: "mailer-daemon@empresa.test" }),
        {},
      );
      const outboxId = await outboxIdOf(h.db, answered);
      assert.ok(
        await recordDeliveryReport(h.db, outboxId, {
          outcome: "bounced",
          action: "failed",
          status: "5.1.1",
          diagnostic: DIAGNOSTIC,
          reportMessageId: report,
        }, h.clock.now),
      );
      const held = await seedMessage(h.db, eml({ subject: "Pedido 8" }), {
        decision: {
          outcome: "suppressed",
          ruleName: "ack",
          reason: "recipient_bounced",
          detail: "a reply to ninguem@cliente.test bounced permanently at …",
          trail: [],
        },
      });
      await h.login();

      const page = await (await h.request(`/messages/${answered}`)).text();
      assert.match(page, /data-report-action="failed"/);
      assert.match(page, /<code>5\.1\.1<\/code>/);
      assert.ok(page.includes("Recipient address rejected: User unknown"), "the diagnostic");
      assert.ok(page.includes(`href="/messages/${report}"`), "a link to the report");

      const own = await (await h.request(`/messages/${report}`)).text();
      assert.match(own, /id="delivery-report"/);
      assert.ok(own.includes(`#outbox-${outboxId}"`), "a link to the outbox row");
      assert.ok(own.includes(`href="/messages/${answered}"`), "a link to the answered message");

      const outbox = await (await h.request("/outbox?status=bounced")).text();
      assert.match(outbox, new RegExp(`id="outbox-${outboxId}"[^>]*data-status="bounced"`));
      assert.ok(outbox.includes("Recipient address rejected"), "the diagnostic as the last error");

      const pt = await (await h.request(`/messages/${held}`)).text();
      assert.ok(pt.includes("voltou com falha permanente"), "the reason in Portuguese");
      const en = await (await h.request(`/messages/${held}`, {
        headers: { "Accept-Language": "en" },
      })).text();
      assert.ok(en.includes("bounced permanently (status 5.x.x)"), "the reason in English");

      const token = await h.apiToken();
      const api = async (path: string) => {
        const res = await h.request(path, { headers: { Authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200, path);
        return (await res.json()).data;
      };
      const rows = await api("/api/v1/outbox?status=bounced");
      assert.deepEqual(rows.map((r: { id: number }) => r.id), [outboxId]);
      assert.deepEqual(rows[0].delivery_report, {
        action: "failed",
        status: "5.1.1",
        diagnostic: DIAGNOSTIC,
        report_message_id: report,
        at: h.clock.now.toISOString(),
      });
      const reportJson = await api(`/api/v1/messages/${report}`);
      assert.deepEqual(
        reportJson.delivery_report_for.map((r: Record<string, unknown>) => [
          r.outbox_id,
          r.status,
          r.message_id,
        ]),
        [[outboxId, "bounced", answered]],
      );
      assert.equal(
        (await api(`/api/v1/messages/${answered}`)).outbox[0].delivery_report.status,
        "5.1.1",
      );
      assert.deepEqual(h.errors, []);
    } finally {
      await h.close();
    }
  });
}
