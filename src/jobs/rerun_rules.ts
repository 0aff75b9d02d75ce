import type { Classification, MessageKind, ParsedEmail } from "../domain/email.ts";
import type { Queryable } from "../store/db.ts";
import type { ParseOutcome } from "../mail/parse_message.ts";
import type { ClassifiedMessage } from "./process_messages.ts";

export interface RerunDeps {
  parse: (raw: Uint8Array) => Promise<ParseOutcome>;
  /** The reply step of src/jobs/reply_step.ts. */
  replyStep: (
    tx: Queryable,
    m: ClassifiedMessage,
    at: Date,
    options: { rerun?: boolean },
  ) => Promise<void>;
}

/**
 * Runs the rules again for one stored message with its current (possibly corrected)
 * classification, in the caller's transaction. The reply step never enqueues a second reply for
 * a message that already has one. Returns false when the message is not parsed, or its raw
 * source was purged (docs/retention.md).
 */
export async function rerunRules(
  deps: RerunDeps,
  tx: Queryable,
  messageId: number,
  at: Date,
): Promise<boolean> {
  const [row] = await tx.query<Record<string, unknown>>(
    `SELECT account_id, raw, content_sha256, internal_date, collected_at, kind, confidence,
       evidence, original_from_address, original_from_name, original_subject, original_date,
       original_date_iso
     FROM messages WHERE id = $1 AND parse_status = 'parsed' AND raw IS NOT NULL`,
    [messageId],
  );
  if (!row) return false;
  const parsed = await deps.parse(new Uint8Array(row.raw as Uint8Array));
  if (!parsed.ok) return false;
  await deps.replyStep(
    tx,
    {
      id: messageId,
      accountId: row.account_id as number,
      email: parsed.email as ParsedEmail,
      classification: storedClassification(row),
      sha256: row.content_sha256 as string,
      internalDate: (row.internal_date as Date | null) ?? null,
      collectedAt: row.collected_at as Date,
    },
    at,
    { rerun: true },
  );
  return true;
}

function storedClassification(row: Record<string, unknown>): Classification {
  const kind = row.kind as MessageKind;
  const isoDate = row.original_date_iso as Date | null;
  return {
    kind,
    confidence: Number(row.confidence ?? 1),
    evidence: (row.evidence as string[] | null) ?? [],
    original: kind === "forwarded"
      ? {
        fromAddress: (row.original_from_address as string | null) ?? null,
        fromName: (row.original_from_name as string | null) ?? null,
        subject: (row.original_subject as string | null) ?? null,
        date: (row.original_date as string | null) ?? null,
        dateIso: isoDate ? isoDate.toISOString() : null,
      }
      : null,
  };
}
