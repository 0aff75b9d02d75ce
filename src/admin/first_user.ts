/**
 * The first user, made from the one-time setup link (routes/setup.tsx): checking that nobody
 * exists yet and creating the user are one transaction under an advisory lock, so setups that
 * arrive at the same moment make one user, never two "first" ones.
 */
import { type Db, LockNamespace } from "../store/db.ts";
import { countUsers, createUser, type UserRow } from "../store/users.ts";
import { recordEvent } from "../store/audit.ts";

/** What `createFirstUser` did: made the user, or found that one exists (setup is done). */
export type FirstUserResult = { created: true; user: UserRow } | { created: false };

/**
 * Creates the first user and its `user_created` audit event, unless a user exists. The input is
 * already checked (`newUserProblems`) and the password hashed.
 */
export async function createFirstUser(
  db: Db,
  input: { email: string; passwordHash: string; ip: string },
  at: Date,
): Promise<FirstUserResult> {
  return await db.transaction(async (tx) => {
    // A second setup waits here until the first commits; its count (a new READ COMMITTED
    // snapshot per statement) then sees the first one's user. Released at commit or rollback.
    await tx.query("SELECT pg_advisory_xact_lock($1::int, 0)", [LockNamespace.firstUser]);
    if (await countUsers(tx) > 0) return { created: false };
    const user = await createUser(tx, input.email, input.passwordHash, at);
    await recordEvent(tx, {
      event: "user_created",
      at,
      detail: { email: user.email, by: "setup", ip: input.ip },
    });
    return { created: true, user };
  });
}
