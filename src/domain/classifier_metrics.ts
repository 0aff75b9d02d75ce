/**
 * Scoring the classifier against labelled messages: kind accuracy, precision and recall for
 * `forwarded`, and how often the original sender's address is right. Pure counting, shared by the
 * corpus test and `deno task eval:classify`.
 */
import type { Classification } from "./email.ts";

/** One labelled message, as a line of a corpus's expected.jsonl describes it. */
export interface ExpectedLabel {
  file: string;
  forwarded: boolean;
  originalFromAddress: string | null;
  client: string | null;
  language: string | null;
  bodyStructureAmbiguous: boolean;
  outerSubjectSynthesized: boolean;
}

/** A message's label beside the classifier's verdict. */
export interface ScoredMessage {
  expected: ExpectedLabel;
  got: Classification;
  /** The message carries an attached message/rfc822 part (a forward as attachment). */
  attached: boolean;
  kindOk: boolean;
  /** For a message labelled forwarded: verdict forwarded and the same original address. */
  senderOk: boolean | null;
}

/** The figures for a set of messages; ratios are null where nothing was there to count. */
export interface Figures {
  messages: number;
  kindCorrect: number;
  kindAccuracy: number | null;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number | null;
  recall: number | null;
  forwardedLabelled: number;
  senderCorrect: number;
  senderAccuracy: number | null;
}

/** Reads one line of expected.jsonl; throws with the line's text when it is not a label. */
export function readExpectedLine(line: string): ExpectedLabel {
  const o = JSON.parse(line) as Record<string, unknown>;
  if (typeof o.file !== "string" || typeof o.forwarded !== "boolean") {
    throw new Error(`not a label (needs "file" and "forwarded"): ${line.slice(0, 200)}`);
  }
  const str = (v: unknown) => (typeof v === "string" && v.length > 0 ? v : null);
  return {
    file: o.file,
    forwarded: o.forwarded,
    originalFromAddress: str(o.original_from_address),
    client: str(o.client),
    language: str(o.language),
    bodyStructureAmbiguous: o.body_structure_ambiguous === true,
    outerSubjectSynthesized: o.outer_subject_synthesized === true,
  };
}

function sameAddress(a: string | null | undefined, b: string | null | undefined): boolean {
  const norm = (x: string | null | undefined) => (x ?? "").trim().toLowerCase() || null;
  return norm(a) === norm(b);
}

/** Scores one verdict against its label. */
export function scoreMessage(
  expected: ExpectedLabel,
  got: Classification,
  attached: boolean,
): ScoredMessage {
  const kindOk = (got.kind === "forwarded") === expected.forwarded;
  const senderOk = expected.forwarded
    ? got.kind === "forwarded" &&
      sameAddress(got.original?.fromAddress, expected.originalFromAddress)
    : null;
  return { expected, got, attached, kindOk, senderOk };
}

/** Counts the figures of a set of scored messages. */
export function figures(rows: readonly ScoredMessage[]): Figures {
  let kindCorrect = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let labelled = 0;
  let senderCorrect = 0;
  for (const r of rows) {
    if (r.kindOk) kindCorrect++;
    const said = r.got.kind === "forwarded";
    if (said && r.expected.forwarded) tp++;
    if (said && !r.expected.forwarded) fp++;
    if (!said && r.expected.forwarded) fn++;
    if (r.expected.forwarded) {
      labelled++;
      if (r.senderOk) senderCorrect++;
    }
  }
  const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
  return {
    messages: rows.length,
    kindCorrect,
    kindAccuracy: ratio(kindCorrect, rows.length),
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    forwardedLabelled: labelled,
    senderCorrect,
    senderAccuracy: ratio(senderCorrect, labelled),
  };
}

/** Figures per group (client, language…), groups in alphabetical order. */
export function figuresBy(
  rows: readonly ScoredMessage[],
  key: (r: ScoredMessage) => string,
): Array<[string, Figures]> {
  const groups = new Map<string, ScoredMessage[]>();
  for (const r of rows) {
    const k = key(r);
    const list = groups.get(k) ?? [];
    list.push(r);
    groups.set(k, list);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map((
    [k, list],
  ) => [k, figures(list)]);
}

function pct(x: number | null): string {
  return x === null ? "   n/a" : `${(x * 100).toFixed(1).padStart(5)}%`;
}

/** One line of figures, for a terminal. */
export function formatFigures(label: string, f: Figures): string {
  return `${label.padEnd(44).slice(0, 44)} n=${String(f.messages).padStart(4)}  kind ${
    pct(f.kindAccuracy)
  } (${f.kindCorrect}/${f.messages})  fwd precision ${pct(f.precision)}  recall ${
    pct(f.recall)
  }  sender ${pct(f.senderAccuracy)} (${f.senderCorrect}/${f.forwardedLabelled})`;
}

/** The messages whose kind or original sender came out wrong. */
export function misses(rows: readonly ScoredMessage[]): ScoredMessage[] {
  return rows.filter((r) => !r.kindOk || r.senderOk === false);
}

/** One line per miss: what was expected, what came out, and the evidence. */
export function formatMiss(r: ScoredMessage): string {
  const want = r.expected.forwarded
    ? `forwarded from ${r.expected.originalFromAddress ?? "(none)"}`
    : "direct";
  const got = r.got.kind === "forwarded"
    ? `forwarded from ${r.got.original?.fromAddress ?? "(none)"}`
    : "direct";
  const flags = [
    r.expected.bodyStructureAmbiguous ? "ambiguous" : "",
    r.expected.outerSubjectSynthesized ? "synthesized subject" : "",
  ].filter(Boolean).join(", ");
  return `${r.expected.file}${flags ? ` [${flags}]` : ""}\n  expected ${want}; got ${got} ` +
    `(confidence ${r.got.confidence})\n  evidence: ${r.got.evidence.join(" | ")}`;
}
