/**
 * The account as a reply decision sees it (src/domain/decide_reply.ts `AccountContext`), read in
 * the caller's transaction: its address, when it was connected, the never-answer patterns that
 * apply to it (the global ones and its own), and its reply settings (time zone, receiving-server
 * verdicts, trusted forwarders, rate limits).
 */
import type { Queryable } from "../store/db.ts";
import { listAccounts } from "../store/accounts.ts";
import { neverAnswerFor } from "../store/never_answer.ts";
import type { AccountContext } from "../domain/decide_reply.ts";
import { readAccountReplySettings } from "../store/account_settings.ts";
import { DEFAULT_ACCOUNT_REPLY_SETTINGS } from "../domain/account_settings.ts";

/**
 * Account `accountId`'s context; `timeZone` is the zone of its schedules and dates when the
 * account names none.
 */
export async function readAccountContext(
  q: Queryable,
  accountId: number,
  timeZone: string,
): Promise<AccountContext> {
  const account = (await listAccounts(q)).find((a) => a.id === accountId);
  if (!account) throw new Error(`account ${accountId} is gone`);
  const settings = await readAccountReplySettings(q, accountId) ??
    DEFAULT_ACCOUNT_REPLY_SETTINGS;
  return {
    id: account.id,
    name: account.name,
    addresses: [account.address],
    connectedAt: account.connectedAt,
    messageIdDomain: account.address.split("@")[1] ?? "carteiro.invalid",
    timeZone: settings.timeZone ?? timeZone,
    neverAnswer: await neverAnswerFor(q, accountId),
    verdicts: {
      authservIds: settings.authservIds,
      checkAuth: settings.checkAuth,
      checkSpam: settings.checkSpam,
    },
    // null: the guard's default, the account's own domain.
    ...(settings.trustedForwarders ? { trustedForwarders: settings.trustedForwarders } : {}),
    limits: settings.limits,
  };
}
