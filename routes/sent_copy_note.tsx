/** The state of a sent reply's copy in the account's Sent mailbox, as the outbox rows show it. */
import type { Dict } from "./i18n.ts";
import { fmtDate } from "./viewer_time.ts";
import type { SentCopyState } from "../src/store/sent_copies.ts";

/** One line under an outbox row's status; nothing when no copy is owed. */
export function SentCopyNote(props: { t: Dict; copy: SentCopyState | null }) {
  const { t, copy } = props;
  if (!copy) return null;
  switch (copy.status) {
    case "copied":
      return <div class="sub">{t.sentCopyCopied} {copy.mailbox ?? ""}</div>;
    case "skipped":
      return <div class="sub">{t.sentCopySkipped}</div>;
    case "owed":
      return (
        <div class={copy.lastError ? "problems" : "sub"}>
          {t.sentCopyOwed}
          {copy.lastError && ` (${t.nextTry} ${fmtDate(copy.nextAttemptAt, t)}): ${copy.lastError}`}
        </div>
      );
    case "failed":
      return <div class="problems">{t.sentCopyFailed}: {copy.lastError ?? ""}</div>;
  }
}

/** The copy as the API shows it (null when none is owed). */
export function sentCopyJson(copy: SentCopyState | null) {
  return copy && {
    status: copy.status,
    mailbox: copy.mailbox,
    attempts: copy.attempts,
    last_error: copy.lastError,
    next_attempt_at: copy.nextAttemptAt.toISOString(),
  };
}
