import type { Classification, ParsedEmail } from "../domain/email.ts";
import type { ParseOutcome } from "../mail/parse_message.ts";
import type { CollectSummary } from "../jobs/collect_account.ts";
import type { Stats } from "../store/stats.ts";
import type { SendSummary } from "../jobs/send_outbox.ts";

/** What the database-backed commands need; opened only by the commands that use it. */
export interface CliServices {
  collectOnce(): Promise<CollectSummary[]>;
  sendOnce(): Promise<SendSummary>;
  importRules(
    json: unknown,
  ): Promise<{ ok: true; count: number } | { ok: false; errors: string[] }>;
  exportRules(): Promise<unknown[]>;
  /** `rules replay RULE --since DATE …`: a rule over stored mail. Resolves to the exit code. */
  replayRule(args: string[]): Promise<number>;
  /** `user list | add | passwd | role | disable | enable | remove`. Resolves to the exit code. */
  user(args: string[]): Promise<number>;
  /** Creates an API token and prints it once. Resolves to the exit code. */
  tokenCreate(args: string[]): Promise<number>;
  /** `never-answer list | add | remove`: the never-answer list. Resolves to the exit code. */
  neverAnswer(args: string[]): Promise<number>;
  /** `webhook list | add | remove | enable | disable | deliveries | resend | deliver --once`. */
  webhook(args: string[]): Promise<number>;
  /** `breakers list | reset`: the loop breakers. Resolves to the exit code. */
  breakers(args: string[]): Promise<number>;
  /** `account settings | set | budget`: an account's reply settings and send budget. */
  account(args: string[]): Promise<number>;
  /** `purge`, `erase` and `retention` (the first of `args`). Resolves to the exit code. */
  retention(args: string[]): Promise<number>;
  /** `export`: messages (mbox, zip, CSV) or the outbox (CSV) to a file. Resolves to the exit code. */
  exportData(args: string[]): Promise<number>;
  stats(): Promise<Stats>;
  /**
   * The embedded database as SQL for `psql`, or null when the database is a PostgreSQL server
   * (its own pg_dump does that).
   */
  dumpDatabase(): Promise<string | null>;
  close(): Promise<void>;
}

export interface CliDeps {
  openServices: () => Promise<CliServices>;
  parse: (raw: Uint8Array) => Promise<ParseOutcome>;
  classify: (email: ParsedEmail) => Classification;
  readFile: (path: string) => Promise<Uint8Array>;
  /** Writes one JSON document as one line on stdout. */
  print: (doc: unknown) => void;
  /** Writes a line for a person on stderr. */
  say: (line: string) => void;
  /** Writes text on stdout as it is (a dump); resolves when it may be given more. */
  write: (text: string) => Promise<void>;
}

/** How `token create` is called. */
export const TOKEN_CREATE_USAGE =
  "usage: token create NAME [--scopes read,write,metrics] [--expires YYYY-MM-DD]";

export const USAGE = `usage: deno task cli <command>

commands:
  collect --once     collect every account once; prints a JSON summary (progress on stderr)
  send --once        drains the outbox once; prints a JSON summary
  stats              prints message and outbox counts and accounts with their health as JSON
  rules import FILE  replaces the rules with those of a JSON file (all refused if one is invalid)
  rules export       prints the rules as one JSON array
  rules replay RULE --since YYYY-MM-DD [--until YYYY-MM-DD] [--account NAME]
               [--kind forwarded|direct] [--reply STATUS] [--search TEXT] [--confirm TOKEN]
                     applies rule RULE to the stored mail received since that day (and passing
                     the filters; at most 1,000 messages): without --confirm a dry-run listing
                     what each message would get, and its token; with the token, enqueues that
  user list          prints the users with their roles
  user add EMAIL [--role admin|operator|viewer]
                     creates a user (password read from stdin, one line; default role admin)
  user passwd EMAIL  sets a user's password (read from stdin, one line); their sessions end
  user role EMAIL ROLE
                     gives a user the role admin, operator or viewer
  user disable EMAIL | user enable EMAIL | user remove EMAIL
                     stops (ends their sessions), allows again, or removes a user's access
  token create NAME [--scopes read,write,metrics] [--expires YYYY-MM-DD]
                     creates an API token for /api/v1 and /metrics and prints it once
                     (every scope unless --scopes; no expiry unless --expires)
  never-answer list  prints the never-answer list (addresses, globs, domains never answered)
  never-answer add PATTERN [--account NAME]
                     adds an address, glob or domain, for every account or for NAME only
  never-answer remove ID
                     removes entry ID of the list
  webhook list       prints the webhook endpoints (without their secrets) as JSON
  webhook add URL --events EVENT,... [--account NAME] [--description TEXT]
                     adds an endpoint for the events named (or *), of every account or of NAME;
                     prints it with its signing secret
  webhook remove ID | webhook enable ID | webhook disable ID
                     removes an endpoint (with its deliveries), or starts or stops its deliveries
  webhook deliveries [--endpoint ID] [--status STATUS] [--limit N]
                     prints the most recent deliveries with their status, attempts and last error
  webhook resend DELIVERY_ID
                     sends a delivery again (the same event id and body)
  webhook deliver --once
                     delivers the webhook events due now; prints a JSON summary
  breakers list [--open]
                     prints the loop breakers on record (or only the open ones) as JSON
  breakers reset ID | breakers reset --all
                     resets breaker ID, or every open one: replies in its scope may go again
  account settings NAME
                     prints account NAME's settings (zone, checks, forwarders, limits, retention)
  account set NAME JSON
                     changes them: the JSON's keys replace the stored ones
  account budget NAME [--per-minute N] [--per-day N]
                     sets the account's send budget (a window not given: no limit)
  account budget NAME --default
                     back to the provider's default budget (docs/sending_limits.md)
  account list       prints the accounts (settings and health, never a password) as JSON
  account add JSON [--imap-password] [--smtp-password] [--imap-tls MODE] [--smtp-tls MODE]
                     adds an account (the admin form's field names); each password flag reads
                     one line of stdin, IMAP first — never a password on the command line;
                     MODE is tls, starttls, or plain (loopback hosts only)
  account disable NAME | account enable NAME
                     stops collecting and sending for an account, or starts again
  account delete NAME --erase|--keep
                     deletes a stored account: --erase its messages, decisions and replies,
                     or --keep the messages as "(deleted account)"; unsent replies are cancelled
  purge [--dry-run]  removes now what the retention settings say is expired (raw sources,
                     messages, audit rows); --dry-run prints the counts per account and kind only
  erase ADDRESS [--dry-run]
                     removes every message from or to ADDRESS, its replies and the audit rows
                     naming it; prints the rows removed per table (--dry-run: would remove)
  retention show | retention set --audit-days N|never
                     prints or sets how long the audit log is kept (docs/retention.md)
  export --format mbox|zip|csv [FILTERS] --out FILE
                     writes the messages that pass the message list's filters, newest first:
                     --account NAME|ID --kind forwarded|direct --reply STATUS --since YYYY-MM-DD
                     --until YYYY-MM-DD --unparsed --q TEXT (mbox and zip: raw sources as
                     collected); prints a JSON summary
  export --outbox --format csv [--status STATUS] [--account NAME|ID] --out FILE
                     writes the outbox rows as CSV
  db dump            prints the embedded database as SQL that psql loads into PostgreSQL
  classify FILE...   classifies .eml files without touching the database (one JSON line each)`;

/** The commands that use the database (the others never open it). */
const DATABASE_COMMANDS = new Set([
  "collect",
  "send",
  "rules",
  "user",
  "token",
  "stats",
  "db",
  "never-answer",
  "breakers",
  "account",
  "purge",
  "erase",
  "retention",
  "export",
  "webhook",
]);

/** Whether the command line names a command that uses the database. */
export function needsDatabase(args: string[]): boolean {
  return DATABASE_COMMANDS.has(args[0] ?? "");
}

/** Runs one command; resolves to the process exit code. */
export async function runCli(args: string[], deps: CliDeps): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "collect":
      if (!rest.includes("--once")) {
        deps.say("collect runs once and exits: call it as `collect --once`");
        return 2;
      }
      return await withServices(deps, async (s) => {
        const accounts = await s.collectOnce();
        if (accounts.length === 0) {
          deps.say("no account to collect: set EMAIL_HOST, EMAIL_USER and EMAIL_PASS");
        }
        deps.print(collectReport(accounts));
        return accounts.some((a) => a.status === "error") ? 1 : 0;
      });
    case "send":
      if (!rest.includes("--once")) {
        deps.say("send runs once and exits: call it as `send --once`");
        return 2;
      }
      return await withServices(deps, async (s) => {
        deps.print(await s.sendOnce());
        return 0;
      });
    case "rules":
      return await rulesCommand(rest, deps);
    case "user":
      return await withServices(deps, (s) => s.user(rest));
    case "token":
      if (rest[0] !== "create") {
        deps.say(TOKEN_CREATE_USAGE);
        return 2;
      }
      return await withServices(deps, (s) => s.tokenCreate(rest.slice(1)));
    case "never-answer":
      return await withServices(deps, (s) => s.neverAnswer(rest));
    case "breakers":
      return await withServices(deps, (s) => s.breakers(rest));
    case "webhook":
      return await withServices(deps, (s) => s.webhook(rest));
    case "account":
      return await withServices(deps, (s) => s.account(rest));
    case "purge":
    case "erase":
    case "retention":
      return await withServices(deps, (s) => s.retention(args));
    case "export":
      return await withServices(deps, (s) => s.exportData(rest));
    case "stats":
      return await withServices(deps, async (s) => {
        deps.print(await s.stats());
        return 0;
      });
    case "db":
      if (rest[0] !== "dump") {
        deps.say("usage: db dump > carteiro.sql");
        return 2;
      }
      return await withServices(deps, async (s) => {
        const sql = await s.dumpDatabase();
        if (sql === null) {
          deps.say(
            "db dump reads the embedded database; with DATABASE_URL use PostgreSQL's own pg_dump",
          );
          return 2;
        }
        await deps.write(sql);
        return 0;
      });
    case "classify":
      return await classifyFiles(rest, deps);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      deps.say(USAGE);
      return command === undefined ? 2 : 0;
    default:
      deps.say(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function withServices(
  deps: CliDeps,
  fn: (s: CliServices) => Promise<number>,
): Promise<number> {
  let services: CliServices;
  try {
    services = await deps.openServices();
  } catch (e) {
    // The database cannot be opened (unreachable, refused TLS, a failed migration): one line
    // that says why, not a stack trace.
    deps.say(`carteiro: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

function collectReport(accounts: CollectSummary[]) {
  const sum = (k: "fetched" | "stored" | "remapped" | "present" | "parsed" | "failed") =>
    accounts.reduce((n, a) => n + a[k], 0);
  return {
    fetched: sum("fetched"),
    stored: sum("stored"),
    remapped: sum("remapped"),
    present: sum("present"),
    parsed: sum("parsed"),
    failed: sum("failed"),
    // Messages over their account's limit, kept with their headers only (named only when some).
    ...(accounts.some((a) => a.tooLarge)
      ? { tooLarge: accounts.reduce((n, a) => n + (a.tooLarge ?? 0), 0) }
      : {}),
    accounts,
  };
}

async function rulesCommand(args: string[], deps: CliDeps): Promise<number> {
  const [sub, file] = args;
  if (sub === "replay") return await withServices(deps, (s) => s.replayRule(args.slice(1)));
  if (sub === "export") {
    return await withServices(deps, async (s) => {
      deps.print(await s.exportRules());
      return 0;
    });
  }
  if (sub !== "import" || !file) {
    deps.say("usage: rules import FILE.json | rules export | rules replay RULE --since DATE …");
    return 2;
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await deps.readFile(file)));
  } catch (e) {
    deps.say(`${file}: not readable JSON: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  return await withServices(deps, async (s) => {
    const result = await s.importRules(json);
    if (!result.ok) {
      deps.say(
        `${file}: no rule was imported:\n${result.errors.map((e) => `  - ${e}`).join("\n")}`,
      );
      deps.print({ imported: 0, errors: result.errors });
      return 1;
    }
    deps.print({ imported: result.count });
    return 0;
  });
}

async function classifyFiles(files: string[], deps: CliDeps): Promise<number> {
  if (files.length === 0) {
    deps.say("classify needs at least one .eml file");
    return 2;
  }
  let status = 0;
  for (const file of files) {
    let raw: Uint8Array;
    try {
      raw = await deps.readFile(file);
    } catch (e) {
      deps.print({ file, error: `cannot read: ${e instanceof Error ? e.message : String(e)}` });
      status = 1;
      continue;
    }
    const parsed = await deps.parse(raw);
    if (!parsed.ok) {
      deps.print({ file, error: `cannot parse: ${parsed.error}` });
      status = 1;
      continue;
    }
    const c = deps.classify(parsed.email);
    deps.print({
      file,
      kind: c.kind,
      original: c.original && {
        from_address: c.original.fromAddress,
        from_name: c.original.fromName,
        subject: c.original.subject,
        date: c.original.date,
        date_iso: c.original.dateIso,
      },
      confidence: c.confidence,
      evidence: c.evidence,
    });
  }
  return status;
}
