/**
 * Whether a login attempt may be checked: its e-mail's counter and its address's counter both
 * allow it, and both count it — or neither does (one transaction; the e-mail's row is always
 * locked before the address's, so two attempts never wait on each other in a cycle).
 */
import type { Db } from "../store/db.ts";
import { type LoginCheck, loginKey, takeLoginCheck } from "../store/login_attempts.ts";
import type { LoginLimit } from "../domain/login_delay.ts";

class Refused extends Error {
  constructor(readonly check: Extract<LoginCheck, { taken: false }>) {
    super("login refused");
  }
}

/** Takes the right to check one attempt, per e-mail and per client address. */
export async function takeLoginChecks(
  db: Db,
  o: {
    email: string;
    ip: string;
    at: Date;
    windowMs: number;
    perEmail: LoginLimit;
    perIp: LoginLimit;
  },
): Promise<LoginCheck> {
  try {
    return await db.transaction(async (tx) => {
      const byEmail = await takeLoginCheck(tx, loginKey("email", o.email), {
        at: o.at,
        windowMs: o.windowMs,
        limit: o.perEmail,
      });
      if (!byEmail.taken) throw new Refused(byEmail);
      const byIp = await takeLoginCheck(tx, loginKey("ip", o.ip), {
        at: o.at,
        windowMs: o.windowMs,
        limit: o.perIp,
      });
      if (!byIp.taken) throw new Refused(byIp); // rolls back the e-mail's count
      return byEmail;
    });
  } catch (e) {
    if (e instanceof Refused) return e.check;
    throw e;
  }
}
