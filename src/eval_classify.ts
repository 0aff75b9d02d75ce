/**
 * `deno task eval:classify [DIR]`: runs the classifier over a folder of .eml files labelled by
 * its expected.jsonl and prints accuracy, forwarded precision and recall, original-sender
 * accuracy (overall, by client, by language, by flag) and then every miss. DIR defaults to
 * ../shared/corpus/forwarded beside the project root.
 */
import { classify } from "./domain/classifier.ts";
import {
  figures,
  figuresBy,
  formatFigures,
  formatMiss,
  misses,
  readExpectedLine,
  type ScoredMessage,
  scoreMessage,
} from "./domain/classifier_metrics.ts";
import { parseMessage } from "./mail/parse_message.ts";

/** Where the labelled corpus lives when no folder is given. */
export const DEFAULT_CORPUS = new URL("../../shared/corpus/forwarded/", import.meta.url);

/** Parses and classifies every labelled message of `dir`; a message that fails to parse throws. */
export async function scoreCorpus(dir: URL): Promise<ScoredMessage[]> {
  const labels = (await Deno.readTextFile(new URL("expected.jsonl", dir)))
    .split("\n").filter((l) => l.trim() !== "").map(readExpectedLine);
  const rows: ScoredMessage[] = [];
  for (const label of labels) {
    const raw = await Deno.readFile(new URL(label.file, dir));
    const parsed = await parseMessage(raw);
    if (!parsed.ok) throw new Error(`${label.file} did not parse: ${parsed.error}`);
    const email = parsed.email;
    rows.push(scoreMessage(label, classify(email), email.attachedMessages.length > 0));
  }
  return rows;
}

/** The report `deno task eval:classify` prints, as lines. */
export function report(rows: readonly ScoredMessage[]): string[] {
  const out: string[] = [];
  const unambiguous = rows.filter((r) => !r.expected.bodyStructureAmbiguous);
  out.push(formatFigures("all messages", figures(rows)));
  out.push(formatFigures("unambiguous body structure", figures(unambiguous)));
  out.push(formatFigures("forward as attachment", figures(rows.filter((r) => r.attached))));
  out.push("", "by body_structure_ambiguous:");
  for (const [k, f] of figuresBy(rows, (r) => String(r.expected.bodyStructureAmbiguous))) {
    out.push(formatFigures(`  ${k}`, f));
  }
  out.push("", "by outer_subject_synthesized:");
  for (const [k, f] of figuresBy(rows, (r) => String(r.expected.outerSubjectSynthesized))) {
    out.push(formatFigures(`  ${k}`, f));
  }
  out.push("", "by client:");
  for (const [k, f] of figuresBy(rows, (r) => r.expected.client ?? "(unknown)")) {
    out.push(formatFigures(`  ${k}`, f));
  }
  out.push("", "by language:");
  for (const [k, f] of figuresBy(rows, (r) => r.expected.language ?? "(unknown)")) {
    out.push(formatFigures(`  ${k}`, f));
  }
  const missed = misses(rows);
  out.push("", `misses (${missed.length}):`);
  for (const r of missed) out.push(formatMiss(r));
  return out;
}

if (import.meta.main) {
  const arg = Deno.args[0];
  const dir = arg
    ? new URL(`${arg.replace(/\/?$/, "/")}`, `file://${Deno.cwd()}/`)
    : DEFAULT_CORPUS;
  try {
    for (const line of report(await scoreCorpus(dir))) console.log(line);
  } catch (e) {
    console.error(
      `eval:classify: cannot score ${dir.pathname}: ${e instanceof Error ? e.message : String(e)}`,
    );
    console.error("Give a folder holding .eml files and their expected.jsonl.");
    Deno.exit(1);
  }
}
