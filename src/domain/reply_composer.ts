/**
 * Builds the automatic reply as a plain object for the SMTP edge, and owns the identity of our
 * replies: the dedup key, the Message-ID derived from it, and how to recognise one of our replies
 * (or a reply to one) when it comes back in.
 *
 * Marker: every reply's Message-ID is `<carteiro.{32 hex}@{our domain}>`, the hex being the first
 * 128 bits of SHA-256(dedup key), and it carries `X-Carteiro-Loop: {our domain}`. A message whose
 * own Message-ID has that form, or that carries that header, is one of our replies; one whose
 * In-Reply-To/References hold such an id answers one of our replies.
 */

import type { Address, ParsedEmail } from "./email.ts";
import { sha256Hex } from "./sha256.ts";
import {
  parseTemplate,
  renderHeader,
  renderHtml,
  renderText,
  singleLine,
  type TemplateValues,
  truncateCodePoints,
} from "./template.ts";

/** The header every reply carries so that a copy coming back is recognised as ours. */
export const LOOP_HEADER = "X-Carteiro-Loop";
/** The local-part prefix of our replies' Message-IDs. */
export const MESSAGE_ID_PREFIX = "carteiro.";
/** Subject used when the rendered subject is empty (the original had none). RFC 5230 §5.3. */
export const DEFAULT_REPLY_SUBJECT = "Resposta automática";

/** How much of the parent's References a reply keeps (RFC 5322 §3.6.4 allows trimming). */
export interface ReferencesLimits {
  /** Most ids kept, the parent's Message-ID included: the first id and the last ones. */
  maxIds: number;
  /** Most characters of the joined header value (ids separated by one space). */
  maxChars: number;
}

/** Default References bounds: 20 ids, 2,000 characters. */
export const DEFAULT_REFERENCES_LIMITS: ReferencesLimits = Object.freeze({
  maxIds: 20,
  maxChars: 2_000,
});

/** The headers every reply carries besides Message-ID, In-Reply-To and References. */
export interface ReplyHeaders {
  /** RFC 3834 §5: marks the reply as automatic so that well-behaved responders stay silent. */
  "Auto-Submitted": "auto-replied";
  /** Not standard, but widely honoured by older responders (Pigeonhole sets it too). */
  "Precedence": "bulk";
  /** [MS-OXCMAIL] §2.1.3.2.20: asks Exchange/Outlook not to answer with their own replies. */
  "X-Auto-Response-Suppress": "All";
  /** Our loop marker: our Message-ID domain. */
  "X-Carteiro-Loop": string;
}

/** A file stored with the rule and attached to its replies; the edge loads the bytes by id. */
export interface ReplyAttachment {
  id: number;
  filename: string;
  contentType: string;
  size: number;
}

/**
 * A reply ready for the SMTP edge (nodemailer's message options map one to one). One `To`
 * recipient, the rule's copies beside it, all sent in one SMTP transaction; every header value
 * is a single line. The edge sets Date at send time and encodes non-ASCII header text
 * (RFC 2047) itself.
 */
export interface ComposedReply {
  from: Address;
  to: Address;
  /** Visible copies (Cc header), never the `to` address. */
  cc: string[];
  /** Hidden copies: envelope recipients only, never written in a header. */
  bcc: string[];
  /** The Reply-To header, or null for none. */
  replyTo: string | null;
  /** Files attached to the reply, in the order given. */
  attachments: ReplyAttachment[];
  subject: string;
  /** UTF-8 text/plain part. */
  text: string;
  /** UTF-8 text/html alternative. */
  html: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  headers: ReplyHeaders;
}

/** The template sources of a reply action. `html: null` derives the HTML from the text. */
export interface ReplyTemplateSource {
  subject: string;
  text: string;
  html: string | null;
}

/** What `composeReply` needs. */
export interface ComposeReplyInput {
  /** The message being answered. */
  parent: Pick<ParsedEmail, "messageId" | "inReplyTo" | "references">;
  /** Our account address the message was sent to (see `replyFrom`). */
  from: Address;
  /** The one recipient the guard checked. */
  to: Address;
  template: ReplyTemplateSource;
  values: TemplateValues;
  /** The rule's copies and Reply-To (plain addresses, already validated with the rule). */
  cc?: readonly string[];
  bcc?: readonly string[];
  replyTo?: string | null;
  attachments?: readonly ReplyAttachment[];
  dedupKey: string;
  messageIdDomain: string;
  defaultSubject?: string;
  referencesLimits?: ReferencesLimits;
}

/** A composed reply, or why the rule's templates could not make one. */
export type ComposeResult =
  | { ok: true; reply: ComposedReply }
  | { ok: false; errors: string[] };

/**
 * Composes the reply: rendered subject/text/HTML, threading headers, the loop-breaking headers
 * and a Message-ID derived from the dedup key. Pure: the same input gives the same object.
 */
export function composeReply(input: ComposeReplyInput): ComposeResult {
  const errors: string[] = [];
  const subject = parseTemplate(input.template.subject, { singleLine: true });
  const text = parseTemplate(input.template.text);
  const html = input.template.html === null ? null : parseTemplate(input.template.html);
  if (!subject.ok) errors.push(...subject.errors.map((e) => `subject ${e}`));
  if (!text.ok) errors.push(...text.errors.map((e) => `text ${e}`));
  if (html && !html.ok) errors.push(...html.errors.map((e) => `html ${e}`));
  if (!isSingleMailbox(input.to.address)) {
    errors.push(`recipient ${JSON.stringify(input.to.address)} is not one plain address`);
  }
  if (!isSingleMailbox(input.from.address)) {
    errors.push(`from ${JSON.stringify(input.from.address)} is not one plain address`);
  }
  const copies = copyRecipients(input.to.address, input.cc ?? [], input.bcc ?? []);
  for (const a of [...copies.cc, ...copies.bcc, ...(input.replyTo ? [input.replyTo] : [])]) {
    if (!isSingleMailbox(a)) errors.push(`copy ${JSON.stringify(a)} is not one plain address`);
  }
  if (!subject.ok || !text.ok || (html && !html.ok) || errors.length > 0) {
    return { ok: false, errors };
  }
  const renderedText = renderText(text.template, input.values);
  const renderedHtml = html ? renderHtml(html.template, input.values) : textToHtml(renderedText);
  const messageId = replyMessageId(input.dedupKey, input.messageIdDomain);
  const threading = threadingHeaders(input.parent, input.referencesLimits);
  return {
    ok: true,
    reply: {
      from: headerAddress(input.from),
      to: headerAddress(input.to),
      cc: copies.cc,
      bcc: copies.bcc,
      replyTo: input.replyTo ? input.replyTo.toLowerCase() : null,
      attachments: (input.attachments ?? []).map((a) => ({ ...a })),
      subject: replySubject(
        renderHeader(subject.template, input.values),
        input.defaultSubject ?? DEFAULT_REPLY_SUBJECT,
      ),
      text: renderedText,
      html: renderedHtml,
      messageId,
      inReplyTo: threading.inReplyTo,
      references: threading.references,
      headers: {
        "Auto-Submitted": "auto-replied",
        "Precedence": "bulk",
        "X-Auto-Response-Suppress": "All",
        "X-Carteiro-Loop": input.messageIdDomain.toLowerCase(),
      },
    },
  };
}

/**
 * The copies of a reply, lower-cased, each address once: the `to` address is never copied, and
 * an address in both lists stays only in Cc (it sees the message either way).
 */
export function copyRecipients(
  to: string,
  cc: readonly string[],
  bcc: readonly string[],
): { cc: string[]; bcc: string[] } {
  const seen = new Set([to.toLowerCase()]);
  const keep = (list: readonly string[]) =>
    list.map((a) => a.trim().toLowerCase()).filter((a) => !seen.has(a) && !!seen.add(a));
  const keptCc = keep(cc);
  return { cc: keptCc, bcc: keep(bcc) };
}

/** What identifies one reply: the inbound message as stored for one account, and the rule. */
export interface DedupKeyInput {
  accountId: string | number;
  /** SHA-256 of the raw message bytes as stored, 64 hex digits (computed at the edge). */
  rawSha256: string;
  /** The rule's name (unique in a rule set; it is the rule's handle, RFC 5230 §4.2). */
  ruleName: string;
}

/**
 * The outbox dedup key: `v1/{account}/{raw sha256}/{rule}`. The raw digest rather than the
 * Message-ID identifies the message, so a reused Message-ID with other content is a new message
 * and a message without one still has a key. Throws a RangeError on a malformed digest.
 */
export function dedupKey(input: DedupKeyInput): string {
  const sha = input.rawSha256.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha)) {
    throw new RangeError(`rawSha256 must be 64 hex digits, got ${JSON.stringify(input.rawSha256)}`);
  }
  return `v1/${encodeURIComponent(String(input.accountId))}/${sha}/${
    encodeURIComponent(input.ruleName)
  }`;
}

/**
 * Our reply's Message-ID: `<carteiro.{first 32 hex of SHA-256(dedup key)}@{domain}>`. The same
 * key always gives the same id, so every retry carries it and a copy can be recognised
 * (RFC 5322 §3.6.4: the id must be unique, which the key guarantees). Throws a RangeError when
 * the domain is not a host name.
 */
export function replyMessageId(key: string, messageIdDomain: string): string {
  const domain = messageIdDomain.trim().toLowerCase();
  if (!isHostName(domain)) {
    throw new RangeError(`messageIdDomain must be a host name, got ${JSON.stringify(domain)}`);
  }
  return `<${MESSAGE_ID_PREFIX}${sha256Hex(key).slice(0, 32)}@${domain}>`;
}

/** Whether one message id (with or without angle brackets) has our reply form for `domain`. */
export function isOurReplyId(id: string, messageIdDomain: string): boolean {
  let s = id.trim().toLowerCase();
  if (s.startsWith("<") && s.endsWith(">")) s = s.slice(1, -1);
  const suffix = `@${messageIdDomain.trim().toLowerCase()}`;
  if (!s.startsWith(MESSAGE_ID_PREFIX) || !s.endsWith(suffix)) return false;
  const hex = s.slice(MESSAGE_ID_PREFIX.length, s.length - suffix.length);
  return /^[0-9a-f]{32}$/.test(hex);
}

/** How a message relates to our replies. */
export type OwnReplyMatch =
  | { kind: "own_reply"; evidence: string }
  | { kind: "reply_to_own_reply"; evidence: string }
  | null;

/**
 * Whether the message is one of our replies coming back (its Message-ID is ours, or it carries
 * our loop header), or answers one of them (In-Reply-To/References hold one of our ids).
 */
export function isOurReply(
  email: Pick<ParsedEmail, "messageId" | "inReplyTo" | "references" | "headers">,
  messageIdDomain: string,
): OwnReplyMatch {
  const domain = messageIdDomain.trim().toLowerCase();
  const ownIds = [email.messageId ?? "", ...(email.headers["message-id"] ?? [])];
  for (const id of ownIds.flatMap(extractMessageIds)) {
    if (isOurReplyId(id, domain)) return { kind: "own_reply", evidence: `Message-ID ${id}` };
  }
  for (const value of email.headers[LOOP_HEADER.toLowerCase()] ?? []) {
    if (value.trim().toLowerCase() === domain) {
      return { kind: "own_reply", evidence: `${LOOP_HEADER}: ${domain}` };
    }
  }
  const parents = [
    email.inReplyTo ?? "",
    ...email.references,
    ...(email.headers["in-reply-to"] ?? []),
    ...(email.headers["references"] ?? []),
  ];
  for (const id of parents.flatMap(extractMessageIds)) {
    if (isOurReplyId(id, domain)) {
      return { kind: "reply_to_own_reply", evidence: `In-Reply-To/References carry ${id}` };
    }
  }
  return null;
}

/**
 * Message ids in a header value, in order: every `<…>` token, or the bare value when it is one
 * id without brackets. Ids with white space, controls or non-ASCII, or longer than 250
 * characters, are dropped: they could not be written back into a header safely.
 */
export function extractMessageIds(value: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < value.length) {
    const open = value.indexOf("<", at);
    if (open < 0) break;
    const close = value.indexOf(">", open + 1);
    if (close < 0) break;
    const id = value.slice(open, close + 1);
    if (isMessageIdToken(id)) out.push(id);
    at = close + 1;
  }
  if (out.length === 0) {
    const bare = value.trim();
    if (bare.includes("@") && isMessageIdToken(`<${bare}>`)) out.push(`<${bare}>`);
  }
  return out;
}

function isMessageIdToken(id: string): boolean {
  return id.length >= 3 && id.length <= 250 && /^<[\x21-\x3b\x3d\x3f-\x7e]+>$/.test(id);
}

/** The threading headers of a reply, RFC 5322 §3.6.4 and RFC 3834 §3.1.6–3.1.7. */
export function threadingHeaders(
  parent: Pick<ParsedEmail, "messageId" | "inReplyTo" | "references">,
  limits: ReferencesLimits = DEFAULT_REFERENCES_LIMITS,
): { inReplyTo: string | null; references: string[] } {
  const parentId = extractMessageIds(parent.messageId ?? "")[0] ?? null;
  // §3.6.4: the parent's References, or else its In-Reply-To when that holds a single id,
  // followed by the parent's Message-ID.
  let ids = parent.references.flatMap(extractMessageIds);
  if (ids.length === 0) {
    const inReplyTo = extractMessageIds(parent.inReplyTo ?? "");
    if (inReplyTo.length === 1) ids = inReplyTo;
  }
  if (parentId) ids.push(parentId);
  return { inReplyTo: parentId, references: boundReferences(unique(ids), limits) };
}

/**
 * Keeps the first id (the thread root) and the last ones (the nearest parents), within
 * `maxIds` ids and `maxChars` characters, so a 2,000-id References cannot grow every reply.
 */
export function boundReferences(
  ids: readonly string[],
  limits: ReferencesLimits = DEFAULT_REFERENCES_LIMITS,
): string[] {
  const maxIds = Math.max(1, Math.floor(limits.maxIds));
  let kept = ids.length <= maxIds ? [...ids] : [ids[0], ...ids.slice(ids.length - (maxIds - 1))];
  const size = (list: string[]) => list.reduce((n, id) => n + id.length, 0) + list.length - 1;
  // Drop from the second position: the root and the nearest parents matter most.
  while (kept.length > 2 && size(kept) > limits.maxChars) kept.splice(1, 1);
  if (kept.length === 2 && size(kept) > limits.maxChars) kept = kept.slice(1);
  if (kept.length === 1 && size(kept) > limits.maxChars) kept = [];
  return kept;
}

function unique(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => {
    const k = id.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * One `Re:` in front of a subject, never stacked: a leading chain of reply prefixes in any case
 * and common languages (Re, RE, Res, AW, SV, VS, Antw, Odp, with `[2]`/`(2)` counters) collapses
 * into a single `Re: `; what follows, `Fwd:` included, is kept as is.
 */
export function collapseReplyPrefixes(subject: string): string {
  let rest = subject.trimStart();
  let found = false;
  for (;;) {
    const m = REPLY_PREFIX.exec(rest);
    if (!m) break;
    found = true;
    rest = rest.slice(m[0].length).trimStart();
  }
  return found ? `Re: ${rest}`.trimEnd() : subject;
}

// One reply prefix, anchored; applied in a loop so that no quantified group can backtrack.
const REPLY_PREFIX = /^(?:re|res|aw|sv|vs|antw|odp)(?:\s?(?:\[\d{1,4}\]|\(\d{1,4}\)))?\s?[:：]/i;

/**
 * The final subject of a reply: collapsed reply prefixes, and `defaultSubject` when nothing is
 * left once the prefixes are removed (the original had no subject, RFC 5230 §5.3).
 */
export function replySubject(rendered: string, defaultSubject = DEFAULT_REPLY_SUBJECT): string {
  const collapsed = collapseReplyPrefixes(singleLine(rendered));
  const bare = collapsed.replace(/^Re:\s*/, "");
  return bare === "" ? singleLine(defaultSubject) : collapsed;
}

/**
 * The address the reply is sent from: the account address the message was sent to (RFC 5230
 * §5.4), looked up in Delivered-To / X-Original-To (the envelope), then To, then Cc; the first
 * account address otherwise. Compared case-insensitively.
 */
export function replyFrom(
  email: Pick<ParsedEmail, "to" | "cc" | "headers">,
  accountAddresses: readonly string[],
  displayName = "",
): Address {
  const ours = accountAddresses.map((a) => a.trim().toLowerCase()).filter((a) => a !== "");
  const candidates = [
    ...(email.headers["delivered-to"] ?? []),
    ...(email.headers["x-original-to"] ?? []),
    ...email.to.map((a) => a.address),
    ...email.cc.map((a) => a.address),
  ].map((a) => a.trim().replace(/^<|>$/g, "").toLowerCase());
  const address = candidates.find((a) => ours.includes(a)) ?? ours[0] ?? "";
  return headerAddress({ name: displayName, address });
}

function headerAddress(a: Address): Address {
  return { name: truncateCodePoints(singleLine(a.name), 200), address: a.address.toLowerCase() };
}

function isSingleMailbox(address: string): boolean {
  // Defence in depth behind the guard's full check: one '@', nothing that separates mailboxes.
  return /^[^\s@,;:<>()"\\[\]]+@[^\s@,;:<>()"\\[\]]+$/.test(address);
}

function isHostName(domain: string): boolean {
  // RFC 1123 §2.1: letters, digits and hyphens, labels of 1–63 characters.
  return domain.length >= 1 && domain.length <= 253 &&
    domain.split(".").every((l) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(l));
}

/** Plain text as HTML: escaped, blank lines make paragraphs, single line breaks make `<br>`. */
export function textToHtml(text: string): string {
  const escaped = text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return escaped.split(/\n{2,}/).map((p) => `<p>${p.replace(/\n/g, "<br>\n")}</p>`).join("\n");
}
