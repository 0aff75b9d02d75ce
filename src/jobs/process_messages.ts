import type { Classification, ParsedEmail } from "../domain/email.ts";
import type { Db, Queryable } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import { pendingMessages, saveParsed, saveParseFailure } from "../store/messages.ts";
import type { ParseOutcome } from "../mail/parse_message.ts";

/** A stored message that has just been parsed and classified, inside the transaction saving it. */
export interface ClassifiedMessage {
  id: number;
  accountId: number;
  email: ParsedEmail;
  classification: Classification;
  /** SHA-256 of the raw bytes: the content half of the message's identity. */
  sha256: string;
  internalDate: Date | null;
  collectedAt: Date;
}

export interface ProcessDeps {
  db: Db;
  parse: (raw: Uint8Array) => Promise<ParseOutcome>;
  classify: (email: ParsedEmail) => Classification;
  now: () => Date;
  /**
   * Runs in the same transaction that saves the classification, so that whatever it decides
   * (the reply decision and outbox row) commits together with it, or not at all.
   */
  afterClassified?: (tx: Queryable, message: ClassifiedMessage, at: Date) => Promise<void>;
}

const BATCH = 50;

/**
 * Parses and classifies every stored message of the account still `pending`. A message that
 * fails to parse is marked `failed` with the parser's error and stays stored and visible; it never
 * stops the run. Run it under the account's collection lock.
 */
export async function processPending(
  deps: ProcessDeps,
  accountId: number,
): Promise<{ parsed: number; failed: number }> {
  let parsed = 0;
  let failed = 0;
  while (true) {
    const batch = await pendingMessages(deps.db, accountId, BATCH);
    if (batch.length === 0) break;
    for (const m of batch) {
      const outcome = await deps.parse(m.raw);
      const at = deps.now();
      if (!outcome.ok) {
        await deps.db.transaction(async (tx) => {
          await saveParseFailure(tx, m.id, outcome.error, at);
          await recordEvent(tx, {
            event: "parse_failed",
            at,
            accountId,
            messageId: m.id,
            detail: { error: outcome.error },
          });
        });
        failed++;
        continue;
      }
      const classification = classifySafely(deps, outcome.email);
      await deps.db.transaction(async (tx) => {
        await saveParsed(tx, m.id, outcome.email, classification, at);
        await recordEvent(tx, {
          event: "classified",
          at,
          accountId,
          messageId: m.id,
          detail: {
            kind: classification.kind,
            confidence: classification.confidence,
            original_from: classification.original?.fromAddress ?? null,
          },
        });
        await deps.afterClassified?.(tx, {
          id: m.id,
          accountId,
          email: outcome.email,
          classification,
          sha256: m.sha256,
          internalDate: m.internalDate,
          collectedAt: m.collectedAt,
        }, at);
      });
      parsed++;
    }
  }
  return { parsed, failed };
}

// A classifier bug on one hostile message must not leave it pending forever: it is kept as
// `direct` with confidence 0 and the error as evidence, for a person to see and correct.
function classifySafely(deps: ProcessDeps, email: ParsedEmail): Classification {
  try {
    return deps.classify(email);
  } catch (e) {
    return {
      kind: "direct",
      original: null,
      confidence: 0,
      evidence: [`classifier error: ${e instanceof Error ? e.message : String(e)}`],
    };
  }
}
