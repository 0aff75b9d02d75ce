import type { AccountRow } from "../store/accounts.ts";
import { collectAccount, type CollectDeps, type CollectSummary } from "./collect_account.ts";

/**
 * Collects every enabled account side by side. Each account's failure is caught and recorded by
 * `collectAccount`, so one broken or slow account never holds back the others. An account whose
 * OAuth grant was refused waits for a person to reconnect it: asking again would only be refused.
 */
export async function collectAll(
  deps: CollectDeps,
  accounts: AccountRow[],
): Promise<CollectSummary[]> {
  return await Promise.all(
    accounts.filter((a) => a.enabled && !a.reauthorizationNeeded).map((a) =>
      collectAccount(deps, a)
    ),
  );
}
