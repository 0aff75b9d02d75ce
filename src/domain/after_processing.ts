/**
 * What Carteiro does on the server to a message it has processed (stored, parsed, decided): leave
 * it as it is (the default), mark it `\Seen`, or move it to a folder. Opt-in per account.
 */

/** The account's setting. */
export type AfterProcessing = "keep" | "seen" | "move";

/** Every setting, the default first. */
export const AFTER_PROCESSING: readonly AfterProcessing[] = ["keep", "seen", "move"];

/** What is to be done to a message: only `seen` and `move` reach the server. */
export type AfterAction = { kind: "seen" } | { kind: "move"; folder: string };

/**
 * Reads the setting and its folder as typed; a problem is a sentence naming the field. The folder
 * is kept only for `move`.
 */
export function readAfterProcessing(
  mode: string,
  folder: string,
): { mode: AfterProcessing; folder: string | null } | { problem: string } {
  if (!(AFTER_PROCESSING as readonly string[]).includes(mode)) {
    return { problem: `after_processing: one of ${AFTER_PROCESSING.join(", ")}` };
  }
  if (mode !== "move") return { mode: mode as AfterProcessing, folder: null };
  const name = folder.trim();
  if (name === "" || name.length > 200 || /[\r\n\0]/.test(name)) {
    return { problem: "after_folder: the folder to move processed mail to (one line)" };
  }
  return { mode: "move", folder: name };
}

/** The action of a setting, or null when the mail is left as it is. */
export function afterAction(mode: AfterProcessing, folder: string | null): AfterAction | null {
  if (mode === "seen") return { kind: "seen" };
  if (mode === "move" && folder) return { kind: "move", folder };
  return null;
}

/**
 * True when two names are the same mailbox: exactly equal, or both INBOX, whose name is
 * case-insensitive (RFC 3501 §5.1). A message already in the target folder is not moved again
 * (a MOVE into its own mailbox would give it a new UID, and a collected target would loop).
 */
export function sameMailbox(a: string, b: string): boolean {
  return a === b || (a.toUpperCase() === "INBOX" && b.toUpperCase() === "INBOX");
}
