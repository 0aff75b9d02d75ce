/**
 * `user list | add EMAIL [--role R] | passwd EMAIL | role EMAIL ROLE | disable EMAIL |
 * enable EMAIL | remove EMAIL | totp-off EMAIL`: the people who log in to the admin, from the command line — a thin
 * adapter over src/actions/users.ts. Passwords are read from standard input (one line), never
 * from the command line. JSON on standard output; a problem is one line per field on standard
 * error and exit 1; a malformed command line exit 2.
 */
import type { Db } from "../store/db.ts";
import { listUsers, type UserRow } from "../store/users.ts";
import { addUser, changeUser, removeUser, setPassword } from "../actions/users.ts";
import { disableTotp } from "../actions/second_factor.ts";
import { problemLines, type Result } from "../actions/result.ts";
import { isEmailShape, normalEmail } from "../admin/user_input.ts";
import { ROLES } from "../domain/roles.ts";
import type { AdminIo } from "./admin_commands.ts";

export const USER_USAGE = `usage: user list
       user add EMAIL [--role ${ROLES.join("|")}]   (password on stdin; default role admin)
       user passwd EMAIL                  (new password on stdin)
       user role EMAIL ${ROLES.join("|")}
       user disable EMAIL | user enable EMAIL | user remove EMAIL
       user totp-off EMAIL                (turns off a lost second factor)`;

/** A user as the CLI prints it. */
export function userJson(u: UserRow) {
  return {
    id: u.id,
    email: u.email,
    role: u.role,
    disabled: u.disabledAt !== null,
    disabled_at: u.disabledAt?.toISOString() ?? null,
    totp_enabled: u.totpEnabled,
    created_at: u.createdAt.toISOString(),
  };
}

function usage(io: AdminIo): number {
  io.say(USER_USAGE);
  return 2;
}

function answer(io: AdminIo, result: Result<UserRow>, what: Record<string, unknown>): number {
  if (!result.ok) {
    for (const line of problemLines(result.problem)) io.say(line);
    return 1;
  }
  io.print({ ...what, ...userJson(result.value) });
  return 0;
}

/** Reads one password line from standard input, saying what it is for on standard error. */
async function readPassword(io: AdminIo, email: string): Promise<string> {
  io.say(`password for ${email} (one line on standard input):`);
  return (await io.readLine()) ?? "";
}

/** Runs `user ARGS` on `db`; resolves to the exit code. */
export async function userCommand(db: Db, args: string[], io: AdminIo): Promise<number> {
  const deps = { db, now: io.now };
  const [sub, ...rest] = args;
  if (sub === "list") {
    if (rest.length > 0) return usage(io);
    io.print((await listUsers(db)).map(userJson));
    return 0;
  }
  if (sub === "add") {
    const role = rest.length === 3 && rest[1] === "--role" ? rest[2] : undefined;
    if (rest.length !== 1 && role === undefined) return usage(io);
    const email = normalEmail(rest[0] ?? "");
    if (!isEmailShape(email)) return usage(io);
    const password = await readPassword(io, email);
    const added = await addUser(deps, { email, password, role }, "cli");
    if (!added.ok && added.problem.code === "conflict") {
      io.say(added.problem.message);
      return 1;
    }
    if (!added.ok) {
      for (const line of problemLines(added.problem)) io.say(line);
      return 2;
    }
    return answer(io, added, { created: true });
  }
  const email = rest[0];
  if (email === undefined) return usage(io);
  switch (sub) {
    case "passwd": {
      if (rest.length !== 1) return usage(io);
      const password = await readPassword(io, email);
      return answer(io, await setPassword(deps, { key: email, password }, "cli"), {
        password_changed: true,
      });
    }
    case "role":
      if (rest.length !== 2) return usage(io);
      return answer(io, await changeUser(deps, email, { role: rest[1] }, "cli"), {
        changed: true,
      });
    case "disable":
    case "enable":
      if (rest.length !== 1) return usage(io);
      return answer(
        io,
        await changeUser(deps, email, { disabled: sub === "disable" }, "cli"),
        { changed: true },
      );
    case "remove":
      if (rest.length !== 1) return usage(io);
      return answer(io, await removeUser(deps, email, "cli"), { removed: true });
    case "totp-off": {
      if (rest.length !== 1) return usage(io);
      const off = await disableTotp(deps, { key: email }, "cli");
      if (!off.ok) {
        for (const line of problemLines(off.problem)) io.say(line);
        return 1;
      }
      io.print({ totp_disabled: true, email: off.value.email });
      return 0;
    }
    default:
      return usage(io);
  }
}
