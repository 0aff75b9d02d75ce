/**
 * A file a person uploads to a rule, checked before it is stored: a plain file name (no folder,
 * no control characters), a media type of the form `type/subtype`, and the rule's total within
 * `MAX_RULE_ATTACHMENT_BYTES`.
 */

import { hasControl } from "./json_checks.ts";

/** Most bytes of files one rule may hold: every reply carries them all. */
export const MAX_RULE_ATTACHMENT_BYTES = 10 * 1024 * 1024;
/** Longest file name kept, in characters. */
export const MAX_ATTACHMENT_NAME = 255;
/** The media type of a file whose upload named none. */
export const DEFAULT_ATTACHMENT_TYPE = "application/octet-stream";

/** An upload as it arrived: its name, declared type and bytes. */
export interface AttachmentUpload {
  filename: unknown;
  contentType: unknown;
  size: number;
}

/** What `checkAttachmentUpload` made of an upload. */
export type AttachmentCheck =
  | { ok: true; filename: string; contentType: string }
  | { ok: false; errors: string[] };

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * Checks an upload against the rule's files already stored (`storedBytes`): the name is kept
 * without any folder a browser or a client sent with it; a missing or odd media type becomes
 * `application/octet-stream`; every problem is listed at once.
 */
export function checkAttachmentUpload(
  upload: AttachmentUpload,
  storedBytes: number,
): AttachmentCheck {
  const errors: string[] = [];
  const raw = typeof upload.filename === "string" ? upload.filename : "";
  const filename = raw.split(/[\\/]/).pop()!.trim();
  if (filename === "" || filename === "." || filename === "..") {
    errors.push("file: a file with a name is required");
  } else if (filename.length > MAX_ATTACHMENT_NAME) {
    errors.push(`file: the name is longer than ${MAX_ATTACHMENT_NAME} characters`);
  } else if (hasControl(filename)) {
    errors.push("file: the name contains a control character");
  }
  if (upload.size === 0) errors.push("file: the file is empty");
  if (storedBytes + upload.size > MAX_RULE_ATTACHMENT_BYTES) {
    errors.push(
      `file: ${mb(upload.size)} would bring the rule's files to ${
        mb(storedBytes + upload.size)
      }; the limit is ${
        mb(MAX_RULE_ATTACHMENT_BYTES)
      } per rule (remove a file or send a smaller one)`,
    );
  }
  if (errors.length > 0) return { ok: false, errors };
  const declared = typeof upload.contentType === "string"
    ? upload.contentType.split(";")[0].trim().toLowerCase()
    : "";
  return {
    ok: true,
    filename,
    contentType: MEDIA_TYPE.test(declared) ? declared : DEFAULT_ATTACHMENT_TYPE,
  };
}

function mb(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
