/**
 * The account as a reply decision sees it (src/domain/decide_reply.ts `AccountContext`), read in
 * the caller's transaction: its address, when it was connected, and the never-answer patterns
 * that apply to it (the global ones and its own).
 */
import type { Queryable } from "../store/db.ts";
import { listAccounts } from "../store/accounts.ts";
import { neverAnswerFor } from "../store/never_answer.ts";
import type { AccountContext } from "../domain/decide_reply.ts";

/** Account `accountId`'s context; `timeZone` is the zone of its schedules and dates. */
export async function readAccountContext(
  q: Queryable,
  accountId: number,
  timeZone: string,
): Promise<AccountContext> {
  const account = (await listAccounts(q)).find((a) => a.id === accountId);
  if (!account) throw new Error(`account ${accountId} is gone`);
  return {
    id: account.id,
    name: account.name,
    addresses: [account.address],
    connectedAt: account.connectedAt,
    messageIdDomain: account.address.split("@")[1] ?? "carteiro.invalid",
    timeZone,
    neverAnswer: await neverAnswerFor(q, accountId),
  };
}
