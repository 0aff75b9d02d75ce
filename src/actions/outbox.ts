/**
 * A person's actions on the outbox (retry a failed reply, settle an unknown one, cancel a
 * pending one), from the outbox page or `/api/v1/outbox`: one guarded state change and its audit
 * event in one transaction.
 */
import { recordEvent } from "../store/audit.ts";
import { moveOutboxRow, type OutboxListRow } from "../store/outbox_admin.ts";
import { type OutboxAction, outboxTransition } from "../store/outbox_status.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

const EVENT = { retry: "retry_requested", settle: "settled", cancel: "cancelled" } as const;

/**
 * Applies `action` to outbox row `id`: `not_found`, or `wrong_status` (the row is not in a
 * status the action starts from — someone acted first) change nothing.
 */
export function applyOutboxAction(
  deps: ActionDeps,
  id: number,
  action: OutboxAction,
  by: string,
): Promise<Result<OutboxListRow>> {
  const transition = outboxTransition(action);
  return transact(deps.db, async (tx) => {
    const at = deps.now();
    const moved = await moveOutboxRow(tx, id, transition, at);
    if (!moved.ok) {
      return moved.reason === "not_found" ? problem("not_found", "no such outbox row") : problem(
        "wrong_status",
        `the row is ${moved.status}; this action needs ${transition.from.join(" or ")}`,
      );
    }
    const row = moved.row;
    await recordEvent(tx, {
      event: EVENT[action.type],
      at,
      accountId: row.accountId,
      messageId: row.messageId,
      detail: {
        outbox_id: row.id,
        by,
        ...(action.type === "settle" ? { choice: action.choice } : {}),
        from_status: moved.fromStatus,
        to_status: transition.to,
      },
    });
    return done(row);
  }, "the outbox row changed meanwhile");
}
