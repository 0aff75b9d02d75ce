/**
 * The reply-settings form of an account: its fields as typed, and their reading into the JSON
 * that src/actions/account_settings.ts checks (the same JSON the API's PATCH takes), so the form
 * and the API say the same about the same mistake.
 */
import {
  type AccountReplySettings,
  exportAccountSettings,
} from "../src/domain/account_settings.ts";

/** The form as typed. Lists are comma-separated; limits are JSON text. */
export interface AccountSettingsForm {
  time_zone: string;
  authserv_ids: string;
  check_auth: boolean;
  check_spam: boolean;
  trusted_forwarders: string;
  limits: string;
  /** Days, or empty: for ever. */
  keep_raw_days: string;
  keep_messages_days: string;
}

/** The form showing stored settings. */
export function settingsFormOf(s: AccountReplySettings): AccountSettingsForm {
  const json = exportAccountSettings(s);
  return {
    time_zone: s.timeZone ?? "",
    authserv_ids: s.authservIds.join(", "),
    check_auth: s.checkAuth,
    check_spam: s.checkSpam,
    trusted_forwarders: (s.trustedForwarders ?? []).join(", "),
    limits: json.limits ? JSON.stringify(json.limits, null, 2) : "",
    keep_raw_days: s.keepRawDays === null ? "" : String(s.keepRawDays),
    keep_messages_days: s.keepMessagesDays === null ? "" : String(s.keepMessagesDays),
  };
}

/**
 * Reads the posted form into the settings' JSON (every key: the form shows them all). An empty
 * trusted-forwarders field is the default (the account's own domain), empty limits the
 * defaults; limits that are not JSON are a problem of their own, the rest is the action's to check.
 */
export function readSettingsForm(body: Record<string, unknown>): {
  form: AccountSettingsForm;
  json: Record<string, unknown> | null;
  errors: string[];
} {
  const s = (k: string) => (typeof body[k] === "string" ? (body[k] as string).trim() : "");
  const b = (k: string) => ["1", "on", "true"].includes(s(k));
  const list = (v: string) => v.split(",").map((x) => x.trim()).filter(Boolean);
  const form: AccountSettingsForm = {
    time_zone: s("time_zone"),
    authserv_ids: s("authserv_ids"),
    check_auth: b("check_auth"),
    check_spam: b("check_spam"),
    trusted_forwarders: s("trusted_forwarders"),
    limits: s("limits"),
    keep_raw_days: s("keep_raw_days"),
    keep_messages_days: s("keep_messages_days"),
  };
  let limits: unknown = null;
  if (form.limits !== "") {
    try {
      limits = JSON.parse(form.limits);
    } catch (e) {
      const why = e instanceof SyntaxError ? e.message : String(e);
      return { form, json: null, errors: [`limits: is not JSON (${why})`] };
    }
  }
  const forwarders = list(form.trusted_forwarders);
  return {
    form,
    errors: [],
    json: {
      time_zone: form.time_zone === "" ? null : form.time_zone,
      authserv_ids: list(form.authserv_ids),
      check_auth: form.check_auth,
      check_spam: form.check_spam,
      trusted_forwarders: forwarders.length === 0 ? null : forwarders,
      limits,
      keep_raw_days: form.keep_raw_days === "" ? null : form.keep_raw_days,
      keep_messages_days: form.keep_messages_days === "" ? null : form.keep_messages_days,
    },
  };
}
