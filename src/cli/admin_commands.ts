/**
 * The admin's command-line pieces: `user add EMAIL` (the password is one line on standard
 * input) and `token create NAME` (prints `{"name","token"}` once). They take the database and
 * their I/O as parameters; the CLI router wires them.
 */
import type { Db } from "../store/db.ts";
import { countUsers, createUser } from "../store/users.ts";
import { hashPassword } from "../auth/password_hash.ts";
import { issueApiToken } from "../admin/api_token_issue.ts";
import { recordEvent } from "../store/audit.ts";

/** What the commands read and write. */
export interface AdminIo {
  /** One line of standard input without its line end, or null at end of input. */
  readLine: () => Promise<string | null>;
  /** One JSON document on standard output. */
  print: (doc: unknown) => void;
  /** A line for a person on standard error. */
  say: (line: string) => void;
  now: () => Date;
}

/** Shortest password accepted (OWASP ASVS 6.2.1: at least 8; we ask for 12). */
export const MIN_PASSWORD_LENGTH = 12;

const EMAIL =
  /^[^\s@<>"(),;:]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$|^[^\s@<>"(),;:]{1,64}@localhost$/;

/**
 * `user add EMAIL`: reads the password from standard input (one line) and creates the user.
 * Exit codes: 0 created, 2 bad input, 1 the e-mail is taken.
 */
export async function userAdd(db: Db, email: string | undefined, io: AdminIo): Promise<number> {
  const address = (email ?? "").trim().toLowerCase();
  if (!EMAIL.test(address)) {
    io.say("usage: user add EMAIL   (the password is read from standard input, one line)");
    return 2;
  }
  io.say(`password for ${address} (one line on standard input):`);
  const password = await io.readLine();
  if (password === null || password.length < MIN_PASSWORD_LENGTH) {
    io.say(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    return 2;
  }
  if (password.length > 1024) {
    io.say("the password must be at most 1024 characters");
    return 2;
  }
  const at = io.now();
  try {
    const user = await createUser(db, address, await hashPassword(password), at);
    await recordEvent(db, { event: "user_created", at, detail: { email: user.email, by: "cli" } });
    io.print({ created: true, id: user.id, email: user.email });
    return 0;
  } catch (e) {
    if (/unique|duplicate/i.test((e as Error).message)) {
      io.say(`a user with the e-mail ${address} already exists`);
      return 1;
    }
    throw e;
  }
}

/**
 * `token create NAME`: creates an API token and prints `{"name","token"}`; the value is not
 * stored and cannot be shown again. Exit codes: 0 created, 2 bad or taken name.
 */
export async function tokenCreate(db: Db, name: string | undefined, io: AdminIo): Promise<number> {
  const issued = await issueApiToken(db, (name ?? "").trim(), io.now());
  if (!issued.ok) {
    io.say(`usage: token create NAME — ${issued.error}`);
    return 2;
  }
  await recordEvent(db, {
    event: "token_created",
    at: io.now(),
    detail: { name: name?.trim(), by: "cli" },
  });
  io.print({ name: name?.trim(), token: issued.token });
  return 0;
}

/**
 * What the service prints at start when nobody can log in yet, or null when a user exists.
 */
export async function firstStartHint(db: Db): Promise<string | null> {
  if (await countUsers(db) > 0) return null;
  return "No admin user yet. Create one with:\n" +
    "  echo 'a long password' | deno task cli user add you@example.com\n" +
    "(the password is read from standard input, one line)";
}

/** Reads one line from a byte stream (standard input), without its line end. */
export async function readOneLine(stream: ReadableStream<Uint8Array>): Promise<string | null> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const nl = text.indexOf("\n");
      if (nl >= 0) return text.slice(0, nl).replace(/\r$/, "");
      if (text.length > 4096) break;
    }
  } finally {
    reader.releaseLock();
  }
  text += decoder.decode();
  return text === "" ? null : text.replace(/\r?\n?$/, "");
}
