/**
 * An account's reply settings (src/domain/account_settings.ts), in their own columns beside the
 * account's connection settings: accounts from the environment have them too.
 */
import type { Queryable } from "./db.ts";
import type { AccountReplySettings } from "../domain/account_settings.ts";
import { exportRateLimitOverrides, parseRateLimitOverrides } from "../domain/rate_limit.ts";

/** Account `id`'s reply settings; null when there is no such account. */
export async function readAccountReplySettings(
  q: Queryable,
  id: number,
): Promise<AccountReplySettings | null> {
  const [r] = await q.query<{
    reply_time_zone: string | null;
    reply_authserv_ids: string[];
    reply_check_auth: boolean;
    reply_check_spam: boolean;
    reply_trusted_forwarders: string[] | null;
    reply_limits: unknown;
    keep_raw_days: number | null;
    keep_messages_days: number | null;
  }>(
    `SELECT reply_time_zone, reply_authserv_ids, reply_check_auth, reply_check_spam,
       reply_trusted_forwarders, reply_limits, keep_raw_days, keep_messages_days
     FROM accounts WHERE id = $1`,
    [id],
  );
  if (!r) return null;
  // Stored limits were checked when saved; ones a later version refuses count as none.
  const limits = r.reply_limits === null ? null : parseRateLimitOverrides(r.reply_limits);
  return {
    timeZone: r.reply_time_zone ?? null,
    authservIds: r.reply_authserv_ids ?? [],
    checkAuth: r.reply_check_auth,
    checkSpam: r.reply_check_spam,
    trustedForwarders: r.reply_trusted_forwarders ?? null,
    limits: limits?.ok ? limits.overrides : null,
    keepRawDays: r.keep_raw_days ?? null,
    keepMessagesDays: r.keep_messages_days ?? null,
  };
}

/** Saves account `id`'s reply settings; false when there is no such account. */
export async function writeAccountReplySettings(
  q: Queryable,
  id: number,
  s: AccountReplySettings,
): Promise<boolean> {
  const rows = await q.query(
    `UPDATE accounts SET reply_time_zone = $2, reply_authserv_ids = $3::jsonb,
       reply_check_auth = $4, reply_check_spam = $5, reply_trusted_forwarders = $6::jsonb,
       reply_limits = $7::jsonb, keep_raw_days = $8, keep_messages_days = $9
     WHERE id = $1 RETURNING 1 AS ok`,
    [
      id,
      s.timeZone,
      JSON.stringify(s.authservIds),
      s.checkAuth,
      s.checkSpam,
      s.trustedForwarders === null ? null : JSON.stringify(s.trustedForwarders),
      s.limits === null ? null : JSON.stringify(exportRateLimitOverrides(s.limits)),
      s.keepRawDays,
      s.keepMessagesDays,
    ],
  );
  return rows.length === 1;
}
