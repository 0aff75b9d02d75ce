/**
 * Bytes as statement parameters (raw sources, rule attachments), in the form the connection takes
 * best (`Queryable.bytes`).
 */
import { Buffer } from "node:buffer";
import type { Queryable } from "./db.ts";

/** Bytes as base64 text, read in place. */
export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * Bytes as a parameter: as they are where the driver sends binary parameters; otherwise as base64
 * text, a third fewer bytes than the driver's hex form for bytea, on the wire and in the server's
 * decoding.
 */
export function bytesValue(q: Queryable, bytes: Uint8Array): Uint8Array | string {
  return q.bytes === "binary" ? bytes : base64(bytes);
}

/** The SQL that reads a parameter made by `bytesValue` as bytea. */
export function bytesSql(q: Queryable, ref: string): string {
  return q.bytes === "binary" ? `${ref}::bytea` : `decode(${ref}, 'base64')`;
}
