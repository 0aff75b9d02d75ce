/**
 * People who log in to the admin: the first one, made from the one-time setup link, and any
 * other, made with `deno task cli user add EMAIL`. Each user and its `user_created` audit event
 * are written in one transaction.
 */
import { type Db, LockNamespace } from "../store/db.ts";
import { countUsers, createUser, type UserRow } from "../store/users.ts";
import { recordEvent } from "../store/audit.ts";
import { hashPassword } from "../auth/password_hash.ts";
import {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  type NewUserProblem,
  newUserProblems,
  normalEmail,
} from "../admin/user_input.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

const WORDS: Record<NewUserProblem, string> = {
  email_invalid: "email: must be an e-mail address",
  password_short: `the password must be at least ${MIN_PASSWORD_LENGTH} characters`,
  password_long: `the password must be at most ${MAX_PASSWORD_LENGTH} characters`,
  password_mismatch: "the two passwords differ",
};

/**
 * Creates a user from an e-mail and a password (hashed here); `invalid` lists one sentence per
 * problem, in the order of `newUserProblems`, and a taken e-mail is a `conflict`.
 */
export async function addUser(
  deps: ActionDeps,
  input: { email: string; password: string },
  by: string,
): Promise<Result<UserRow>> {
  const email = normalEmail(input.email);
  const problems = newUserProblems({ email, password: input.password });
  if (problems.length > 0) {
    return problem("invalid", WORDS[problems[0]], problems.map((p) => WORDS[p]));
  }
  const passwordHash = await hashPassword(input.password);
  return await transact(deps.db, async (tx) => {
    const at = deps.now();
    const user = await createUser(tx, email, passwordHash, at);
    await recordEvent(tx, { event: "user_created", at, detail: { email: user.email, by } });
    return done(user);
  }, `a user with the e-mail ${email} already exists`);
}

/** What `createFirstUser` did: made the user, or found that one exists (setup is done). */
export type FirstUserResult = { created: true; user: UserRow } | { created: false };

/**
 * Creates the first user and its `user_created` audit event, unless a user exists: checking and
 * creating are one transaction under an advisory lock, so setups that arrive at the same moment
 * make one user, never two "first" ones. The input is already checked (`newUserProblems`) and
 * the password hashed.
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
