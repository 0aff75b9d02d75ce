/**
 * Retention and erasure as a person, a token or the CLI asks for them (docs/retention.md): how
 * long the audit log is kept, and the erasure of one address — validated, done and audited in one
 * transaction. A dry run of an erasure does all of it and rolls back, so its counts are exactly
 * what the erasure would remove.
 */
import { recordEvent } from "../store/audit.ts";
import { readKeepAuditDays, writeKeepAuditDays } from "../store/retention.ts";
import { eraseAddressRows, type ErasureReport } from "../store/erasure.ts";
import { addressHash, readErasureAddress, readKeepDays } from "../domain/retention.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/**
 * Sets how long audit rows are kept: `{"keep_audit_days": N | null}` (null: for ever), audited as
 * `retention_changed`.
 */
export function saveRetentionSettings(
  deps: ActionDeps,
  input: unknown,
  by: string,
): Promise<Result<{ keepAuditDays: number | null }>> {
  return transact(deps.db, async (tx) => {
    const body = typeof input === "object" && input !== null && !Array.isArray(input)
      ? input as Record<string, unknown>
      : null;
    const unknown = body ? Object.keys(body).filter((k) => k !== "keep_audit_days") : [];
    if (!body || !("keep_audit_days" in body) || unknown.length > 0) {
      const why = "keep_audit_days: give a number of days, or null to keep the audit log for ever";
      return problem("invalid", why, [why]);
    }
    const errors: string[] = [];
    const days = readKeepDays(body.keep_audit_days, "keep_audit_days", errors);
    if (errors.length > 0) return problem("invalid", errors[0], errors);
    await writeKeepAuditDays(tx, days);
    await recordEvent(tx, {
      event: "retention_changed",
      at: deps.now(),
      detail: { keep_audit_days: days, by },
    });
    return done({ keepAuditDays: days });
  }, "the settings changed meanwhile");
}

/** The retention settings of the installation. */
export async function retentionSettings(deps: ActionDeps) {
  return { keepAuditDays: await readKeepAuditDays(deps.db) };
}

/** What an erasure removed (or would remove), with the address's hash as the audit names it. */
export interface Erasure extends ErasureReport {
  addressSha256: string;
  dryRun: boolean;
}

/** Carries a dry run's report out of the transaction it rolls back. */
class DryRun extends Error {
  constructor(readonly report: ErasureReport | "sending") {
    super("dry run");
  }
}

/**
 * Erases everything naming `addressInput` (src/store/erasure.ts) and records `address_erased`
 * with the address's SHA-256 and the counts. An address that is not one is `invalid`, and so is
 * an account's own address (delete the account instead); a reply to it being sent right now is a
 * `conflict` (try again once it is settled).
 */
export async function eraseAddress(
  deps: ActionDeps,
  addressInput: unknown,
  by: string,
  options: { dryRun: boolean },
): Promise<Result<Erasure>> {
  const read = readErasureAddress(addressInput);
  if (!read.ok) return problem("invalid", read.error, [read.error]);
  const { address } = read;
  const addressSha256 = addressHash(address);
  const own = await deps.db.query<{ name: string }>(
    "SELECT name FROM accounts WHERE lower(address) = $1",
    [address],
  );
  if (own.length > 0) {
    const why = `address: it is the address of the account "${own[0].name}"; ` +
      "delete the account (with its messages) instead";
    return problem("invalid", why, [why]);
  }
  const sending = "a reply to this address is being sent right now; try again in a minute";
  if (options.dryRun) {
    try {
      await deps.db.transaction(async (tx) => {
        throw new DryRun(await eraseAddressRows(tx, address, deps.now()));
      });
    } catch (e) {
      if (!(e instanceof DryRun)) throw e;
      if (e.report === "sending") return problem("conflict", sending, [sending]);
      return done({ ...e.report, addressSha256, dryRun: true });
    }
  }
  return await transact(deps.db, async (tx) => {
    const at = deps.now();
    const report = await eraseAddressRows(tx, address, at);
    if (report === "sending") return problem("conflict", sending, [sending]);
    await recordEvent(tx, {
      event: "address_erased",
      at,
      detail: { address_sha256: addressSha256, removed: { ...report.removed }, by },
    });
    return done({ ...report, addressSha256, dryRun: false });
  }, "the data changed meanwhile; try again");
}

/** An erasure as JSON (the API and the CLI print it). */
export function erasureJson(e: Erasure) {
  return {
    dry_run: e.dryRun,
    address_sha256: e.addressSha256,
    removed: e.removed,
    left: e.left,
  };
}
