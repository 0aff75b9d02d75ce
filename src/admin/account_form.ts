/**
 * The account form: its fields as typed, and their reading into the settings an account is
 * saved with (src/actions/accounts.ts), one line per faulty field.
 */
import type { AccountInput, AccountView } from "../store/accounts_admin.ts";
import { readAfterProcessing } from "../domain/after_processing.ts";
import { CAP_LIMITS, parseConnectionCap } from "../domain/idle_leases.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_MESSAGE_MB_LIMITS,
  maxMessageMb,
  parseMaxMessageMb,
} from "../domain/message_size.ts";
import { parseSendBudget, type SendBudget } from "../domain/send_budget.ts";
import { readTlsMode, type TlsMode, tlsModeProblem } from "../domain/tls_mode.ts";

/** The form as typed; passwords are never put back into it. */
export interface AccountForm {
  name: string;
  address: string;
  display_name: string;
  enabled: boolean;
  imap_host: string;
  imap_port: string;
  /** tls | starttls | plain (src/domain/tls_mode.ts); an older client's true/false is read too. */
  imap_tls: string;
  imap_user: string;
  mailboxes: string;
  /** keep | seen | move (src/domain/after_processing.ts). */
  after_processing: string;
  after_folder: string;
  /** Blank: the provider's default. */
  imap_connection_cap: string;
  /** Whole megabytes; blank: the default (src/domain/message_size.ts). */
  max_message_mb: string;
  smtp_host: string;
  smtp_port: string;
  /** As `imap_tls`. */
  smtp_tls: string;
  smtp_user: string;
  copy_to_sent: boolean;
  /** A budget of one's own instead of the provider's default; empty windows have no limit. */
  budget_custom: boolean;
  budget_per_minute: string;
  budget_per_day: string;
}

/** The form of a new account. */
export const EMPTY_FORM: AccountForm = {
  name: "",
  address: "",
  display_name: "",
  enabled: true,
  imap_host: "",
  imap_port: "993",
  imap_tls: "tls",
  imap_user: "",
  mailboxes: "INBOX",
  after_processing: "keep",
  after_folder: "",
  imap_connection_cap: "",
  max_message_mb: String(maxMessageMb(DEFAULT_MAX_MESSAGE_BYTES)),
  smtp_host: "",
  smtp_port: "465",
  smtp_tls: "tls",
  smtp_user: "",
  copy_to_sent: true,
  budget_custom: false,
  budget_per_minute: "",
  budget_per_day: "",
};

/** The form showing a stored account (without its passwords). */
export function formOf(a: AccountView): AccountForm {
  return {
    name: a.name,
    address: a.address,
    display_name: a.displayName,
    enabled: a.enabled,
    imap_host: a.imapHost,
    imap_port: String(a.imapPort),
    imap_tls: a.imapTls,
    imap_user: a.imapUser,
    mailboxes: a.mailboxes.join(", "),
    after_processing: a.afterProcessing,
    after_folder: a.afterFolder ?? "",
    imap_connection_cap: a.imapConnectionCap === null ? "" : String(a.imapConnectionCap),
    max_message_mb: String(maxMessageMb(a.maxMessageBytes)),
    smtp_host: a.smtpHost ?? "",
    smtp_port: a.smtpPort === null ? "" : String(a.smtpPort),
    smtp_tls: a.smtpTls ?? "tls",
    smtp_user: a.smtpUser ?? "",
    copy_to_sent: a.copyToSent,
    budget_custom: a.sendBudget !== null,
    budget_per_minute: a.sendBudget?.perMinute == null ? "" : String(a.sendBudget.perMinute),
    budget_per_day: a.sendBudget?.perDay == null ? "" : String(a.sendBudget.perDay),
  };
}

const HOST = /^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;
const ADDRESS = /^[^\s@<>"(),;:]{1,64}@[A-Za-z0-9.-]{1,253}$/;

/**
 * Reads and checks the form; passwords as typed (empty: keep the stored one); the send budget
 * (null: the provider's default).
 */
export function readAccountForm(body: Record<string, unknown>): {
  form: AccountForm;
  passwords: { imap: string; smtp: string };
  input: Omit<AccountInput, "imapPassEnc" | "smtpPassEnc"> | null;
  sendBudget: SendBudget | null;
  errors: string[];
} {
  const s = (k: string) => (typeof body[k] === "string" ? (body[k] as string).trim() : "");
  const b = (k: string) => ["1", "on", "true"].includes(s(k));
  const form: AccountForm = {
    name: s("name"),
    address: s("address").toLowerCase(),
    display_name: s("display_name"),
    enabled: b("enabled"),
    imap_host: s("imap_host"),
    imap_port: s("imap_port"),
    imap_tls: s("imap_tls"),
    imap_user: s("imap_user"),
    mailboxes: s("mailboxes"),
    after_processing: s("after_processing") || "keep",
    after_folder: s("after_folder"),
    imap_connection_cap: s("imap_connection_cap"),
    max_message_mb: s("max_message_mb"),
    smtp_host: s("smtp_host"),
    smtp_port: s("smtp_port"),
    smtp_tls: s("smtp_tls"),
    smtp_user: s("smtp_user"),
    copy_to_sent: b("copy_to_sent"),
    budget_custom: b("budget_custom"),
    budget_per_minute: s("budget_per_minute"),
    budget_per_day: s("budget_per_day"),
  };
  const passwords = {
    imap: typeof body.imap_pass === "string" ? body.imap_pass : "",
    smtp: typeof body.smtp_pass === "string" ? body.smtp_pass : "",
  };
  const errors: string[] = [];
  if (!/^[\w.@+-]{1,64}$/.test(form.name)) {
    errors.push("name: 1–64 letters, digits or . _ - @ +");
  }
  if (!ADDRESS.test(form.address)) errors.push("address: must be an e-mail address");
  if (form.display_name.length > 200 || /[\r\n]/.test(form.display_name)) {
    errors.push("display_name: one line, at most 200 characters");
  }
  if (!HOST.test(form.imap_host)) errors.push("imap_host: must be a host name or address");
  const port = (v: string, field: string) => {
    const n = Number(v);
    if (!/^\d{1,5}$/.test(v) || n < 1 || n > 65535) {
      errors.push(`${field}: must be a port from 1 to 65535`);
      return 0;
    }
    return n;
  };
  const imapPort = port(form.imap_port, "imap_port");
  const mode = (kind: "imap" | "smtp", host: string, portNumber: number): TlsMode => {
    const read = readTlsMode(kind, form[`${kind}_tls`], portNumber);
    if (read === null) {
      errors.push(`${kind}_tls: one of tls, starttls, plain`);
      return "tls";
    }
    const problem = tlsModeProblem(kind, read, host);
    if (problem) errors.push(problem);
    // The form shows the mode as read: an older client's true/false becomes its name.
    form[`${kind}_tls`] = read;
    return read;
  };
  const imapTls = mode("imap", form.imap_host, imapPort);
  if (!form.imap_user || form.imap_user.length > 320) errors.push("imap_user: required");
  const mailboxes = form.mailboxes.split(",").map((m) => m.trim()).filter(Boolean);
  if (mailboxes.length === 0 || mailboxes.some((m) => m.length > 200 || /[\r\n]/.test(m))) {
    errors.push("mailboxes: at least one mailbox name");
  }
  const after = readAfterProcessing(form.after_processing, form.after_folder);
  if ("problem" in after) errors.push(after.problem);
  const cap = parseConnectionCap(form.imap_connection_cap);
  if (!cap.ok) {
    errors.push(
      `imap_connection_cap: blank, or a whole number from ${CAP_LIMITS.min} to ${CAP_LIMITS.max}`,
    );
  }
  const maxMessage = parseMaxMessageMb(form.max_message_mb);
  if (!maxMessage.ok) {
    errors.push(
      `max_message_mb: blank, or a whole number of MB from ${MAX_MESSAGE_MB_LIMITS.min} to ${MAX_MESSAGE_MB_LIMITS.max}`,
    );
  }
  const smtp = form.smtp_host !== "";
  if (smtp && !HOST.test(form.smtp_host)) errors.push("smtp_host: must be a host name or address");
  const smtpPort = smtp ? port(form.smtp_port, "smtp_port") : null;
  const smtpTls = smtp ? mode("smtp", form.smtp_host, smtpPort ?? 0) : null;
  if (passwords.imap.length > 1024 || passwords.smtp.length > 1024) {
    errors.push("passwords: at most 1024 characters");
  }
  let sendBudget: SendBudget | null = null;
  if (form.budget_custom) {
    const parsed = parseSendBudget({
      perMinute: form.budget_per_minute,
      perDay: form.budget_per_day,
    });
    errors.push(...parsed.errors.map((e) => `budget_${e}`));
    sendBudget = parsed.budget;
  }
  return {
    form,
    passwords,
    sendBudget,
    errors,
    input: errors.length ? null : {
      name: form.name,
      address: form.address,
      displayName: form.display_name,
      enabled: form.enabled,
      imapHost: form.imap_host,
      imapPort,
      imapTls,
      imapUser: form.imap_user,
      mailboxes,
      afterProcessing: "problem" in after ? "keep" : after.mode,
      afterFolder: "problem" in after ? null : after.folder,
      imapConnectionCap: cap.ok ? cap.value : null,
      maxMessageBytes: maxMessage.ok ? maxMessage.bytes : undefined,
      smtpHost: smtp ? form.smtp_host : null,
      smtpPort,
      smtpTls,
      smtpUser: smtp ? form.smtp_user || null : null,
      copyToSent: form.copy_to_sent,
    },
  };
}

/**
 * An API body (JSON, the form's field names) as the form would send it, laid over `base` (an
 * edit starts from the stored account: an omitted field keeps its value, an omitted password the
 * stored one). Booleans and numbers become the form's strings; `mailboxes` may be a list.
 */
export function formBodyOfJson(
  json: Record<string, unknown>,
  base: AccountForm = EMPTY_FORM,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) body[k] = typeof v === "boolean" ? String(v) : v;
  for (const [k, v] of Object.entries(json)) {
    if (k.startsWith("budget_")) continue; // PUT …/send_budget sets the budget
    if (k === "mailboxes" && Array.isArray(v)) body[k] = v.map(String).join(", ");
    else if (typeof v === "boolean" || typeof v === "number") body[k] = String(v);
    else if (v === null) body[k] = "";
    else body[k] = v;
  }
  body.budget_custom = "false";
  return body;
}
