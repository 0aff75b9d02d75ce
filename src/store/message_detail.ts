import type {
  Address,
  AttachmentMeta,
  Classification,
  MessageKind,
  ParsedEmail,
} from "../domain/email.ts";
import type { Queryable } from "./db.ts";
import { pgSafe } from "./pg_safe.ts";
import { camelRow } from "./row.ts";
import { type DeliveryReportFields, REPORT_COLUMNS, reportOf } from "./outbox_admin.ts";
import { sentCopyColumn, sentCopyOf, type SentCopyState } from "./sent_copies.ts";

/** A stored message as the detail page shows it (the raw bytes are fetched separately). */
export interface MessageDetail {
  id: number;
  /** Null when its account was deleted and the message kept ("(deleted account)"). */
  accountId: number | null;
  accountName: string | null;
  mailbox: string;
  uid: number;
  size: number;
  receivedAt: Date;
  collectedAt: Date;
  parseStatus: "pending" | "parsed" | "failed";
  parseError: string | null;
  /** When retention dropped its raw source (the parsed message stays); null: the source is kept. */
  rawPurgedAt: Date | null;
  /**
   * What the account's after-processing setting did on the server (mark `\Seen`, move): null
   * when nothing was to be done; `failed` leaves the mail where it was, tried again next run.
   */
  afterProcessing: {
    state: "pending" | "done" | "failed";
    action: "seen" | "move" | null;
    folder: string | null;
    error: string | null;
    attempts: number;
    at: Date | null;
  } | null;
  messageIdHeader: string | null;
  from: Address[];
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  subject: string | null;
  sentDate: Date | null;
  text: string | null;
  html: string | null;
  headers: Record<string, string[]>;
  attachments: AttachmentMeta[];
  kind: MessageKind | null;
  confidence: number | null;
  evidence: string[];
  original: {
    fromAddress: string | null;
    fromName: string | null;
    subject: string | null;
    date: string | null;
  };
  decision: {
    decidedAt: Date;
    outcome: string;
    ruleName: string | null;
    reason: string | null;
    detail: string | null;
    trail: Array<{ rule: string; hit: boolean; why: string }>;
  } | null;
  outbox: Array<{
    id: number;
    status: string;
    recipient: string;
    subject: string;
    ruleName: string | null;
    attempts: number;
    lastError: string | null;
    createdAt: Date;
    sentAt: Date | null;
    /** What a delivery status notification said of the reply, if one came back. */
    report: DeliveryReportFields | null;
    /** The copy in the account's Sent mailbox; null when none is owed. */
    sentCopy: SentCopyState | null;
  }>;
  /**
   * When this message is a delivery status notification for replies of ours: those replies,
   * with the message each answered and what this notification said.
   */
  reportFor: Array<{
    outboxId: number;
    status: string;
    recipient: string;
    /** The message the reply answered. */
    messageId: number | null;
    report: DeliveryReportFields;
  }>;
}

const DETAIL_COLUMNS = `m.id, m.account_id, a.name AS account_name, m.mailbox, m.uid, m.size,
  m.received_at, m.collected_at, m.parse_status, m.parse_error, m.message_id, m.from_address,
  m.from_name, m.reply_to, m.to_addresses, m.cc_addresses, m.subject, m.sent_date, m.text_body,
  m.html_body, m.headers, m.attachments, m.kind, m.confidence, m.evidence,
  m.original_from_address, m.original_from_name, m.original_subject, m.original_date,
  m.original_date_iso, m.sender, m.in_reply_to, m."references", m.content_sha256,
  m.internal_date, m.after_state, m.after_action, m.after_folder, m.after_error,
  m.after_attempts, m.after_at, m.raw_purged_at`;

/** One message with its decision and the outbox rows it produced; null when there is none. */
export async function getMessageDetail(q: Queryable, id: number): Promise<MessageDetail | null> {
  const [r] = await q.query<Record<string, unknown>>(
    `SELECT ${DETAIL_COLUMNS} FROM messages m LEFT JOIN accounts a ON a.id = m.account_id
     WHERE m.id = $1`,
    [id],
  );
  if (!r) return null;
  const [d] = await q.query<Record<string, unknown>>(
    "SELECT decided_at, outcome, rule_name, reason, detail, trail FROM decisions WHERE message_id = $1",
    [id],
  );
  const outbox = await q.query<Record<string, unknown>>(
    `SELECT id, status, recipient, subject, rule_name, attempts, last_error, created_at, sent_at,
       ${REPORT_COLUMNS},
       ${sentCopyColumn("outbox")}
     FROM outbox WHERE message_id = $1 ORDER BY id`,
    [id],
  );
  const reported = await q.query<Record<string, unknown>>(
    `SELECT id, status, recipient, message_id, ${REPORT_COLUMNS}
     FROM outbox WHERE dsn_message_id = $1 ORDER BY id`,
    [id],
  );
  const email = toParsedEmail(r);
  return {
    id: Number(r.id),
    accountId: (r.account_id as number | null) ?? null,
    accountName: (r.account_name as string | null) ?? null,
    mailbox: r.mailbox as string,
    uid: Number(r.uid),
    size: r.size as number,
    receivedAt: r.received_at as Date,
    collectedAt: r.collected_at as Date,
    parseStatus: r.parse_status as MessageDetail["parseStatus"],
    parseError: (r.parse_error as string | null) ?? null,
    rawPurgedAt: (r.raw_purged_at as Date | null) ?? null,
    afterProcessing: r.after_state
      ? {
        state: r.after_state as "pending" | "done" | "failed",
        action: (r.after_action as "seen" | "move" | null) ?? null,
        folder: (r.after_folder as string | null) ?? null,
        error: (r.after_error as string | null) ?? null,
        attempts: Number(r.after_attempts),
        at: (r.after_at as Date | null) ?? null,
      }
      : null,
    messageIdHeader: email.messageId,
    from: email.from,
    replyTo: email.replyTo,
    to: email.to,
    cc: email.cc,
    subject: email.subject,
    sentDate: email.date,
    text: email.text,
    html: email.html,
    headers: email.headers,
    attachments: email.attachments,
    kind: (r.kind as MessageKind | null) ?? null,
    confidence: r.confidence === null ? null : Number(r.confidence),
    evidence: (r.evidence as string[] | null) ?? [],
    original: toOriginal(r),
    decision: d
      ? {
        ...camelRow<NonNullable<MessageDetail["decision"]>>(d),
        trail: (d.trail as Array<{ rule: string; hit: boolean; why: string }> | null) ?? [],
      }
      : null,
    outbox: outbox.map((o) => ({
      id: Number(o.id),
      status: o.status as string,
      recipient: o.recipient as string,
      subject: o.subject as string,
      ruleName: (o.rule_name as string | null) ?? null,
      attempts: o.attempts as number,
      lastError: (o.last_error as string | null) ?? null,
      createdAt: o.created_at as Date,
      sentAt: (o.sent_at as Date | null) ?? null,
      report: reportOf(o),
      sentCopy: sentCopyOf(o.sent_copy),
    })),
    reportFor: reported.flatMap((o) => {
      const report = reportOf(o);
      return report
        ? [{
          outboxId: Number(o.id),
          status: o.status as string,
          recipient: o.recipient as string,
          messageId: o.message_id === null ? null : Number(o.message_id),
          report,
        }]
        : [];
    }),
  };
}

/** The message's HTML body only (for the sandboxed viewer); undefined when no such message. */
export async function getMessageHtml(
  q: Queryable,
  id: number,
): Promise<{ html: string | null } | undefined> {
  const [r] = await q.query<{ html_body: string | null }>(
    "SELECT html_body FROM messages WHERE id = $1",
    [id],
  );
  return r ? { html: r.html_body } : undefined;
}

/**
 * The message's exact bytes as collected; `purged` when retention dropped them (the parsed
 * message stays); null when there is no such message.
 */
export async function getRawMessage(
  q: Queryable,
  id: number,
): Promise<Uint8Array | "purged" | null> {
  const [r] = await q.query<{ raw: Uint8Array | null }>(
    "SELECT raw FROM messages WHERE id = $1",
    [id],
  );
  if (!r) return null;
  return r.raw === null ? "purged" : new Uint8Array(r.raw);
}

/**
 * A person's correction of the classifier: the kind, and for a forward the original sender.
 * Confidence becomes 1 and the evidence says who decided. Returns false when no such message.
 */
export async function overrideClassification(
  q: Queryable,
  id: number,
  o: {
    kind: MessageKind;
    originalFromAddress: string | null;
    originalFromName: string | null;
    by: string;
  },
  at: Date,
): Promise<boolean> {
  const evidence = [`set by ${o.by} at ${at.toISOString()}`];
  const rows = await q.query(
    `UPDATE messages SET kind = $2, confidence = 1, evidence = $3::jsonb,
       original_from_address = $4, original_from_name = $5, classified_at = $6::timestamptz
     WHERE id = $1 AND parse_status = 'parsed'
     RETURNING 1 AS ok`,
    [
      id,
      o.kind,
      JSON.stringify(pgSafe(evidence)),
      o.kind === "forwarded" ? pgSafe(o.originalFromAddress) : null,
      o.kind === "forwarded" ? pgSafe(o.originalFromName) : null,
      at.toISOString(),
    ],
  );
  return rows.length > 0;
}

/** A parsed message rebuilt from its stored fields, as the rules see it. */
export interface StoredEmail {
  id: number;
  accountId: number;
  subject: string | null;
  fromAddress: string | null;
  email: ParsedEmail;
  classification: Classification;
  receivedAt: Date;
  rawSha256: string;
}

/** The parsed fields of a stored message, as the parser returned them. */
function toParsedEmail(r: Record<string, unknown>): ParsedEmail {
  return {
    messageId: (r.message_id as string | null) ?? null,
    from: r.from_address
      ? [{ address: r.from_address as string, name: (r.from_name as string | null) ?? "" }]
      : [],
    sender: (r.sender as Address | null) ?? null,
    replyTo: (r.reply_to as Address[] | null) ?? [],
    to: (r.to_addresses as Address[] | null) ?? [],
    cc: (r.cc_addresses as Address[] | null) ?? [],
    subject: (r.subject as string | null) ?? null,
    date: (r.sent_date as Date | null) ?? null,
    inReplyTo: (r.in_reply_to as string | null) ?? null,
    references: (r.references as string[] | null) ?? [],
    headers: (r.headers as Record<string, string[]> | null) ?? {},
    text: (r.text_body as string | null) ?? null,
    html: (r.html_body as string | null) ?? null,
    attachments: (r.attachments as AttachmentMeta[] | null) ?? [],
    attachedMessages: [],
  };
}

/** The original message a forward names, as the classifier found it. */
function toOriginal(r: Record<string, unknown>) {
  return {
    fromAddress: (r.original_from_address as string | null) ?? null,
    fromName: (r.original_from_name as string | null) ?? null,
    subject: (r.original_subject as string | null) ?? null,
    date: (r.original_date as string | null) ?? null,
  };
}

function toStoredEmail(r: Record<string, unknown>): StoredEmail {
  const email = toParsedEmail(r);
  const original = r.kind === "forwarded"
    ? { ...toOriginal(r), dateIso: (r.original_date_iso as Date | null)?.toISOString() ?? null }
    : null;
  return {
    id: Number(r.id),
    accountId: r.account_id as number,
    subject: email.subject,
    fromAddress: r.from_address as string | null,
    email,
    classification: {
      kind: (r.kind as MessageKind | null) ?? "direct",
      original,
      confidence: r.confidence === null ? 0 : Number(r.confidence),
      evidence: (r.evidence as string[] | null) ?? [],
    },
    receivedAt: r.received_at as Date,
    rawSha256: r.content_sha256 as string,
  };
}

/** One parsed message as the rules see it; null when missing or not parsed. */
export async function getStoredEmail(q: Queryable, id: number): Promise<StoredEmail | null> {
  const [r] = await q.query<Record<string, unknown>>(
    `SELECT ${DETAIL_COLUMNS} FROM messages m JOIN accounts a ON a.id = m.account_id
     WHERE m.id = $1 AND m.parse_status = 'parsed'`,
    [id],
  );
  return r ? toStoredEmail(r) : null;
}

/** Parsed messages received since `since`, newest first, at most `limit`. */
export async function storedEmailsSince(
  q: Queryable,
  since: Date,
  limit: number,
): Promise<StoredEmail[]> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT ${DETAIL_COLUMNS} FROM messages m JOIN accounts a ON a.id = m.account_id
     WHERE m.parse_status = 'parsed' AND m.received_at >= $1::timestamptz
     ORDER BY m.received_at DESC, m.id DESC LIMIT $2`,
    [since.toISOString(), limit],
  );
  return rows.map(toStoredEmail);
}

/** The parsed messages of `ids` as the rules see them, in the order of `ids`. */
export async function storedEmailsByIds(
  q: Queryable,
  ids: readonly number[],
): Promise<StoredEmail[]> {
  if (ids.length === 0) return [];
  const rows = await q.query<Record<string, unknown>>(
    `SELECT ${DETAIL_COLUMNS} FROM messages m JOIN accounts a ON a.id = m.account_id
     WHERE m.id = ANY($1::bigint[]) AND m.parse_status = 'parsed'`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [Number(r.id), toStoredEmail(r)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** Recent parsed messages to pick from for a rule preview: id and subject only. */
export async function recentMessageChoices(
  q: Queryable,
  limit: number,
): Promise<Array<{ id: number; subject: string | null; fromAddress: string | null }>> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT id, subject, from_address FROM messages WHERE parse_status = 'parsed'
     ORDER BY received_at DESC, id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    subject: (r.subject as string | null) ?? null,
    fromAddress: (r.from_address as string | null) ?? null,
  }));
}
