/**
 * The mbox format, mboxrd variant (RFC 4155 and its appendix; the quoting of qmail's and mutt's
 * "mboxrd"): each message starts with a `From SENDER DATE` line and ends with an empty line, and
 * every line of the message that matches `>*From ` gets one more `>`, so that reading strips
 * exactly one and gets the message back byte for byte. Works on bytes, never on decoded text: a
 * message in an unknown charset, or no message at all, is kept as it came.
 */

const LF = 0x0a;
const GT = 0x3e;
const FROM_ = [0x46, 0x72, 0x6f, 0x6d, 0x20]; // "From "

/** Whether `bytes` at `at` holds `>*From ` (the start of a line that mboxrd quotes). */
function quotedFromAt(bytes: Uint8Array, at: number): boolean {
  let i = at;
  while (i < bytes.length && bytes[i] === GT) i++;
  if (i + FROM_.length > bytes.length) return false;
  for (let k = 0; k < FROM_.length; k++) if (bytes[i + k] !== FROM_[k]) return false;
  return true;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `Thu Mar  5 09:00:00 2026`: the asctime form of the separator line's date, in UTC. */
export function asctime(at: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[at.getUTCDay()]} ${MONTHS[at.getUTCMonth()]} ${
    String(at.getUTCDate()).padStart(2, " ")
  } ${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${
    two(at.getUTCSeconds())
  } ${at.getUTCFullYear()}`;
}

/**
 * The separator line of a message: its envelope sender (the From address; `MAILER-DAEMON` when
 * there is none or it holds a space or a control character) and its date (RFC 4155 section 2).
 */
export function mboxSeparator(sender: string | null, at: Date): string {
  const who = sender && /^[\x21-\x7e]{1,320}$/.test(sender) ? sender : "MAILER-DAEMON";
  return `From ${who} ${asctime(at)}\n`;
}

/**
 * One message as an mboxrd entry: the separator line, the raw bytes with `>*From ` lines quoted,
 * and an empty line. A message that does not end with a line break gets one before the empty
 * line (the reader then gives it back with that line break).
 */
export function mboxrdEntry(raw: Uint8Array, sender: string | null, at: Date): Uint8Array {
  const head = new TextEncoder().encode(mboxSeparator(sender, at));
  let quotes = 0;
  for (let i = 0; i < raw.length; i++) {
    if ((i === 0 || raw[i - 1] === LF) && quotedFromAt(raw, i)) quotes++;
  }
  const endsWithLf = raw.length > 0 && raw[raw.length - 1] === LF;
  const out = new Uint8Array(head.length + raw.length + quotes + (endsWithLf ? 1 : 2));
  out.set(head, 0);
  let o = head.length;
  let start = 0;
  for (let i = 0; i <= raw.length; i++) {
    if (i < raw.length && !((i === 0 || raw[i - 1] === LF) && quotedFromAt(raw, i))) continue;
    // Copy up to this line, then the extra '>' before it.
    out.set(raw.subarray(start, i), o);
    o += i - start;
    start = i;
    if (i < raw.length) out[o++] = GT;
  }
  if (!endsWithLf) out[o++] = LF;
  out[o++] = LF;
  return out;
}

/**
 * Splits an mboxrd file into its messages' bytes, each with one `>` taken off its quoted
 * `>+From ` lines and without the empty line that ends it. A message begins at a line starting
 * with `From ` at the start of the file or after an empty line.
 */
export function readMboxrd(mbox: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  for (let i = 0; i < mbox.length; i++) {
    const lineStart = i === 0 || (mbox[i - 1] === LF && (i < 2 || mbox[i - 2] === LF));
    if (lineStart && quotedFromAt(mbox, i) && mbox[i] !== GT) starts.push(i);
  }
  const messages: Uint8Array[] = [];
  for (let m = 0; m < starts.length; m++) {
    const end = m + 1 < starts.length ? starts[m + 1] : mbox.length;
    const body = mbox.indexOf(LF, starts[m]) + 1;
    // Without the empty line that ends the entry.
    const stop = end - 1 >= body && mbox[end - 1] === LF ? end - 1 : end;
    const bytes: number[] = [];
    for (let i = body; i < stop; i++) {
      if ((i === body || mbox[i - 1] === LF) && mbox[i] === GT && quotedFromAt(mbox, i)) continue;
      bytes.push(mbox[i]);
    }
    messages.push(Uint8Array.from(bytes));
  }
  return messages;
}
