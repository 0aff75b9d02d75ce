/**
 * The RFC 3834 guard: the one function every automatic send path calls before it enqueues mail.
 * It picks the single address the reply would go to and either allows the reply to it or says,
 * with a stable reason code, why no reply may be sent. It follows RFC 3834 §2 (when not to
 * respond) and the stricter Sieve vacation rules of RFC 5230 §4.5–4.6.
 *
 * Headers come from the parser as lower-cased name → unfolded, RFC 2047-decoded values, so a
 * folded, repeated or odd-case field is read the same as the plain one; every instance of a
 * repeated field is checked (as Pigeonhole's cmd-vacation.c does).
 */

import type { Address, Classification, ParsedEmail } from "./email.ts";
import { isOurReply } from "./reply_composer.ts";
import { senderVerdict, type VerdictPolicy } from "./sender_verdicts.ts";
import { addressMatches } from "./address_glob.ts";

/** Where a reply goes: the message's sender, or the original author of a forwarded message. */
export type ReplyTarget = "sender" | "original_sender";

/** Why a reply was suppressed. These strings are stored and shown: never rename one. */
export type SuppressionReason =
  | "backfill"
  | "malformed"
  | "own_reply"
  | "reply_to_own_reply"
  | "auto_submitted"
  | "auto_response_suppress"
  | "list"
  | "precedence"
  | "null_sender"
  | "bounce"
  | "too_many_hops"
  | "invalid_sender"
  | "own_address"
  | "system_address"
  | "not_addressed"
  | "auth_failed"
  | "spam"
  | "never_answer"
  | "untrusted_forwarder";

/** Every reason, in the order the guard checks them. */
export const SUPPRESSION_REASONS: readonly SuppressionReason[] = Object.freeze(
  [
    "backfill",
    "malformed",
    "own_reply",
    "reply_to_own_reply",
    "auto_submitted",
    "auto_response_suppress",
    "list",
    "precedence",
    "null_sender",
    "bounce",
    "too_many_hops",
    "invalid_sender",
    "own_address",
    "system_address",
    "not_addressed",
    "auth_failed",
    "spam",
    "never_answer",
    "untrusted_forwarder",
  ] as const,
);

/** The guard's settings. */
export interface GuardPolicy {
  /**
   * Treat `postmaster` as a system address. RFC 5230 §4.6 warns that postmaster is often a
   * person; it is blocked by default here and can be switched off.
   */
  blockPostmaster: boolean;
  /**
   * Reply only when one of the account's addresses is in To/Cc/Resent-To/Resent-Cc/Resent-Bcc
   * (RFC 3834 §2 SHOULD, RFC 5230 §4.5). Off by default: mail redirected to the account by a
   * server-side rule keeps its original To and would never be answered.
   */
  requireAddressed: boolean;
  /** More Received fields than this is a loop (RFC 5321 §6.3). */
  maxReceivedHeaders: number;
  /** A header block larger than this (characters, names and values) is malformed. */
  maxHeaderChars: number;
}

/** The default policy. */
export const DEFAULT_GUARD_POLICY: GuardPolicy = Object.freeze({
  blockPostmaster: true,
  requireAddressed: false,
  maxReceivedHeaders: 50,
  maxHeaderChars: 262_144,
});

/** Spam verdicts are read; SPF/DMARC only once the account names its receiving server. */
export const DEFAULT_VERDICT_POLICY: VerdictPolicy = Object.freeze({
  authservIds: [],
  checkAuth: true,
  checkSpam: true,
});

/** Everything the guard reads. Times are passed in: the domain has no clock. */
export interface GuardInput {
  email: ParsedEmail;
  /** The classifier's verdict; needed for `original_sender`, may be null otherwise. */
  classification: Classification | null;
  target: ReplyTarget;
  /** The addresses of the account that received the message (main address and aliases). */
  accountAddresses: readonly string[];
  /** Every address this installation manages, all accounts included (two-account ping-pong). */
  ownAddresses?: readonly string[];
  /** The domain of our replies' Message-IDs. */
  messageIdDomain: string;
  /** When the account was connected: older mail is history, never answered. */
  connectedAt: Date;
  /** When the message reached the mailbox (IMAP INTERNALDATE), not its forgeable Date header. */
  receivedAt: Date;
  policy?: Partial<GuardPolicy>;
  /** Addresses, globs and domains never answered (the global and the account's lists). */
  neverAnswer?: readonly string[];
  /**
   * Who may forward mail to be answered to its original sender (globs or domains). Absent: the
   * domains of `accountAddresses`. An outsider's "forward" naming a third party is not answered.
   */
  trustedForwarders?: readonly string[];
  /** The rule's `force`: list headers and bulk precedence do not stop this reply. */
  force?: boolean;
  /** What the receiving server's verdicts may stop; default: spam only (no authserv-id known). */
  verdicts?: Partial<VerdictPolicy>;
}

/** The guard's answer. When allowed, `recipient` is the one checked address to send to. */
export type GuardVerdict =
  | { allowed: true; recipient: Address }
  | { allowed: false; reason: SuppressionReason; detail: string };

/**
 * Decides whether an automatic reply may be sent, and to whom. Checks run in the order of
 * `SUPPRESSION_REASONS`; the first that applies is the reason given.
 */
export function checkAutoReply(input: GuardInput): GuardVerdict {
  const policy: GuardPolicy = { ...DEFAULT_GUARD_POLICY, ...input.policy };
  const { email } = input;
  const h = email.headers;

  // History found when the account is connected (or on a re-scan) is archived, never answered.
  // An unreadable time fails closed. INTERNALDATE counts whole seconds (RFC 3501): mail that
  // arrives in the second the account was connected is new, not history.
  const received = input.receivedAt.getTime();
  const connected = Math.floor(input.connectedAt.getTime() / 1000) * 1000;
  if (!(received >= connected)) {
    return no(
      "backfill",
      `received ${iso(input.receivedAt)}, before the account was connected ` +
        `${iso(input.connectedAt)}`,
    );
  }

  const headerChars = Object.entries(h).reduce(
    (n, [name, values]) => values.reduce((m, v) => m + name.length + v.length, n),
    0,
  );
  if (headerChars > policy.maxHeaderChars) {
    return no("malformed", `header block of ${headerChars} characters exceeds the limit`);
  }

  const own = isOurReply(email, input.messageIdDomain);
  if (own) return no(own.kind, own.evidence);

  // RFC 3834 §2 and §5: any Auto-Submitted value other than "no" means automatic. The keyword
  // is read before ";" with comments removed, so "no (sent by a human)" stays "no" (Pigeonhole
  // compares the whole string and would treat that as automatic).
  for (const value of h["auto-submitted"] ?? []) {
    const keyword = firstToken(value);
    if (keyword !== "no") return no("auto_submitted", `Auto-Submitted: ${quote(value)}`);
  }

  // [MS-OXCMAIL] §2.1.3.2.20: All, OOF and AutoReply ask responders to stay silent; DR, NDR,
  // RN and NRN concern receipts only.
  for (const value of h["x-auto-response-suppress"] ?? []) {
    const tokens = stripComments(value).toLowerCase().split(/[\s,;]+/);
    const hit = tokens.find((t) => t === "all" || t === "oof" || t === "autoreply");
    if (hit) return no("auto_response_suppress", `X-Auto-Response-Suppress: ${quote(value)}`);
  }

  // RFC 5230 §4.6 (SHOULD NOT reply to List-Id, List-Help, List-Subscribe, List-Unsubscribe,
  // List-Post, List-Owner, List-Archive; RFC 2369, RFC 2919); any List-* field counts.
  // X-Mailing-List (vger, SmartList) and Mailing-List (ezmlm) mark list traffic the same way.
  const listHeader = Object.keys(h).find((name) =>
    name.startsWith("list-") || name === "x-mailing-list" || name === "mailing-list"
  );
  if (listHeader && !input.force) return no("list", `${listHeader} header present`);

  // RFC 3834 §2: Precedence is not standard, but a responder MAY refuse bulk/list/junk mail.
  for (const name of ["precedence", "x-precedence"]) {
    for (const value of h[name] ?? []) {
      if (BULK_PRECEDENCE.has(firstToken(value)) && !input.force) {
        return no("precedence", `${name}: ${quote(value)}`);
      }
    }
  }

  // RFC 3834 §2: MUST NOT respond to a message with a null Return-Path (bounces, DSNs).
  const returnPaths = (h["return-path"] ?? []).map(angleAddress);
  if (returnPaths.includes("")) return no("null_sender", "Return-Path is <>");

  // RFC 3464 / RFC 6522: delivery-status, disposition and feedback reports are automatic.
  for (const value of h["content-type"] ?? []) {
    if (stripComments(value).split(";")[0].trim().toLowerCase() === "multipart/report") {
      return no("bounce", `Content-Type: ${quote(value)}`);
    }
  }
  if (h["x-failed-recipients"]) return no("bounce", "X-Failed-Recipients header present");

  // RFC 5321 §6.3: a message that went through this many relays is looping.
  const hops = h["received"]?.length ?? 0;
  if (hops > policy.maxReceivedHeaders) {
    return no("too_many_hops", `${hops} Received fields (limit ${policy.maxReceivedHeaders})`);
  }

  const resolved = resolveRecipient(email, input.classification, input.target);
  if (!resolved.ok) return no("invalid_sender", resolved.detail);
  const recipient = resolved.recipient;

  // RFC 5230 §4.6: never answer ourselves. Checked on the address the reply would go to and,
  // for a reply to the sender, on the envelope sender (Return-Path) as well: our own sent mail
  // seen again. A From of ours with a Reply-To elsewhere (a web form sending as us) is answered.
  const ours = new Set([...input.accountAddresses, ...(input.ownAddresses ?? [])].map(baseAddress));
  const ownCandidates = input.target === "sender"
    ? [recipient.address, ...returnPaths]
    : [recipient.address];
  const ownHit = ownCandidates.find((a) => ours.has(baseAddress(a)));
  if (ownHit !== undefined) return no("own_address", `${quote(ownHit)} is one of our addresses`);

  // RFC 3834 §2 / RFC 5230 §4.6: system and robot addresses. The recipient gets the full list
  // (for a forward that is the original author: a forwarded noreply@ mail is not answered
  // either); From, Sender and Return-Path get the robot names only, so that a web form sending
  // from noreply@ with the visitor in Reply-To is still answered.
  const recipientWhy = systemAddressReason(recipient.address, policy);
  if (recipientWhy) return no("system_address", `${quote(recipient.address)}: ${recipientWhy}`);
  const senderSide = [
    ...email.from.map((a) => a.address),
    ...(email.sender ? [email.sender.address] : []),
    ...returnPaths,
  ];
  for (const address of senderSide) {
    const why = robotAddressReason(address);
    if (why) return no("system_address", `${quote(address)}: ${why}`);
  }

  if (policy.requireAddressed && !isAddressed(email, input.accountAddresses)) {
    return no("not_addressed", "no account address in To, Cc or Resent-To/Cc/Bcc");
  }

  // Backscatter: a reply to a forged sender lands on an innocent address. SPF/DMARC fail from
  // the account's own server (RFC 8601), or a spam verdict, means the sender is not trusted.
  const verdict = senderVerdict(email, { ...DEFAULT_VERDICT_POLICY, ...input.verdicts });
  if (verdict) return no(verdict.reason, verdict.detail);

  const fromAddress = email.from[0]?.address ?? "";
  for (const address of [recipient.address, fromAddress]) {
    const entry = (input.neverAnswer ?? []).find((glob) => addressMatches(glob, address));
    if (entry !== undefined) {
      return no("never_answer", `${quote(address)} is on the never-answer list (${entry})`);
    }
  }

  if (input.target === "original_sender") {
    const trusted = input.trustedForwarders ??
      input.accountAddresses.map((a) => a.slice(a.lastIndexOf("@") + 1));
    if (!trusted.some((glob) => addressMatches(glob, fromAddress))) {
      return no(
        "untrusted_forwarder",
        `forwarded by ${quote(fromAddress)}, who is not a trusted forwarder ` +
          `(${trusted.join(", ") || "none"})`,
      );
    }
  }

  return { allowed: true, recipient };
}

/** The recipient a reply target resolves to, or why there is no usable one. */
export type RecipientResolution =
  | { ok: true; recipient: Address }
  | { ok: false; detail: string };

/**
 * The one address a reply goes to. Policy: for `sender`, Reply-To when present, else From
 * (users expect Reply-To; RFC 3834 §4 would use Return-Path); for `original_sender`, the
 * original author the classifier found in a forwarded message. More than one mailbox is
 * ambiguous and refused (RFC 3834 §3.1.3: one recipient), as is any address that is not one
 * plain RFC 5321 mailbox.
 */
export function resolveRecipient(
  email: Pick<ParsedEmail, "from" | "replyTo">,
  classification: Pick<Classification, "kind" | "original"> | null,
  target: ReplyTarget,
): RecipientResolution {
  let candidate: Address;
  if (target === "original_sender") {
    const original = classification?.kind === "forwarded" ? classification.original : null;
    if (!original?.fromAddress) {
      return {
        ok: false,
        detail: classification?.kind === "forwarded"
          ? "the forwarded message's original sender was not found"
          : "the message is not a forward, so it has no original sender",
      };
    }
    candidate = { name: original.fromName ?? "", address: original.fromAddress };
  } else {
    const field = email.replyTo.length > 0 ? "Reply-To" : "From";
    const list = email.replyTo.length > 0 ? email.replyTo : email.from;
    if (list.length === 0) return { ok: false, detail: "no From address" };
    if (list.length > 1) {
      return { ok: false, detail: `${field} holds ${list.length} mailboxes; expected one` };
    }
    candidate = list[0];
  }
  const address = candidate.address.trim().toLowerCase();
  if (!isValidAddress(address)) {
    return { ok: false, detail: `${quote(candidate.address)} is not a valid address` };
  }
  return { ok: true, recipient: { name: candidate.name ?? "", address } };
}

/**
 * Whether `address` is one plain RFC 5321 §4.1.2 mailbox we are willing to send to: a dot-atom
 * ASCII local part (no quoted strings, no comments), one '@', and a host name of LDH labels.
 * Anything that could smuggle a second recipient or a parameter is refused.
 */
export function isValidAddress(address: string): boolean {
  if (address.length < 3 || address.length > 254) return false;
  const at = address.indexOf("@");
  if (at <= 0 || at !== address.lastIndexOf("@")) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64) return false;
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local)) {
    return false;
  }
  const labels = domain.split(".");
  if (labels.length < 2) return false;
  if (!labels.every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))) {
    return false;
  }
  return !/^[0-9]+$/.test(labels[labels.length - 1]);
}

/**
 * Why an address is a system, robot or no-reply address, or null: the robot names of
 * `robotAddressReason`, postmaster (see the policy), and the no-reply family (noreply, no-reply,
 * no_reply, donotreply, do-not-reply…) as a word of the local part. Case-insensitive.
 */
export function systemAddressReason(
  address: string,
  policy: Pick<GuardPolicy, "blockPostmaster"> = DEFAULT_GUARD_POLICY,
): string | null {
  const robot = robotAddressReason(address);
  if (robot) return robot;
  const local = localPart(address);
  if (local.split("+")[0] === "postmaster" && policy.blockPostmaster) {
    return "postmaster is a system address";
  }
  if (/(?:^|[._+-])(?:no[._-]?reply|do[._-]?not[._-]?reply)(?:[._+-]|$)/.test(local)) {
    return "a no-reply address";
  }
  return null;
}

/**
 * Why an address belongs to mail software rather than a person, or null. RFC 3834 §2 and
 * RFC 5230 §4.6 (Pigeonhole's _is_system_address): MAILER-DAEMON, LISTSERV, majordomo,
 * owner-*, anything with -request; plus Mailman's *-bounces envelope. Case-insensitive; a
 * `+detail` is ignored. (*-owner is left out: "product-owner@" is usually a person.)
 */
export function robotAddressReason(address: string): string | null {
  const local = localPart(address);
  const base = local.split("+")[0];
  if (base === "mailer-daemon" || base === "listserv" || base === "majordomo") {
    return `${base} is a system address`;
  }
  if (local.startsWith("owner-")) return "a list owner address (owner-)";
  if (local.includes("-request")) return "a list robot address (-request)";
  if (base.endsWith("-bounces")) return "a list bounce address";
  return null;
}

function localPart(address: string): string {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf("@");
  return at < 0 ? a : a.slice(0, at);
}

const BULK_PRECEDENCE: ReadonlySet<string> = new Set([
  "bulk",
  "list",
  "junk",
  "auto_reply",
  "auto-reply",
]);

function no(reason: SuppressionReason, detail: string): GuardVerdict {
  return { allowed: false, reason, detail };
}

/** RFC 5322 §3.2.2: removes comments (nested, with quoted-pairs). Linear, never throws. */
function stripComments(value: string): string {
  let out = "";
  let depth = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && depth > 0) {
      i++;
      continue;
    }
    if (c === "(") depth++;
    else if (c === ")" && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

/** The keyword of a field like Auto-Submitted or Precedence: before ";", no CFWS, lower case. */
function firstToken(value: string): string {
  return stripComments(value).split(";")[0].trim().toLowerCase();
}

/** The address in a Return-Path-like value (`<a@b>`, `a@b`), lower-cased; "" for `<>`. */
function angleAddress(value: string): string {
  const v = stripComments(value).trim();
  const open = v.indexOf("<");
  const close = v.lastIndexOf(">");
  const inner = open >= 0 && close > open ? v.slice(open + 1, close) : v;
  return inner.trim().toLowerCase();
}

/** An address lower-cased with any `+detail` removed, so aliases with tags still match. */
function baseAddress(address: string): string {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf("@");
  if (at < 0) return a;
  return `${a.slice(0, at).split("+")[0]}@${a.slice(at + 1)}`;
}

function isAddressed(email: ParsedEmail, accountAddresses: readonly string[]): boolean {
  const ours = new Set(accountAddresses.map(baseAddress));
  const listed = [...email.to, ...email.cc].map((a) => a.address);
  for (const name of ["resent-to", "resent-cc", "resent-bcc"]) {
    for (const value of email.headers[name] ?? []) {
      listed.push(...(value.match(/[^\s<>,;:"()]+@[^\s<>,;:"()]+/g) ?? []));
    }
  }
  return listed.some((a) => ours.has(baseAddress(a)));
}

function quote(value: string): string {
  // JSON escapes control characters, so a hostile value cannot forge audit lines (J-07).
  return JSON.stringify(value.length > 120 ? value.slice(0, 119) + "…" : value);
}

function iso(date: Date): string {
  return Number.isNaN(date.getTime()) ? "an invalid date" : date.toISOString();
}
