/**
 * The message model shared by every part of Carteiro. A `ParsedEmail` is what the parser at the
 * edge (src/mail/parse_message.ts) makes of a message's raw bytes; everything in src/domain reads
 * it and nothing here does I/O.
 */

/** One mailbox of an address header. `address` is lower-cased by the parser; `name` may be "". */
export interface Address {
  name: string;
  address: string;
}

/** What we keep of an attachment: its description, never its bytes (those stay in the raw). */
export interface AttachmentMeta {
  filename: string | null;
  contentType: string;
  size: number;
  contentId: string | null;
  disposition: string | null;
}

/**
 * A message/rfc822 part (a forward sent "as attachment"), parsed at the edge so that the pure
 * classifier can read who wrote it. Nested forwards keep their own attached messages.
 */
export interface AttachedMessage {
  from: Address[];
  subject: string | null;
  /** The Date header as written. */
  date: string | null;
  text: string | null;
  attachedMessages: AttachedMessage[];
}

export interface ParsedEmail {
  messageId: string | null;
  from: Address[];
  sender: Address | null;
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  subject: string | null;
  /** The Date header parsed, or null when absent or unreadable. */
  date: Date | null;
  inReplyTo: string | null;
  references: string[];
  /**
   * Every header, lower-cased name → decoded values in order of appearance (a header can repeat).
   * Folded lines are unfolded.
   */
  headers: Record<string, string[]>;
  text: string | null;
  /** HTML as received: sanitizing is the viewer's job. */
  html: string | null;
  attachments: AttachmentMeta[];
  attachedMessages: AttachedMessage[];
  /**
   * The machine-readable parts of a delivery status notification (RFC 3464), when the message
   * has a message/delivery-status part; absent or null for any other message.
   */
  deliveryReport?: DeliveryReportParts | null;
}

/** A delivery status notification's parts, as text (read by src/domain/delivery_status.ts). */
export interface DeliveryReportParts {
  /** The message/delivery-status part: the per-message and per-recipient field blocks. */
  fields: string;
  /** The returned message's header block (message/rfc822 or text/rfc822-headers), if any. */
  returnedHeaders: string | null;
}

/** The forwarded message's original author and headers, as found inside the forward. */
export interface OriginalMessage {
  fromAddress: string | null;
  fromName: string | null;
  subject: string | null;
  /** The date as written in the forwarded block. */
  date: string | null;
  /** The same date as an ISO-8601 timestamp, where it could be read. */
  dateIso: string | null;
}

export type MessageKind = "forwarded" | "direct";

/** The classifier's verdict, with the evidence it rests on (short human-readable strings). */
export interface Classification {
  kind: MessageKind;
  original: OriginalMessage | null;
  /** How sure the verdict is, in [0, 1]. */
  confidence: number;
  evidence: string[];
}

/** Values of a header (name in any case), or [] when absent. */
export function headerValues(email: Pick<ParsedEmail, "headers">, name: string): string[] {
  return email.headers[name.toLowerCase()] ?? [];
}

/** The first value of a header, or null when absent. */
export function headerValue(email: Pick<ParsedEmail, "headers">, name: string): string | null {
  return headerValues(email, name)[0] ?? null;
}
