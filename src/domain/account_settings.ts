/**
 * An account's reply settings — the ones its rules and the guard read, apart from how the account
 * is reached: its time zone, its receiving server's authserv-ids (RFC 8601
 * `Authentication-Results`), whether the SPF/DMARC and spam checks run, who may forward mail to be
 * answered to its author, its rate limits, and how long its raw sources and messages are kept
 * (docs/retention.md). The JSON form (API, CLI) is snake_case; the same
 * reader checks the admin form, so every door says the same thing about the same mistake.
 */
import { isTimeZone } from "./schedule.ts";
import { readNeverAnswerPattern } from "./never_answer.ts";
import {
  exportRateLimitOverrides,
  parseRateLimitOverrides,
  type RateLimitOverrides,
} from "./rate_limit.ts";
import { isObject } from "./json_checks.ts";
import { readKeepDays } from "./retention.ts";

/** An account's reply settings. */
export interface AccountReplySettings {
  /** IANA zone of its schedules and reply dates; null: the server's. */
  timeZone: string | null;
  /** The authserv-ids its own receiving servers stamp (e.g. `mx.google.com`); none: SPF/DMARC unread. */
  authservIds: string[];
  /** SPF `fail` or DMARC `fail` from those servers means no reply (`auth_failed`). */
  checkAuth: boolean;
  /** A spam verdict means no reply (`spam`). */
  checkSpam: boolean;
  /** Addresses, globs and domains whose forwards are answered to their author; null: the account's own domain. */
  trustedForwarders: string[] | null;
  /** Its rate window, breakers and cool-down over the defaults; null: the defaults. */
  limits: RateLimitOverrides | null;
  /** Days a message's raw source is kept (then only the parsed message stays); null: for ever. */
  keepRawDays: number | null;
  /** Days a message, its decision and its replies are kept; null: for ever. */
  keepMessagesDays: number | null;
}

/** A new account's settings: the server's zone, both checks on, its own domain trusted. */
export const DEFAULT_ACCOUNT_REPLY_SETTINGS: Readonly<AccountReplySettings> = Object.freeze({
  timeZone: null,
  authservIds: [],
  checkAuth: true,
  checkSpam: true,
  trustedForwarders: null,
  limits: null,
  keepRawDays: null,
  keepMessagesDays: null,
});

/** The JSON keys, in the order they are shown. */
export const ACCOUNT_SETTING_KEYS = [
  "time_zone",
  "authserv_ids",
  "check_auth",
  "check_spam",
  "trusted_forwarders",
  "limits",
  "keep_raw_days",
  "keep_messages_days",
] as const;

/** At most this many authserv-ids and trusted forwarders. */
export const MAX_SETTING_ITEMS = 50;

// RFC 8601 §2.2: an authserv-id is a `value` (a token or a quoted string), in practice a host
// name; whitespace, `;` and quotes would not survive the header's grammar.
const AUTHSERV_ID = /^[A-Za-z0-9._:@+-]{1,253}$/;

/** What `readAccountSettings` made of the input: the new settings, or every problem. */
export type AccountSettingsParse =
  | { ok: true; settings: AccountReplySettings; notes: string[] }
  | { ok: false; errors: string[] };

/**
 * Reads settings from JSON: the keys given replace `base`'s, the others are kept (a PATCH). Each
 * problem is one line starting with its key (`trusted_forwarders[1]: …`, `limits.breakers[0].max: …`).
 */
export function readAccountSettings(
  input: unknown,
  base: Readonly<AccountReplySettings> = DEFAULT_ACCOUNT_REPLY_SETTINGS,
): AccountSettingsParse {
  if (!isObject(input)) {
    return {
      ok: false,
      errors: [`settings: must be an object with ${ACCOUNT_SETTING_KEYS.join(", ")}`],
    };
  }
  const errors: string[] = [];
  const notes: string[] = [];
  const out: AccountReplySettings = {
    ...base,
    authservIds: [...base.authservIds],
    trustedForwarders: base.trustedForwarders && [...base.trustedForwarders],
  };
  for (const key of Object.keys(input)) {
    if (!(ACCOUNT_SETTING_KEYS as readonly string[]).includes(key)) {
      errors.push(`${key}: unknown setting (known: ${ACCOUNT_SETTING_KEYS.join(", ")})`);
    }
  }

  const zone = input.time_zone;
  if (zone !== undefined) {
    if (zone === null || zone === "") out.timeZone = null;
    else if (typeof zone !== "string" || !isTimeZone(zone.trim())) {
      errors.push(
        `time_zone: ${JSON.stringify(zone)} is not an IANA time zone ` +
          '(e.g. "America/Sao_Paulo", "Europe/Lisbon"; empty: the server\'s)',
      );
    } else out.timeZone = zone.trim();
  }

  const ids = input.authserv_ids;
  if (ids !== undefined) {
    const list = stringList(ids, "authserv_ids", errors);
    if (list) {
      const bad = list.findIndex((id) => !AUTHSERV_ID.test(id));
      if (bad >= 0) {
        errors.push(
          `authserv_ids[${bad}]: ${JSON.stringify(list[bad])} is not an authserv-id ` +
            '(the host name the receiving server writes first in Authentication-Results, e.g. "mx.google.com")',
        );
      } else out.authservIds = unique(list.map((id) => id.toLowerCase()));
    }
  }

  for (const key of ["check_auth", "check_spam"] as const) {
    const v = input[key];
    if (v === undefined) continue;
    if (typeof v !== "boolean") errors.push(`${key}: must be true or false`);
    else if (key === "check_auth") out.checkAuth = v;
    else out.checkSpam = v;
  }

  const forwarders = input.trusted_forwarders;
  if (forwarders !== undefined) {
    if (forwarders === null) out.trustedForwarders = null;
    else {
      const list = stringList(forwarders, "trusted_forwarders", errors);
      if (list) {
        const patterns: string[] = [];
        list.forEach((raw, i) => {
          const read = readNeverAnswerPattern(raw);
          if (read.ok) patterns.push(read.pattern);
          else errors.push(`trusted_forwarders[${i}]: ${read.error.replace(/^pattern: /, "")}`);
        });
        out.trustedForwarders = unique(patterns);
      }
    }
  }

  const limits = input.limits;
  if (limits !== undefined) {
    if (limits === null) out.limits = null;
    else {
      const parsed = parseRateLimitOverrides(limits, "limits");
      if (parsed.ok) {
        out.limits = Object.keys(parsed.overrides).length > 0 ? parsed.overrides : null;
        notes.push(...parsed.notes);
      } else errors.push(...parsed.errors);
    }
  }

  if (input.keep_raw_days !== undefined) {
    out.keepRawDays = readKeepDays(input.keep_raw_days, "keep_raw_days", errors);
  }
  if (input.keep_messages_days !== undefined) {
    out.keepMessagesDays = readKeepDays(input.keep_messages_days, "keep_messages_days", errors);
  }

  return errors.length > 0 ? { ok: false, errors } : { ok: true, settings: out, notes };
}

/** The JSON form, the shape `readAccountSettings` reads. */
export function exportAccountSettings(s: Readonly<AccountReplySettings>) {
  return {
    time_zone: s.timeZone,
    authserv_ids: [...s.authservIds],
    check_auth: s.checkAuth,
    check_spam: s.checkSpam,
    trusted_forwarders: s.trustedForwarders && [...s.trustedForwarders],
    limits: s.limits && exportRateLimitOverrides(s.limits),
    keep_raw_days: s.keepRawDays,
    keep_messages_days: s.keepMessagesDays,
  };
}

function stringList(v: unknown, key: string, errors: string[]): string[] | null {
  if (!Array.isArray(v)) {
    errors.push(`${key}: must be a list of text`);
    return null;
  }
  if (v.length > MAX_SETTING_ITEMS) {
    errors.push(`${key}: at most ${MAX_SETTING_ITEMS} entries`);
    return null;
  }
  const bad = v.findIndex((x) => typeof x !== "string" || x.trim() === "");
  if (bad >= 0) {
    errors.push(`${key}[${bad}]: must be non-empty text`);
    return null;
  }
  return v.map((x: string) => x.trim());
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}
