/**
 * People who log in to the admin: the first one, made from the one-time setup link, and the
 * others, made and managed by an admin on the users page or with `deno task cli user …`. Each
 * change and its audit event (with the user's state before and after) are written in one
 * transaction. At least one active admin always remains.
 */
import { type Db, LockNamespace } from "../store/db.ts";
import {
  countUsers,
  createUser,
  deleteUser,
  lockActiveAdmins,
  lockUser,
  passwordHashOf,
  setPasswordHash,
  updateUser,
  type UserRow,
} from "../store/users.ts";
import { deleteSessionsOf } from "../store/sessions.ts";
import { recordEvent } from "../store/audit.ts";
import { hashPassword, verifyPassword } from "../auth/password_hash.ts";
import {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  type NewUserProblem,
  newUserProblems,
  normalEmail,
} from "../admin/user_input.ts";
import { isRole, type Role, ROLES } from "../domain/roles.ts";
import type { UserState } from "../domain/audit_events.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

export const PASSWORD_WORDS: Record<NewUserProblem, string> = {
  email_invalid: "email: must be an e-mail address",
  password_short: `the password must be at least ${MIN_PASSWORD_LENGTH} characters`,
  password_long: `the password must be at most ${MAX_PASSWORD_LENGTH} characters`,
  password_common: "the password is in a list of common passwords; choose another",
  password_repeated: "the password is one character repeated; choose another",
  password_mismatch: "the two passwords differ",
};

const ROLE_WORDS = `role: one of ${ROLES.join(", ")}`;

const FIRST_ADMIN = "role: the first user must be an admin (nobody could manage users otherwise)";

const LAST_ADMIN = "at least one active admin must remain: make another user admin first";

function stateOf(u: UserRow): UserState {
  return { role: u.role, disabled: u.disabledAt !== null };
}

function inputProblems(problems: NewUserProblem[]) {
  return problem("invalid", PASSWORD_WORDS[problems[0]], problems.map((p) => PASSWORD_WORDS[p]));
}

/**
 * Creates a user from an e-mail, a password (hashed here) and a role (default admin); `invalid`
 * lists one sentence per problem, and a taken e-mail is a `conflict`.
 */
export async function addUser(
  deps: ActionDeps,
  input: { email: string; password: string; role?: string },
  by: string,
): Promise<Result<UserRow>> {
  const email = normalEmail(input.email);
  const problems = newUserProblems({ email, password: input.password });
  const role = input.role ?? "admin";
  if (problems.length > 0 || !isRole(role)) {
    const lines = problems.map((p) => PASSWORD_WORDS[p]);
    if (!isRole(role)) lines.push(ROLE_WORDS);
    return problem("invalid", lines[0], lines);
  }
  const passwordHash = await hashPassword(input.password);
  return await transact(deps.db, async (tx) => {
    // The first user manages the others: anything less would leave nobody able to.
    if (role !== "admin" && await countUsers(tx) === 0) {
      return problem("invalid", FIRST_ADMIN, [FIRST_ADMIN]);
    }
    const at = deps.now();
    const user = await createUser(tx, email, passwordHash, at, role);
    await recordEvent(tx, { event: "user_created", at, detail: { email: user.email, by, role } });
    return done(user);
  }, `a user with the e-mail ${email} already exists`);
}

/** What may change about a user: their role, and whether they may log in. */
export interface UserChange {
  role?: string;
  disabled?: boolean;
}

/**
 * Changes a user's role or access (`key`: id or e-mail). Disabling ends their sessions at once.
 * The last active admin cannot be disabled or made something else (`conflict`).
 */
export async function changeUser(
  deps: ActionDeps,
  key: number | string,
  change: UserChange,
  by: string,
): Promise<Result<UserRow>> {
  if (change.role !== undefined && !isRole(change.role)) {
    return problem("invalid", ROLE_WORDS, [ROLE_WORDS]);
  }
  const role = change.role as Role | undefined;
  return await transact(deps.db, async (tx) => {
    const admins = await lockActiveAdmins(tx);
    const user = await lockUser(tx, key);
    if (!user) return problem("not_found", "no such user");
    const at = deps.now();
    const next = {
      role: role ?? user.role,
      disabledAt: change.disabled === undefined
        ? user.disabledAt
        : change.disabled
        ? (user.disabledAt ?? at)
        : null,
    };
    const wasActiveAdmin = user.role === "admin" && user.disabledAt === null;
    const staysActiveAdmin = next.role === "admin" && next.disabledAt === null;
    if (wasActiveAdmin && !staysActiveAdmin && admins <= 1) return problem("conflict", LAST_ADMIN);
    const after = await updateUser(tx, user.id, next);
    if (after.disabledAt) await deleteSessionsOf(tx, user.id, null);
    const [b, a] = [stateOf(user), stateOf(after)];
    if (b.role !== a.role || b.disabled !== a.disabled) {
      await recordEvent(tx, {
        event: "user_changed",
        at,
        detail: { email: user.email, by, before: b, after: a },
      });
    }
    return done(after);
  }, "the user changed meanwhile");
}

/** Removes a user and their sessions; never the last active admin (`conflict`). */
export async function removeUser(
  deps: ActionDeps,
  key: number | string,
  by: string,
): Promise<Result<UserRow>> {
  return await transact(deps.db, async (tx) => {
    const admins = await lockActiveAdmins(tx);
    const user = await lockUser(tx, key);
    if (!user) return problem("not_found", "no such user");
    if (user.role === "admin" && user.disabledAt === null && admins <= 1) {
      return problem("conflict", LAST_ADMIN);
    }
    await deleteUser(tx, user.id);
    await recordEvent(tx, {
      event: "user_removed",
      at: deps.now(),
      detail: { email: user.email, by, before: stateOf(user) },
    });
    return done(user);
  }, "the user changed meanwhile");
}

/**
 * Sets a user's password: an admin's reset of another's (`current` absent), or a person's own
 * change (`current` must be their present password: else `invalid`). Every other session of the
 * user ends; `keepSession` (the hash of the session making the change) stays.
 */
export async function setPassword(
  deps: ActionDeps,
  input: {
    key: number | string;
    password: string;
    confirmation?: string;
    current?: string;
    keepSession?: string | null;
  },
  by: string,
): Promise<Result<UserRow>> {
  const problems = newUserProblems({
    email: "someone@example.test",
    password: input.password,
    confirmation: input.confirmation,
  });
  if (problems.length > 0) return inputProblems(problems);
  const passwordHash = await hashPassword(input.password);
  return await transact(deps.db, async (tx) => {
    const user = await lockUser(tx, input.key);
    if (!user) return problem("not_found", "no such user");
    if (input.current !== undefined) {
      const stored = await passwordHashOf(tx, user.id);
      if (!stored || !await verifyPassword(input.current, stored)) {
        const message = "current password: it is not the one you log in with";
        return problem("invalid", message, [message]);
      }
    }
    await setPasswordHash(tx, user.id, passwordHash);
    const ended = await deleteSessionsOf(tx, user.id, input.keepSession ?? null);
    await recordEvent(tx, {
      event: "password_changed",
      at: deps.now(),
      detail: { email: user.email, by, sessions_ended: ended },
    });
    return done(user);
  }, "the user changed meanwhile");
}

/** What `createFirstUser` did: made the user, or found that one exists (setup is done). */
export type FirstUserResult = { created: true; user: UserRow } | { created: false };

/**
 * Creates the first user (an admin) and its `user_created` audit event, unless a user exists:
 * checking and creating are one transaction under an advisory lock, so setups that arrive at the
 * same moment make one user, never two "first" ones. The input is already checked
 * (`newUserProblems`) and the password hashed.
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
    const user = await createUser(tx, input.email, input.passwordHash, at, "admin");
    await recordEvent(tx, {
      event: "user_created",
      at,
      detail: { email: user.email, by: "setup", ip: input.ip, role: "admin" },
    });
    return { created: true, user };
  });
}
