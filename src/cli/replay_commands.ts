/**
 * `rules replay RULE --since DATE [filters] [--confirm TOKEN]`: a rule applied to stored mail
 * from the command line, a thin adapter over src/actions/rule_replay.ts. Without `--confirm` it
 * is a dry-run: the JSON report on standard output (every message, what it would get and why
 * not) with the token that confirms it; with the token it enqueues what that dry-run listed.
 */
import { parseArgs } from "node:util";
import type { Db } from "../store/db.ts";
import { listAccounts } from "../store/accounts.ts";
import { listRuleRows } from "../store/rules_admin.ts";
import { type MessageFilters, REPLY_STATUSES, type ReplyStatus } from "../store/message_list.ts";
import { type ReplayMessage, replayRule } from "../actions/rule_replay.ts";
import { problemLines } from "../actions/result.ts";
import { replayJson } from "../admin/replay_json.ts";
import type { AdminIo } from "./admin_commands.ts";

/** How the command is called. */
export const RULES_REPLAY_USAGE = "usage: rules replay RULE --since YYYY-MM-DD " +
  "[--until YYYY-MM-DD] [--account NAME] [--kind forwarded|direct] [--reply STATUS] " +
  "[--search TEXT] [--confirm TOKEN]";

/** A `YYYY-MM-DD` day as UTC midnight, or null. */
function day(text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text ? d : null;
}

/** Runs `rules replay ARGS`; resolves to the exit code (2: a malformed command line). */
export async function rulesReplayCommand(
  deps: { db: Db; replayMessage: ReplayMessage },
  args: string[],
  io: AdminIo,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        since: { type: "string" },
        until: { type: "string" },
        account: { type: "string" },
        kind: { type: "string" },
        reply: { type: "string" },
        search: { type: "string" },
        confirm: { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    io.say(`${RULES_REPLAY_USAGE} — ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const v = parsed.values;
  if (parsed.positionals.length !== 1 || v.since === undefined) {
    io.say(RULES_REPLAY_USAGE);
    return 2;
  }
  const problems: string[] = [];
  const filters: MessageFilters = {};
  const typed: Record<string, string> = { since: v.since };
  const since = day(v.since);
  if (since) filters.since = since;
  else problems.push("--since: must be a date (YYYY-MM-DD)");
  if (v.until !== undefined) {
    const until = day(v.until);
    if (until) filters.until = new Date(until.getTime() + 86_400_000);
    else problems.push("--until: must be a date (YYYY-MM-DD)");
    typed.until = v.until;
  }
  if (v.kind !== undefined) {
    if (v.kind === "forwarded" || v.kind === "direct") filters.kind = v.kind;
    else problems.push("--kind: must be forwarded or direct");
    typed.kind = v.kind;
  }
  if (v.reply !== undefined) {
    if ((REPLY_STATUSES as readonly string[]).includes(v.reply)) {
      filters.reply = v.reply as ReplyStatus;
    } else problems.push(`--reply: must be one of ${REPLY_STATUSES.join(", ")}`);
    typed.reply = v.reply;
  }
  if (v.search !== undefined && v.search.trim()) {
    filters.q = v.search.trim();
    typed.q = filters.q;
  }
  if (v.account !== undefined) {
    const account = (await listAccounts(deps.db)).find((a) => a.name === v.account);
    if (account) filters.accountId = account.id;
    else problems.push(`--account: no account is called "${v.account}"`);
    if (account) typed.account = String(account.id);
  }
  if (v.confirm !== undefined && !/^[0-9a-f]{64}$/.test(v.confirm)) {
    problems.push("--confirm: the token a dry-run printed (64 hexadecimal digits)");
  }
  const name = parsed.positionals[0];
  const rule = (await listRuleRows(deps.db)).find((r) =>
    r.name.toLowerCase() === name.toLowerCase() || String(r.id) === name
  );
  if (!rule) problems.push(`RULE: no rule is called "${name}"`);
  if (problems.length > 0 || !rule) {
    for (const line of problems) io.say(line);
    return 1;
  }
  const replayed = await replayRule(
    { db: deps.db, now: io.now, replayMessage: deps.replayMessage },
    rule.id,
    { filters, typed, confirm: v.confirm ?? null },
    "cli",
  );
  if (!replayed.ok) {
    for (const line of problemLines(replayed.problem)) io.say(line);
    return 1;
  }
  const r = replayed.value;
  io.print(replayJson(r));
  if (r.capped) {
    io.say(
      `the filter matches more than ${r.items.length} messages: only the oldest ${r.items.length} ` +
        `are replayed; replay again from ${
          r.items[r.items.length - 1].receivedAt.toISOString().slice(0, 10)
        } for the rest`,
    );
  }
  io.say(
    r.confirmed
      ? `${r.replies} replies enqueued, ${r.skipped} messages skipped`
      : `dry-run: ${r.replies} replies would be enqueued, ${r.skipped} messages skipped; ` +
        `to enqueue them, run the same command with --confirm ${r.token}`,
  );
  return 0;
}
