/**
 * The admin's command-line pieces: `token create NAME` (prints the token once) and
 * `rules import`, thin adapters
 * over the actions of src/actions/. They take the database and their I/O as parameters; the CLI
 * router wires them.
 */
import { parseArgs } from "node:util";
import { TOKEN_CREATE_USAGE } from "./run_cli.ts";
import type { Db } from "../store/db.ts";
import { countUsers } from "../store/users.ts";
import { MIN_PASSWORD_LENGTH } from "../admin/user_input.ts";
import { createToken } from "../actions/tokens.ts";
import { importRules } from "../actions/rules.ts";
import { problemLines } from "../actions/result.ts";

export { MIN_PASSWORD_LENGTH };

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

/**
 * `token create NAME [--scopes LIST] [--expires DATE]`: creates an API token and prints
 * `{"name","token","scopes","expires_at"}`; the value is not stored and cannot be shown again.
 * Without `--scopes` the token has every scope. Exit codes: 0 created, 2 bad or taken name, bad
 * scopes or expiry, or a malformed command line.
 */
export async function tokenCreate(db: Db, args: string[], io: AdminIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { scopes: { type: "string" }, expires: { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    io.say(`${TOKEN_CREATE_USAGE} — ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  if (parsed.positionals.length !== 1) {
    io.say(TOKEN_CREATE_USAGE);
    return 2;
  }
  const issued = await createToken({ db, now: io.now }, {
    name: parsed.positionals[0].trim(),
    scopes: parsed.values.scopes,
    expires: parsed.values.expires,
  }, "cli");
  if (!issued.ok) {
    for (const line of problemLines(issued.problem)) io.say(line);
    io.say(TOKEN_CREATE_USAGE);
    return 2;
  }
  io.print(issued.value);
  return 0;
}

/**
 * `rules import FILE`: replaces every rule with the file's, audited as `rule_changed`; nothing
 * changes when any rule is invalid, and every problem is listed.
 */
export async function rulesImport(
  db: Db,
  json: unknown,
  now: () => Date,
): Promise<{ ok: true; count: number } | { ok: false; errors: string[] }> {
  const imported = await importRules({ db, now }, json);
  return imported.ok
    ? { ok: true, count: imported.value.count }
    : { ok: false, errors: problemLines(imported.problem) };
}

/** Where the service listens, and the secret of its setup link (routes/setup.tsx). */
export interface SetupLinkSettings {
  /** The configured HOST. */
  hostname: string;
  port: number;
  token: string;
}

/**
 * The setup link a person on this machine can open, and a note when the host in it is not the
 * configured one: a server listening on every address (`0.0.0.0`, `::`) is reached on loopback.
 */
export function setupLink(s: SetupLinkSettings): { url: string; note: string | null } {
  const everywhere = s.hostname === "0.0.0.0" || s.hostname === "::" || s.hostname === "[::]";
  const host = everywhere
    ? (s.hostname === "0.0.0.0" ? "127.0.0.1" : "localhost")
    : s.hostname.includes(":") && !s.hostname.startsWith("[")
    ? `[${s.hostname}]` // an IPv6 literal (RFC 3986 section 3.2.2)
    : s.hostname;
  return {
    url: `http://${host}:${s.port}/setup?token=${encodeURIComponent(s.token)}`,
    note: everywhere
      ? `(HOST=${s.hostname} listens on every address: from another machine, put this ` +
        `machine's name or address in place of ${host})`
      : null,
  };
}

/**
 * What the service prints at start when nobody can log in yet, or null when a user exists:
 * the one-time setup link when `setup` is given, and the CLI command either way.
 */
export async function firstStartHint(
  db: Db,
  setup?: SetupLinkSettings,
): Promise<string | null> {
  if (await countUsers(db) > 0) return null;
  const cli = "  echo 'a long password' | deno task cli user add you@example.com\n" +
    "(the password is read from standard input, one line)";
  if (!setup) return `No admin user yet. Create one with:\n${cli}`;
  const link = setupLink(setup);
  return "No admin user yet. Create the first one in a browser with this one-time link " +
    "(it works until a user exists):\n" +
    `  ${link.url}\n` +
    (link.note ? `${link.note}\n` : "") +
    `or on the command line:\n${cli}`;
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
