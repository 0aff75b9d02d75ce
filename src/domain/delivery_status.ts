/**
 * Delivery status notifications (RFC 3464) for our own replies: the fields of the
 * message/delivery-status part, which of our replies a notification is about, and what it says
 * of it. Pure: the edge (src/mail/parse_message.ts) hands over the part's text and the returned
 * message's header block; the bounce step (src/jobs/bounce_step.ts) matches and records.
 *
 * Written here rather than taken from a package: the npm bounce parsers read the human text of a
 * bounce with regular expressions (and `email-bounce-parser` needs the native `re2`), while RFC
 * 3464 gives the machine-readable fields this needs — a few header blocks, read below.
 */
import type { ParsedEmail } from "./email.ts";

/** What one recipient's block of a report says (RFC 3464 §2.3). */
export interface RecipientStatus {
  /** Final-Recipient's address, lower-cased, without its address type ("rfc822;"). */
  finalRecipient: string | null;
  /** Original-Recipient's address, as above (the address as the sender gave it). */
  originalRecipient: string | null;
  /** Action, lower-cased: failed, delayed, delivered, relayed or expanded. */
  action: string | null;
  /** The enhanced status code (RFC 3463), e.g. "5.1.1", without its comment. */
  status: string | null;
  /** Diagnostic-Code without its type ("smtp;"), unfolded: the remote server's own words. */
  diagnosticCode: string | null;
  /** Remote-MTA without its type. */
  remoteMta: string | null;
}

/** The fields of a message/delivery-status part. */
export interface DeliveryStatus {
  /** Original-Envelope-Id (the ENVID the sender gave at MAIL FROM, RFC 3461 §4.4). */
  envelopeId: string | null;
  /** Reporting-MTA without its type. */
  reportingMta: string | null;
  recipients: RecipientStatus[];
}

/** Longest part text read, in characters: a report is a few hundred bytes per recipient. */
const MAX_FIELDS_CHARS = 256 * 1024;
/** Recipients read from one report. */
const MAX_RECIPIENTS = 500;
/** Characters kept of one field's value (a diagnostic is a few hundred; hostile ones are not). */
const MAX_VALUE_CHARS = 2000;

/**
 * Reads the field blocks of a message/delivery-status part (RFC 3464 §2.1): a per-message block,
 * then one block per recipient, separated by blank lines, each in header syntax (folded lines
 * continue with white space, RFC 5322 §2.2.3). Lenient like the reports met in practice: field
 * names in any case, comments after the status code, a missing blank line between the
 * per-message fields and the first recipient, CRLF or LF. Never throws.
 */
export function parseDeliveryStatus(text: string): DeliveryStatus {
  const out: DeliveryStatus = { envelopeId: null, reportingMta: null, recipients: [] };
  for (const block of fieldBlocks(text.slice(0, MAX_FIELDS_CHARS))) {
    out.envelopeId ??= capped(block.get("original-envelope-id")?.trim() || null);
    out.reportingMta ??= capped(typed(block.get("reporting-mta")));
    const isRecipient = block.has("final-recipient") || block.has("original-recipient") ||
      block.has("action");
    if (!isRecipient || out.recipients.length >= MAX_RECIPIENTS) continue;
    out.recipients.push({
      finalRecipient: address(block.get("final-recipient")),
      originalRecipient: address(block.get("original-recipient")),
      action: block.get("action")?.trim().toLowerCase().split(/[\s(;]/)[0] || null,
      status: statusCode(block.get("status")),
      diagnosticCode: capped(typed(block.get("diagnostic-code"))),
      remoteMta: capped(typed(block.get("remote-mta"))),
    });
  }
  return out;
}

/**
 * Header blocks as maps of lower-cased name → unfolded value (the first of a repeated field).
 * Also used for the returned message's header block.
 */
export function fieldBlocks(text: string): Array<Map<string, string>> {
  const blocks: Array<Map<string, string>> = [];
  let current = new Map<string, string>();
  let last: string | null = null;
  const close = () => {
    if (current.size > 0) blocks.push(current);
    current = new Map();
    last = null;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") {
      close();
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (last !== null) current.set(last, `${current.get(last)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (current.has(name)) {
      // A second Final-Recipient without a blank line before it starts the next recipient.
      if (name !== "final-recipient") {
        last = null;
        continue;
      }
      close();
    }
    current.set(name, line.slice(colon + 1).trim());
    last = name;
  }
  close();
  return blocks;
}

/** `type; value` → value (RFC 3464 §2.1.2: address-type, diagnostic-type, mta-name-type). */
function typed(value: string | undefined): string | null {
  if (value === undefined) return null;
  const semi = value.indexOf(";");
  const rest =
    (semi >= 0 && /^[\w.-]*$/.test(value.slice(0, semi).trim()) ? value.slice(semi + 1) : value)
      .trim();
  return rest === "" ? null : rest;
}

function capped(value: string | null): string | null {
  return value !== null && value.length > MAX_VALUE_CHARS
    ? `${value.slice(0, MAX_VALUE_CHARS)}…`
    : value;
}

function address(value: string | undefined): string | null {
  const v = capped(typed(value));
  if (v === null) return null;
  const bare = v.replace(/^<(.*)>$/, "$1").trim().toLowerCase();
  return bare === "" ? null : bare;
}

/** The enhanced status code in a Status field (RFC 3463 §2: class.subject.detail). */
function statusCode(value: string | undefined): string | null {
  const m = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(value ?? "");
  return m ? `${m[1]}.${m[2]}.${m[3]}` : null;
}

/** How a notification was tied to one of our replies. */
export type ReportMatch = "returned_message" | "in_reply_to" | "references" | "envelope_id";

/** A notification read from a message, with the Message-IDs that may name our reply. */
export interface DeliveryReport {
  status: DeliveryStatus;
  /**
   * Candidate Message-IDs of the reply this is about, best first: the returned message's own
   * Message-ID, else the notification's In-Reply-To and its newest References id; then the
   * Original-Envelope-Id. Each in angle brackets, as our outbox stores them.
   */
  candidates: Array<{ messageId: string; by: ReportMatch }>;
}

/**
 * The delivery report a parsed message carries (a multipart/report whose parts the edge put in
 * `deliveryReport`), or null for any other message. The returned message's own Message-ID names
 * the message that bounced exactly: when it is there, the notification's In-Reply-To and
 * References are not tried (they may name an earlier message of the thread — one of our replies
 * that a person's bounced message answered). Of References only the newest id is tried, for the
 * same reason.
 */
export function readDeliveryReport(email: ParsedEmail): DeliveryReport | null {
  const parts = email.deliveryReport;
  if (!parts) return null;
  const status = parseDeliveryStatus(parts.fields);
  const candidates: DeliveryReport["candidates"] = [];
  const add = (id: string | null | undefined, by: ReportMatch) => {
    const messageId = normalizeMessageId(id);
    if (messageId && !candidates.some((c) => c.messageId === messageId)) {
      candidates.push({ messageId, by });
    }
  };
  const returned = parts.returnedHeaders
    ? fieldBlocks(parts.returnedHeaders)[0]?.get("message-id")
    : undefined;
  add(returned, "returned_message");
  if (candidates.length === 0) {
    add(email.inReplyTo, "in_reply_to");
    add(email.references[email.references.length - 1], "references");
  }
  add(status.envelopeId, "envelope_id");
  return { status, candidates };
}

/** `<id>` from a header value (the first msg-id in it), or null. */
export function normalizeMessageId(value: string | null | undefined): string | null {
  if (!value) return null;
  const bracketed = /<([^<>\s]+)>/.exec(value);
  const bare = bracketed ? bracketed[1] : value.trim();
  if (bare === "" || /[\s<>]/.test(bare)) return null;
  return `<${bare}>`;
}

/** What a notification says about one of our replies. */
export interface ReplyBounce {
  /** `bounced`: the reply will not be delivered; `delayed`: it is still being tried. */
  outcome: "bounced" | "delayed";
  /** A permanent failure (status class 5): the recipient is not answered again in the window. */
  hard: boolean;
  action: string;
  status: string | null;
  diagnostic: string | null;
  /** The recipient as the report names it (Final-Recipient, else Original-Recipient). */
  reportedRecipient: string | null;
}

/**
 * What the report says of the reply sent to `recipient`: the recipient's own block (by
 * Final-Recipient or Original-Recipient), else the first block that failed or was delayed (a
 * forwarding host may report the address it forwarded to). Failed — or a 5.x.x status with no
 * Action — is `bounced`, hard when the status is 5.x.x (RFC 3463 §3.1: permanent failure; a
 * failed 4.x.x, e.g. a mailbox full for days, bounced the reply but says nothing lasting about
 * the address); delayed, or a 4.x.x with no Action, is `delayed`. Delivered, relayed and expanded
 * are no bounce: null.
 */
export function replyBounce(status: DeliveryStatus, recipient: string): ReplyBounce | null {
  const want = recipient.toLowerCase();
  const named = status.recipients.find((r) =>
    r.finalRecipient === want || r.originalRecipient === want
  );
  const chosen = named ?? status.recipients.find((r) => outcomeOf(r) !== null);
  if (!chosen) return null;
  const outcome = outcomeOf(chosen);
  if (outcome === null) return null;
  return {
    outcome,
    hard: outcome === "bounced" && chosen.status?.startsWith("5.") === true,
    action: chosen.action ?? (outcome === "bounced" ? "failed" : "delayed"),
    status: chosen.status,
    diagnostic: chosen.diagnosticCode,
    reportedRecipient: chosen.finalRecipient ?? chosen.originalRecipient,
  };
}

function outcomeOf(r: RecipientStatus): ReplyBounce["outcome"] | null {
  if (r.action === "failed") return "bounced";
  if (r.action === "delayed") return "delayed";
  if (r.action !== null) return null;
  if (r.status?.startsWith("5.")) return "bounced";
  if (r.status?.startsWith("4.")) return "delayed";
  return null;
}
