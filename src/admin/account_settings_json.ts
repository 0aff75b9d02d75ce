/**
 * An account's reply settings as the API and the CLI print them: the stored settings (the shape
 * PATCH and `account set` read) and, beside them, the rate limits in force for its rules that
 * set none (the defaults with the account's over them).
 */
import { type AccountReplySettings, exportAccountSettings } from "../domain/account_settings.ts";
import {
  DEFAULT_RATE_LIMIT_POLICY,
  exportRateLimitOverrides,
  resolveRateLimitPolicy,
} from "../domain/rate_limit.ts";

/** The settings' JSON, with `limits_in_force`. */
export function accountSettingsJson(s: AccountReplySettings) {
  return {
    ...exportAccountSettings(s),
    limits_in_force: exportRateLimitOverrides(
      resolveRateLimitPolicy(DEFAULT_RATE_LIMIT_POLICY, s.limits),
    ),
  };
}
