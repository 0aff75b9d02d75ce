/**
 * The classifier against the labelled corpus in ../shared/corpus/forwarded (real messages from
 * many clients and languages). Prints the figures; asserts the targets on the messages whose body
 * structure tells a forward from a reply. Without the corpus (a clone of the project alone) it
 * says so and is reported as ignored, never as passed.
 */
import assert from "node:assert/strict";
import { figures, formatMiss, misses } from "../../src/domain/classifier_metrics.ts";
import { report, scoreCorpus } from "../../src/eval_classify.ts";

const CORPUS = new URL("../../../shared/corpus/forwarded/", import.meta.url);

function corpusPresent(): boolean {
  try {
    return Deno.statSync(new URL("expected.jsonl", CORPUS)).isFile;
  } catch {
    return false;
  }
}

const present = corpusPresent();
if (!present) {
  console.log(
    `classifier corpus test DID NOT RUN: no labelled corpus at ${CORPUS.pathname} ` +
      "(absent or unreadable); the classifier's figures are unmeasured in this run.",
  );
}

Deno.test({
  name: "classifier on the labelled corpus: ≥ 99.5 % kind, ≥ 99 % sender, attachments all right",
  ignore: !present,
  fn: async () => {
    const rows = await scoreCorpus(CORPUS);
    console.log(report(rows).join("\n"));

    const unambiguous = rows.filter((r) => !r.expected.bodyStructureAmbiguous);
    const f = figures(unambiguous);
    const detail = misses(unambiguous).map(formatMiss).join("\n");
    assert.ok(f.messages > 0, "the corpus has no unambiguous message");
    assert.ok(
      (f.kindAccuracy ?? 0) >= 0.995,
      `kind accuracy ${f.kindCorrect}/${f.messages} is below 99.5 %:\n${detail}`,
    );
    assert.ok(
      (f.senderAccuracy ?? 0) >= 0.99,
      `original sender ${f.senderCorrect}/${f.forwardedLabelled} is below 99 %:\n${detail}`,
    );
    const attachedWrong = rows.filter((r) => r.attached && (!r.kindOk || r.senderOk === false));
    assert.deepEqual(attachedWrong.map(formatMiss), [], "every forward as attachment is right");
  },
});
