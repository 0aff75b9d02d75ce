/** The after-processing setting: reading it, its action, and which mailbox is the target. */
import assert from "node:assert/strict";
import {
  afterAction,
  readAfterProcessing,
  sameMailbox,
} from "../../src/domain/after_processing.ts";

Deno.test("after processing: the setting as typed", () => {
  assert.deepEqual(readAfterProcessing("keep", "Ignored"), { mode: "keep", folder: null });
  assert.deepEqual(readAfterProcessing("seen", ""), { mode: "seen", folder: null });
  assert.deepEqual(readAfterProcessing("move", " Processados "), {
    mode: "move",
    folder: "Processados",
  });
  for (const [mode, folder] of [["move", ""], ["move", "a\r\nb"], ["move", "x".repeat(201)]]) {
    const read = readAfterProcessing(mode, folder);
    assert.ok("problem" in read && read.problem.startsWith("after_folder:"), `${mode} ${folder}`);
  }
  const bad = readAfterProcessing("delete", "");
  assert.ok("problem" in bad && bad.problem.startsWith("after_processing:"));
});

Deno.test("after processing: only seen and move reach the server", () => {
  assert.equal(afterAction("keep", null), null);
  assert.equal(afterAction("move", null), null);
  assert.deepEqual(afterAction("seen", null), { kind: "seen" });
  assert.deepEqual(afterAction("move", "Arquivo"), { kind: "move", folder: "Arquivo" });
});

Deno.test("after processing: INBOX is one mailbox whatever its case, other names are exact", () => {
  assert.ok(sameMailbox("INBOX", "inbox"));
  assert.ok(sameMailbox("Processados", "Processados"));
  assert.ok(!sameMailbox("Processados", "processados"));
  assert.ok(!sameMailbox("INBOX", "INBOX/Processados"));
});
