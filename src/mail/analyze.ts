import type { Classification } from "../domain/email.ts";
import { classify } from "../domain/classifier.ts";
import { parseMessage, type ParseOutcome } from "./parse_message.ts";

/** What the parser and the classifier made of one raw message. */
export interface Analysis {
  outcome: ParseOutcome;
  /** Null when the message could not be parsed. */
  classification: Classification | null;
}

/**
 * Parses and classifies one raw message. Never throws: a parser failure is an outcome, and a
 * classifier bug on one hostile message leaves it `direct` with confidence 0 and the error as
 * evidence, for a person to see and correct, instead of pending forever.
 */
export async function analyzeMessage(raw: Uint8Array): Promise<Analysis> {
  const outcome = await parseMessage(raw);
  if (!outcome.ok) return { outcome, classification: null };
  return { outcome, classification: classifySafely(outcome.email) };
}

function classifySafely(email: Parameters<typeof classify>[0]): Classification {
  try {
    return classify(email);
  } catch (e) {
    return {
      kind: "direct",
      original: null,
      confidence: 0,
      evidence: [`classifier error: ${e instanceof Error ? e.message : String(e)}`],
    };
  }
}
