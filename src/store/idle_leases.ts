/**
 * IDLE leases: which instance holds the one IDLE connection of each mailbox. Times are the
 * database's clock (`now()`), the one clock every instance shares; the durations come from
 * src/domain/idle_leases.ts.
 */
import type { Queryable } from "./db.ts";
import { LEASE_EXPIRY_MS, type MailboxKey } from "../domain/idle_leases.ts";
import { camelRow } from "./row.ts";

/** A lease as the readers show it. */
export interface IdleLease extends MailboxKey {
  /** The instance holding it, "hostname:pid". */
  holder: string;
  takenAt: Date;
  heartbeatAt: Date;
}

/** A lease no one renewed for this long is forgotten (its mailbox is no longer watched). */
const FORGET_MS = 10 * 60_000;

/**
 * The heartbeat of one instance, in one statement: renews the leases `holder` has among
 * `wanted`, takes those of `wanted` that are free or whose holder has not renewed them for
 * `LEASE_EXPIRY_MS`, and gives up its leases not in `wanted`. Returns the leases `holder` holds
 * now; a mailbox of `wanted` missing from them is watched by another instance.
 *
 * Two instances taking the same expired lease at once: `INSERT … ON CONFLICT DO UPDATE … WHERE`
 * locks the row and checks the condition on its latest version, so one of them gets it.
 */
export async function heartbeatIdleLeases(
  q: Queryable,
  holder: string,
  wanted: MailboxKey[],
): Promise<MailboxKey[]> {
  const rows = await q.query<Record<string, unknown>>(
    `WITH wanted AS (
       SELECT DISTINCT * FROM jsonb_to_recordset($2::jsonb) AS w(account_id integer, mailbox text)
     ),
     released AS (
       DELETE FROM idle_leases l
       WHERE (l.holder = $1 OR l.heartbeat_at < now() - make_interval(secs => $4::double precision))
         AND NOT EXISTS (
           SELECT 1 FROM wanted w WHERE w.account_id = l.account_id AND w.mailbox = l.mailbox)
     )
     INSERT INTO idle_leases AS l (account_id, mailbox, holder, taken_at, heartbeat_at)
     SELECT w.account_id, w.mailbox, $1, now(), now()
     FROM wanted w JOIN accounts a ON a.id = w.account_id
     ON CONFLICT (account_id, mailbox) DO UPDATE SET holder = EXCLUDED.holder,
       heartbeat_at = EXCLUDED.heartbeat_at,
       taken_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.taken_at ELSE EXCLUDED.taken_at END
     WHERE l.holder = EXCLUDED.holder
        OR l.heartbeat_at < EXCLUDED.heartbeat_at - make_interval(secs => $3::double precision)
     RETURNING l.account_id, l.mailbox`,
    [
      holder,
      JSON.stringify(wanted.map((w) => ({ account_id: w.accountId, mailbox: w.mailbox }))),
      LEASE_EXPIRY_MS / 1000,
      FORGET_MS / 1000,
    ],
  );
  return rows.map((r) => ({ accountId: Number(r.account_id), mailbox: String(r.mailbox) }));
}

/** Gives up every lease of `holder` (it is stopping), so another instance takes over at once. */
export async function releaseIdleLeases(q: Queryable, holder: string): Promise<void> {
  await q.query("DELETE FROM idle_leases WHERE holder = $1", [holder]);
}

/**
 * Forgets every lease not held by `holder`. Only for the embedded database, whose one owner is
 * the only service that can hold leases: any other holder is a predecessor that died (SIGKILL),
 * and its mailboxes need not wait for the expiry.
 */
export async function forgetOtherIdleLeases(q: Queryable, holder: string): Promise<void> {
  await q.query("DELETE FROM idle_leases WHERE holder <> $1", [holder]);
}

/** The leases renewed within the expiry, by account id, in mailbox order. */
export async function readIdleLeases(q: Queryable): Promise<Map<number, IdleLease[]>> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT account_id, mailbox, holder, taken_at, heartbeat_at FROM idle_leases
     WHERE heartbeat_at >= now() - make_interval(secs => $1::double precision)
     ORDER BY account_id, mailbox`,
    [LEASE_EXPIRY_MS / 1000],
  );
  const out = new Map<number, IdleLease[]>();
  for (const r of rows) {
    const lease = camelRow<IdleLease>(r);
    const list = out.get(lease.accountId) ?? [];
    list.push(lease);
    out.set(lease.accountId, list);
  }
  return out;
}
