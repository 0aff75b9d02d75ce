/**
 * How a stored account's IMAP or SMTP server is reached: TLS from the first byte (RFC 8314 §3),
 * STARTTLS required before anything else (RFC 3501 §6.2.1, RFC 3207), or plain — no encryption
 * at all, which only a loopback host may be (127.0.0.0/8, ::1, localhost): a password never
 * crosses a network in clear. Pure: the form, the API, the CLI and the action read modes here.
 */
import { isLoopbackHost } from "./private_address.ts";

/** One of the three ways to reach a server. */
export type TlsMode = "tls" | "starttls" | "plain";

/** The modes, in the order the account form lists them. */
export const TLS_MODES: readonly TlsMode[] = Object.freeze(["tls", "starttls", "plain"] as const);

/** Whether `value` names a mode. */
export function isTlsMode(value: unknown): value is TlsMode {
  return typeof value === "string" && (TLS_MODES as readonly string[]).includes(value);
}

/**
 * The mode an older client's TLS box meant (`imap_tls`/`smtp_tls` as true or false): checked is
 * TLS from the first byte — for SMTP only on port 465, any other port upgrading with STARTTLS;
 * unchecked never meant plain, it meant STARTTLS, required.
 */
export function legacyTlsMode(kind: "imap" | "smtp", tls: boolean, port: number): TlsMode {
  if (!tls) return "starttls";
  return kind === "smtp" && port !== 465 ? "starttls" : "tls";
}

/**
 * Reads a mode as a form or a JSON body gives it: a mode's name, or an older client's boolean
 * (`true`, `false`, `1`, `on`, empty for an unchecked box). Null: neither.
 */
export function readTlsMode(
  kind: "imap" | "smtp",
  value: string,
  port: number,
): TlsMode | null {
  const v = value.trim().toLowerCase();
  if (isTlsMode(v)) return v;
  if (["1", "on", "true"].includes(v)) return legacyTlsMode(kind, true, port);
  if (["", "0", "off", "false"].includes(v)) return legacyTlsMode(kind, false, port);
  return null;
}

/**
 * The problem with reaching `host` in `mode`, as one line starting with the field, or null:
 * plain is allowed only to a loopback host.
 */
export function tlsModeProblem(kind: "imap" | "smtp", mode: TlsMode, host: string): string | null {
  if (mode !== "plain" || isLoopbackHost(host)) return null;
  return `${kind}_tls: plain (no TLS, no STARTTLS) is allowed only to a loopback host ` +
    `(127.0.0.0/8, ::1, localhost), not ${host}; choose tls or starttls`;
}
