/**
 * The bounce step of the ingest chain: a delivery status notification (RFC 3464) that comes back
 * for one of our replies is tied to its outbox row and what it says is recorded, in the
 * transaction that saves the notification's classification, before the rules decide (so that a
 * later message of the same batch from an address that just bounced is already held back). The
 * notification itself is never answered: the RFC 3834 guard refuses bounces.
 */
import type { Queryable } from "../store/db.ts";
import { findReportedReply, recordDeliveryReport } from "../store/outbox.ts";
import { recordEvent } from "../store/audit.ts";
import { readDeliveryReport, replyBounce } from "../domain/delivery_status.ts";
import type { ClassifiedMessage } from "./process_messages.ts";

/** Matches and records the delivery reports among `messages`; other messages pass untouched. */
export async function recordBounces(
  tx: Queryable,
  messages: readonly ClassifiedMessage[],
  at: Date,
): Promise<void> {
  for (const m of messages) {
    const report = readDeliveryReport(m.email);
    if (!report || report.candidates.length === 0) continue;
    const found = await findReportedReply(
      tx,
      m.accountId,
      report.candidates.map((c) => c.messageId),
    );
    if (!found) continue;
    const { reply } = found;
    const bounce = replyBounce(report.status, reply.recipient);
    if (!bounce) continue;
    const changed = await recordDeliveryReport(tx, reply.id, {
      outcome: bounce.outcome,
      action: bounce.action,
      status: bounce.status,
      diagnostic: bounce.diagnostic,
      reportMessageId: m.id,
    }, at);
    if (!changed) continue;
    await recordEvent(tx, {
      event: bounce.outcome === "bounced" ? "reply_bounced" : "reply_delayed",
      at,
      accountId: m.accountId,
      messageId: m.id,
      detail: {
        outbox_id: reply.id,
        recipient: reply.recipient,
        reply_to_message: reply.messageId,
        action: bounce.action,
        status: bounce.status,
        diagnostic: bounce.diagnostic,
        matched_by: report.candidates[found.index].by,
      },
    });
  }
}
