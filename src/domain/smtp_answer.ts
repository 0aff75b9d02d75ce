/**
 * What an SMTP server's refusal means for a reply (RFC 5321 §4.2.1 reply codes, RFC 3463
 * enhanced status codes), beyond the first digit: providers answer a full sending quota or a
 * refused login with codes that look permanent but are not about the reply at all.
 *
 * - `quota`: the account sent too much for now (Gmail `550 5.4.5`, `421 4.7.0`; Exchange Online
 *   `4.3.2`/`5.2.2` submission quota, `SubmissionQuotaExceeded`): the reply waits, never fails.
 * - `auth`: the server refused the account's login (`535`, `530 5.7.0`/`5.7.57`, Exchange's
 *   `550 5.7.30` basic authentication not supported, `5.7.139`, `5.7.3`): nothing is wrong with
 *   the reply; the account needs a person.
 * - `temporary` / `permanent`: the usual reading of 4xx and 5xx.
 */

export type SmtpAnswerKind = "quota" | "auth" | "temporary" | "permanent";

/** How long a reply waits after a quota answer: an hour for a daily quota, else five minutes. */
export const QUOTA_WAIT_MS = { daily: 3_600_000, rate: 5 * 60_000 } as const;

const QUOTA_TEXT =
  /quota|rate limit|too many (messages|emails|mails)|sending limit|SubmissionQuotaExceeded|message submission rate|throttl/i;
const AUTH_TEXT =
  /authenticat(ion|e) (failed|unsuccessful|credentials invalid|required)|basic authentication|SmtpClientAuthentication|username and password not accepted|invalid credentials/i;

/** The enhanced status code (`5.4.5`) in an answer's text, or null. */
export function enhancedCode(text: string): string | null {
  const m = /(?:^|[\s-])([245]\.\d{1,3}\.\d{1,3})(?=\s|$|[.,;:])/.exec(text);
  return m ? m[1] : null;
}

/**
 * Classifies one SMTP answer: its three-digit code (null when the connection failed without
 * one) and its text. `command` tells a refused AUTH apart from a refused message.
 */
export function classifySmtpAnswer(
  code: number | null,
  text: string,
  command: "auth" | "other" = "other",
): SmtpAnswerKind | null {
  if (code === null) return null;
  const enhanced = enhancedCode(text);
  if (
    code === 535 || code === 534 || command === "auth" && code >= 500 ||
    enhanced === "5.7.30" || enhanced === "5.7.139" || enhanced === "5.7.57" ||
    (enhanced === "5.7.3" && /auth/i.test(text)) || (code === 530 && /auth/i.test(text)) ||
    (code >= 500 && AUTH_TEXT.test(text))
  ) {
    return "auth";
  }
  if (
    enhanced === "5.4.5" || enhanced === "4.3.2" || (code === 421 && enhanced === "4.7.0") ||
    enhanced === "4.7.28" || (enhanced === "5.2.2" && /submission|quota/i.test(text)) ||
    QUOTA_TEXT.test(text)
  ) {
    return "quota";
  }
  if (code >= 400 && code < 500) return "temporary";
  if (code >= 500 && code < 600) return "permanent";
  return null;
}

/** How long a reply waits after quota answer `text`. */
export function quotaWaitMs(text: string): number {
  return enhancedCode(text) === "5.4.5" || /daily|per day|24 ?h/i.test(text)
    ? QUOTA_WAIT_MS.daily
    : QUOTA_WAIT_MS.rate;
}
