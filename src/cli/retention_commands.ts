/**
 * `purge [--dry-run]`, `erase ADDRESS [--dry-run]` and `retention show | set --audit-days N|never`
 * (docs/retention.md): thin adapters over src/jobs/retention_purge.ts and
 * src/actions/retention.ts. JSON on standard output; a problem is one line per field on standard
 * error and exit 1; a malformed command line exit 2.
 */
import type { Db } from "../store/db.ts";
import { purgeExpired, purgeReportJson } from "../jobs/retention_purge.ts";
import {
  eraseAddress,
  erasureJson,
  retentionSettings,
  saveRetentionSettings,
} from "../actions/retention.ts";
import { problemLines } from "../actions/result.ts";
import type { AdminIo } from "./admin_commands.ts";

export const PURGE_USAGE = "usage: purge [--dry-run]";
export const ERASE_USAGE = "usage: erase ADDRESS [--dry-run]";
export const RETENTION_USAGE = "usage: retention show | retention set --audit-days N|never";

/** Runs `purge`, `erase` or `retention` (the first of `args`) on `db`; resolves to the exit code. */
export async function retentionCommand(db: Db, args: string[], io: AdminIo): Promise<number> {
  const deps = { db, now: io.now };
  const [command, ...rest] = args;
  const dryRun = rest.includes("--dry-run");
  const others = rest.filter((a) => a !== "--dry-run");
  if (command === "purge") {
    if (others.length > 0) {
      io.say(PURGE_USAGE);
      return 2;
    }
    const report = await purgeExpired(deps, { dryRun, by: "cli" });
    if (report.skipped) io.say("another instance is purging now: nothing was done here");
    io.print(purgeReportJson(report));
    return 0;
  }
  if (command === "erase") {
    if (others.length !== 1 || others[0].startsWith("-")) {
      io.say(ERASE_USAGE);
      return 2;
    }
    const erased = await eraseAddress(deps, others[0], "cli", { dryRun });
    if (!erased.ok) {
      for (const line of problemLines(erased.problem)) io.say(line);
      return 1;
    }
    io.print(erasureJson(erased.value));
    return 0;
  }
  if (command === "retention" && rest[0] === "show" && rest.length === 1) {
    io.print({ keep_audit_days: (await retentionSettings(deps)).keepAuditDays });
    return 0;
  }
  if (command === "retention" && rest[0] === "set" && rest[1] === "--audit-days" && rest[2]) {
    const value = rest[2] === "never" ? null : rest[2];
    const saved = await saveRetentionSettings(deps, { keep_audit_days: value }, "cli");
    if (!saved.ok) {
      for (const line of problemLines(saved.problem)) io.say(line);
      return 1;
    }
    io.print({ keep_audit_days: saved.value.keepAuditDays });
    return 0;
  }
  io.say(RETENTION_USAGE);
  return 2;
}
