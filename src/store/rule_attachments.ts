/**
 * Files stored with a rule and attached to its replies (`rule_attachments`, bytea). The size
 * limit and validation are src/actions/rule_attachments.ts; the sender loads the bytes by id.
 */
import { bytesSql, bytesValue } from "./bytes_param.ts";
import type { Queryable } from "./db.ts";
import type { ReplyAttachment } from "../domain/reply_composer.ts";

/** One stored file as listed: no bytes. */
export interface RuleAttachmentRow extends ReplyAttachment {
  ruleName: string;
  sha256: string;
  createdAt: Date;
  createdBy: string;
}

/** A file with its bytes, as the SMTP edge attaches it. */
export interface AttachmentFile {
  id: number;
  filename: string;
  contentType: string;
  content: Uint8Array;
}

/** An attachment as the API prints it. */
export function ruleAttachmentJson(a: RuleAttachmentRow) {
  return {
    id: a.id,
    rule: a.ruleName,
    filename: a.filename,
    content_type: a.contentType,
    size: a.size,
    sha256: a.sha256,
    created_at: a.createdAt.toISOString(),
    created_by: a.createdBy,
  };
}

const COLUMNS = `f.id, r.name AS rule_name, f.filename, f.content_type, f.size, f.sha256,
  f.created_at, f.created_by`;

function toRow(r: Record<string, unknown>): RuleAttachmentRow {
  return {
    id: Number(r.id),
    ruleName: r.rule_name as string,
    filename: r.filename as string,
    contentType: r.content_type as string,
    size: Number(r.size),
    sha256: r.sha256 as string,
    createdAt: r.created_at as Date,
    createdBy: r.created_by as string,
  };
}

/** The rule's id, or null when no rule has that name. */
export async function ruleIdByName(q: Queryable, ruleName: string): Promise<number | null> {
  const [r] = await q.query<{ id: number }>("SELECT id FROM rules WHERE name = $1", [ruleName]);
  return r ? Number(r.id) : null;
}

/** The files of one rule (not removed), oldest first. */
export async function listRuleAttachments(
  q: Queryable,
  ruleName: string,
): Promise<RuleAttachmentRow[]> {
  const rows = await q.query(
    `SELECT ${COLUMNS} FROM rule_attachments f JOIN rules r ON r.id = f.rule_id
     WHERE r.name = $1 AND f.removed_at IS NULL ORDER BY f.id`,
    [ruleName],
  );
  return rows.map(toRow);
}

/** Every rule's files (not removed), by rule name: what the reply decisions attach. */
export async function attachmentsByRule(
  q: Queryable,
): Promise<Map<string, ReplyAttachment[]>> {
  const rows = await q.query(
    `SELECT ${COLUMNS} FROM rule_attachments f JOIN rules r ON r.id = f.rule_id
     WHERE f.removed_at IS NULL ORDER BY f.id`,
  );
  const out = new Map<string, ReplyAttachment[]>();
  for (const row of rows.map(toRow)) {
    const list = out.get(row.ruleName) ?? [];
    list.push({ id: row.id, filename: row.filename, contentType: row.contentType, size: row.size });
    out.set(row.ruleName, list);
  }
  return out;
}

/** Bytes of the rule's files (not removed), for the 10 MB check. */
export async function ruleAttachmentBytes(q: Queryable, ruleId: number): Promise<number> {
  const [r] = await q.query<{ total: number | string | null }>(
    `SELECT COALESCE(SUM(size), 0) AS total FROM rule_attachments
     WHERE rule_id = $1 AND removed_at IS NULL`,
    [ruleId],
  );
  return Number(r?.total ?? 0);
}

/** Stores a file for a rule; returns its row. */
export async function insertRuleAttachment(
  q: Queryable,
  input: {
    ruleId: number;
    filename: string;
    contentType: string;
    content: Uint8Array;
    sha256: string;
    createdBy: string;
  },
  at: Date,
): Promise<number> {
  const [r] = await q.query<{ id: number }>(
    `INSERT INTO rule_attachments (rule_id, filename, content_type, size, sha256, content,
       created_at, created_by)
     VALUES ($1, $2, $3, $4, $5, ${bytesSql(q, "$6")}, $7::timestamptz, $8)
     RETURNING id`,
    [
      input.ruleId,
      input.filename,
      input.contentType,
      input.content.length,
      input.sha256,
      bytesValue(q, input.content),
      at.toISOString(),
      input.createdBy,
    ],
  );
  return Number(r.id);
}

/** One rule's file (not removed), or null. */
export async function getRuleAttachment(
  q: Queryable,
  ruleName: string,
  id: number,
): Promise<RuleAttachmentRow | null> {
  const [r] = await q.query(
    `SELECT ${COLUMNS} FROM rule_attachments f JOIN rules r ON r.id = f.rule_id
     WHERE r.name = $1 AND f.id = $2 AND f.removed_at IS NULL`,
    [ruleName, id],
  );
  return r ? toRow(r) : null;
}

/**
 * Removes a file from its rule: deleted outright when no reply still to be sent (or settled by a
 * person) names it, else only marked removed so that reply goes out as it was decided.
 */
export async function removeRuleAttachment(q: Queryable, id: number, at: Date): Promise<void> {
  const [held] = await q.query(
    `SELECT 1 AS ok FROM outbox WHERE attachment_ids @> jsonb_build_array($1::bigint)
       AND status IN ('pending', 'retry', 'sending', 'unknown') LIMIT 1`,
    [id],
  );
  if (held) {
    await q.query("UPDATE rule_attachments SET removed_at = $2::timestamptz WHERE id = $1", [
      id,
      at.toISOString(),
    ]);
  } else {
    await q.query("DELETE FROM rule_attachments WHERE id = $1", [id]);
  }
}

/** The files of a reply, by id, in the order given; removed files are still sent. */
export async function loadAttachmentFiles(
  q: Queryable,
  ids: readonly number[],
): Promise<AttachmentFile[]> {
  if (ids.length === 0) return [];
  const rows = await q.query<
    { id: number; filename: string; content_type: string; content: Uint8Array }
  >(
    `SELECT id, filename, content_type, content FROM rule_attachments WHERE id = ANY($1::bigint[])`,
    [ids.map(Number)],
  );
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  return ids.flatMap((id) => {
    const r = byId.get(Number(id));
    if (!r) throw new Error(`attachment ${id} of this reply is no longer stored`);
    return [{
      id: Number(r.id),
      filename: r.filename,
      contentType: r.content_type,
      content: r.content,
    }];
  });
}

/**
 * Deletes removed files, and files whose rule is gone, that no reply still to be sent (or
 * settled by a person) names.
 */
export async function purgeUnusedAttachments(q: Queryable): Promise<void> {
  await q.query(
    `DELETE FROM rule_attachments f WHERE (f.removed_at IS NOT NULL OR f.rule_id IS NULL)
       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.attachment_ids @> jsonb_build_array(f.id)
         AND o.status IN ('pending', 'retry', 'sending', 'unknown'))`,
  );
}
