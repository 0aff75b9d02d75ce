/**
 * Files attached to a rule's replies, from the rules page or `/api/v1/rules/{name}/attachments`:
 * adding and removing one, each with its audit event in the same transaction.
 */
import { recordEvent } from "../store/audit.ts";
import {
  getRuleAttachment,
  insertRuleAttachment,
  purgeUnusedAttachments,
  removeRuleAttachment as removeStored,
  ruleAttachmentBytes,
  ruleIdByName,
} from "../store/rule_attachments.ts";
import { checkAttachmentUpload } from "../domain/rule_attachment.ts";
import { sha256Hex } from "../domain/sha256.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** A file to attach to a rule's replies. */
export interface RuleAttachmentInput {
  rule: string;
  filename: unknown;
  contentType: unknown;
  content: Uint8Array;
}

/** What was stored. */
export interface StoredAttachment {
  id: number;
  rule: string;
  filename: string;
  contentType: string;
  size: number;
}

/**
 * Stores a file with rule `rule`: an unknown rule is `not_found`; a nameless or empty file, or
 * one that would bring the rule's files beyond 10 MB, is `invalid`.
 */
export function addRuleAttachment(
  deps: ActionDeps,
  input: RuleAttachmentInput,
  by: string,
): Promise<Result<StoredAttachment>> {
  return transact(deps.db, async (tx) => {
    const ruleId = await ruleIdByName(tx, input.rule);
    if (ruleId === null) return problem("not_found", `no rule is named "${input.rule}"`);
    const checked = checkAttachmentUpload(
      { filename: input.filename, contentType: input.contentType, size: input.content.length },
      await ruleAttachmentBytes(tx, ruleId),
    );
    if (!checked.ok) return problem("invalid", checked.errors[0], checked.errors);
    const at = deps.now();
    await purgeUnusedAttachments(tx);
    const sha256 = sha256Hex(input.content);
    const id = await insertRuleAttachment(tx, {
      ruleId,
      filename: checked.filename,
      contentType: checked.contentType,
      content: input.content,
      sha256,
      createdBy: by,
    }, at);
    const size = input.content.length;
    await recordEvent(tx, {
      event: "rule_attachment_added",
      at,
      detail: { rule: input.rule, id, filename: checked.filename, size, sha256, by },
    });
    return done({
      id,
      rule: input.rule,
      filename: checked.filename,
      contentType: checked.contentType,
      size,
    });
  }, "the rule's files changed meanwhile");
}

/**
 * Removes file `id` from rule `rule` (`not_found` when the rule has no such file). A reply
 * already enqueued with it still goes out with it.
 */
export function removeRuleAttachment(
  deps: ActionDeps,
  rule: string,
  id: number,
  by: string,
): Promise<Result<{ id: number; filename: string }>> {
  return transact(deps.db, async (tx) => {
    const found = await getRuleAttachment(tx, rule, id);
    if (!found) return problem("not_found", `rule "${rule}" has no file ${id}`);
    const at = deps.now();
    await removeStored(tx, id, at);
    await purgeUnusedAttachments(tx);
    await recordEvent(tx, {
      event: "rule_attachment_removed",
      at,
      detail: {
        rule,
        id,
        filename: found.filename,
        size: found.size,
        sha256: found.sha256,
        by,
      },
    });
    return done({ id, filename: found.filename });
  }, "the rule's files changed meanwhile");
}
