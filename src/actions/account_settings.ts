/**
 * An account's reply settings (time zone, authserv-ids, the SPF/DMARC and spam checks, trusted
 * forwarders, rate limits), from the account's settings page, `/api/v1/accounts/{id}/settings`
 * or `deno task cli account set`: validated, saved and audited as `account_settings_changed` in
 * one transaction. Accounts from the environment have them too: they are not connection settings.
 */
import { recordEvent } from "../store/audit.ts";
import { readAccountReplySettings, writeAccountReplySettings } from "../store/account_settings.ts";
import {
  ACCOUNT_SETTING_KEYS,
  type AccountReplySettings,
  exportAccountSettings,
  readAccountSettings,
} from "../domain/account_settings.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** The settings saved, and notes on values moved into range (a window clamped to 60 days). */
export interface SavedAccountSettings {
  settings: AccountReplySettings;
  notes: string[];
}

/**
 * Applies `input` (JSON: the keys given replace the stored ones) to account `id`'s settings. A
 * faulty value is `invalid` with one line per problem; an unknown account `not_found`.
 */
export function saveAccountSettings(
  deps: ActionDeps,
  id: number,
  input: unknown,
  by: string,
): Promise<Result<SavedAccountSettings>> {
  return transact(deps.db, async (tx) => {
    const before = await readAccountReplySettings(tx, id);
    if (!before) return problem("not_found", "no such account");
    const read = readAccountSettings(input, before);
    if (!read.ok) return problem("invalid", read.errors[0], read.errors);
    await writeAccountReplySettings(tx, id, read.settings);
    const was = exportAccountSettings(before);
    const now = exportAccountSettings(read.settings);
    const changed = ACCOUNT_SETTING_KEYS.filter((k) =>
      JSON.stringify(was[k]) !== JSON.stringify(now[k])
    );
    await recordEvent(tx, {
      event: "account_settings_changed",
      at: deps.now(),
      accountId: id,
      detail: { changed: [...changed], settings: now, by },
    });
    return done({ settings: read.settings, notes: read.notes });
  }, "the account changed meanwhile");
}
