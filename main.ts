/**
 * Carteiro's composition root: the only module that reads the environment, opens the database,
 * registers `Deno.cron` jobs and serves HTTP. Everything else receives what it needs from here.
 *
 *   deno task start        the service (web admin, collection every minute)
 *   deno task cli ...      one command (see src/cli/run_cli.ts)
 */
import { type Config, type DatabaseSettings, loadConfig } from "./src/config.ts";
import type { Db } from "./src/store/db.ts";
import { openPostgres } from "./src/store/postgres_db.ts";
import { openPglite } from "./src/store/pglite_db.ts";
import { migrate, readMigrations } from "./src/store/migrate.ts";
import { listAccounts, upsertEnvAccount } from "./src/store/accounts.ts";
import { readStats } from "./src/store/stats.ts";
import { connectImap } from "./src/mail/imap_reader.ts";
import { parseMessage } from "./src/mail/parse_message.ts";
import { classify } from "./src/domain/classifier.ts";
import type { CollectDeps } from "./src/jobs/collect_account.ts";
import { collectAll } from "./src/jobs/collect_all.ts";
import { processPending } from "./src/jobs/process_messages.ts";
import { replyStep } from "./src/jobs/reply_step.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "./src/domain/rate_limit.ts";
import { exportRules, parseRules } from "./src/domain/rules.ts";
import { loadRules, replaceRules } from "./src/store/rule_set.ts";
import { recordEvent } from "./src/store/audit.ts";
import { drainOutbox, type SendStep } from "./src/jobs/send_outbox.ts";
import { createSmtpSender, type SmtpSender } from "./src/mail/smtp_sender.ts";
import { type CliServices, runCli } from "./src/cli/run_cli.ts";
import { createLogger, type Logger } from "./src/log.ts";
import { createApp } from "./routes/app.ts";

async function openDatabase(settings: DatabaseSettings): Promise<Db> {
  if (settings.kind === "pglite") {
    await Deno.mkdir(settings.dataDir, { recursive: true });
    return await openPglite(settings.dataDir);
  }
  let ca = settings.caPem ?? undefined;
  if (settings.caFile) {
    try {
      ca = await Deno.readTextFile(settings.caFile);
    } catch (cause) {
      throw new Error(`DATABASE_CA_FILE ${settings.caFile} cannot be read`, { cause });
    }
  }
  return openPostgres({ url: settings.url, ca });
}

/**
 * Fault injection for the exactly-once tests: CARTEIRO_KILL_AT=<step> ends the process with
 * SIGKILL when a send reaches that step (see SendStep). Unset in normal use.
 */
function killAt(step: string | undefined) {
  if (!step) return undefined;
  return (reached: SendStep) => {
    if (reached === step) Deno.kill(Deno.pid, "SIGKILL");
  };
}

/** Opens the database, applies migrations and wires the jobs. */
async function compose(config: Config, log: Logger, env: Record<string, string>) {
  const db = await openDatabase(config.database);
  await migrate(db, await readMigrations());
  const now = () => new Date();
  if (config.account) {
    const a = config.account;
    await upsertEnvAccount(db, {
      name: a.name,
      address: a.address,
      imapHost: a.imap.host,
      imapPort: a.imap.port,
      imapTls: a.imap.secure,
      imapUser: a.imap.user,
      mailboxes: a.mailboxes,
    });
  }
  const afterClassified = replyStep({
    policy: DEFAULT_RATE_LIMIT_POLICY,
    sendDeadlineMs: config.send.deadlineHours * 3_600_000,
    accountContext: async (accountId) => {
      const account = (await listAccounts(db)).find((a) => a.id === accountId);
      if (!account) throw new Error(`account ${accountId} is gone`);
      return {
        id: account.id,
        name: account.name,
        addresses: [account.address],
        connectedAt: account.connectedAt,
        messageIdDomain: account.address.split("@")[1] ?? "carteiro.invalid",
      };
    },
    ownAddresses: async () => (await listAccounts(db)).map((a) => a.address),
  });
  const collectDeps: CollectDeps = {
    db,
    now,
    log,
    batchMessages: config.collectBatch,
    connect: (account) => {
      if (account.source !== "env" || !config.account) {
        return Promise.reject(
          new Error(`account ${account.name} has no credentials in this environment`),
        );
      }
      return connectImap(config.account.imap);
    },
    processPending: (accountId) =>
      processPending({ db, parse: parseMessage, classify, now, afterClassified }, accountId),
  };
  const collectOnce = async () => collectAll(collectDeps, await listAccounts(db));
  // One pooled SMTP transport for the environment's account, opened on first use.
  let smtp: SmtpSender | null = null;
  const envAccountId = config.account
    ? (await listAccounts(db)).find((a) => a.source === "env" && a.name === config.account?.name)
      ?.id
    : undefined;
  const sendOnce = () =>
    drainOutbox({
      db,
      now,
      log,
      newToken: () => crypto.randomUUID(),
      leaseMs: config.send.leaseSeconds * 1000,
      retryBaseMs: config.send.retrySeconds * 1000,
      senderFor: (accountId) => {
        if (!config.account || accountId !== envAccountId) return null;
        const s = config.account.smtp;
        smtp ??= createSmtpSender({
          host: s.host,
          port: s.port,
          secure: s.secure,
          requireTls: s.requireTls,
          user: s.user,
          pass: s.pass,
          allowInvalidCertificate: s.allowInvalidCertificate,
        });
        return smtp;
      },
      checkpoint: killAt(env.CARTEIRO_KILL_AT),
    });
  const close = async () => {
    smtp?.close();
    await db.close();
  };
  const importRules = async (json: unknown) => {
    const parsed = parseRules(json);
    if (!parsed.ok) return parsed;
    await db.transaction(async (tx) => {
      const at = now();
      await replaceRules(tx, parsed.rules, at);
      await recordEvent(tx, {
        event: "rules_changed",
        at,
        detail: { via: "cli import", rules: parsed.rules.map((r) => r.name) },
      });
    });
    return { ok: true as const, count: parsed.rules.length };
  };
  const exportAll = async () => exportRules(await loadRules(db));
  return { db, collectOnce, sendOnce, importRules, exportRules: exportAll, close };
}

function configOrExit(log: Logger, env: Record<string, string>): Config {
  const result = loadConfig(env);
  if (!result.ok) {
    log.error("configuration problems", { problems: result.errors });
    console.error(
      `Carteiro cannot start; fix these settings (in .env or the environment):\n${
        result.errors.map((e) => `  - ${e}`).join("\n")
      }`,
    );
    Deno.exit(2);
  }
  return result.config;
}

async function cli(args: string[]): Promise<number> {
  const log = createLogger({ quiet: true });
  return await runCli(args, {
    openServices: async (): Promise<CliServices> => {
      const env = Deno.env.toObject();
      const services = await compose(configOrExit(log, env), log, env);
      return { ...services, stats: () => readStats(services.db) };
    },
    parse: parseMessage,
    classify,
    readFile: (path) => Deno.readFile(path),
    print: (doc) => console.log(JSON.stringify(doc)),
    say: (line) => console.error(line),
  });
}

async function serve() {
  const log = createLogger();
  const env = Deno.env.toObject();
  const config = configOrExit(log, env);
  const { db, collectOnce, sendOnce } = await compose(config, log, env);
  const send = async () => {
    const summary = await sendOnce();
    if (summary.claimed + summary.expired > 0) log.info("outbox drained", { ...summary });
  };
  Deno.cron("collect mail", "* * * * *", async () => {
    const summaries = await collectOnce();
    for (const s of summaries) {
      if (s.status !== "skipped") log.info("collected", { ...s, mailboxes: undefined });
    }
    // Replies enqueued by this collection go out now, not at the next tick.
    if (summaries.some((s) => s.parsed > 0)) await send();
  });
  Deno.cron("send replies", "* * * * *", send);
  const app = createApp({
    pingDatabase: async () => void await db.query("SELECT 1"),
    databaseKind: db.kind,
  });
  Deno.serve({
    hostname: config.http.hostname,
    port: config.http.port,
    onListen: ({ hostname, port }) =>
      log.info("listening", { url: `http://${hostname}:${port}/`, database: db.kind }),
  }, app.fetch);
  if (!config.account) {
    log.warn("no mailbox configured: set EMAIL_HOST, EMAIL_USER and EMAIL_PASS (see .env.example)");
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "cli") {
    Deno.exit(await cli(Deno.args.slice(1)));
  } else {
    await serve();
  }
}
