/**
 * Carteiro's composition root: the only module that reads the environment, opens the database,
 * registers `Deno.cron` jobs and serves HTTP. Everything else receives what it needs from here.
 *
 *   deno task start        the service (web admin, collection every minute)
 *   deno task cli ...      one command (see src/cli/run_cli.ts)
 */
import { type Config, type DatabaseSettings, loadConfig } from "./src/config.ts";
import type { Db, Queryable } from "./src/store/db.ts";
import { openPostgres } from "./src/store/postgres_db.ts";
import { openPglite } from "./src/store/pglite_db.ts";
import { DataDirBusyError, type DataDirHolder, describeHolder } from "./src/store/data_dir_lock.ts";
import { migrate, readMigrations } from "./src/store/migrate.ts";
import { type AccountRow, listAccounts, upsertEnvAccount } from "./src/store/accounts.ts";
import { getAccountSecrets } from "./src/store/accounts_admin.ts";
import { createSecretBox } from "./src/auth/secret_box.ts";
import { newSecret } from "./src/auth/tokens.ts";
import { missingSecretKeyNotice } from "./src/admin/startup_notices.ts";
import { rerunRules } from "./src/jobs/rerun_rules.ts";
import type { AccountContext } from "./src/domain/decide_reply.ts";
import type { ConnectionTarget, ConnectionTestResult } from "./routes/deps.ts";
import { firstStartHint, readOneLine, tokenCreate, userAdd } from "./src/cli/admin_commands.ts";
import { readStats } from "./src/store/stats.ts";
import { deleteIdleHealth, writeIdleHealth, writeProgress } from "./src/store/account_health.ts";
import { throttleProgress } from "./src/jobs/collect_progress.ts";
import { startIdleHealthReport } from "./src/jobs/idle_health_report.ts";
import { createProgressReporter, type ProgressReporter } from "./src/cli/progress_line.ts";
import { connectImap, type ImapConnection } from "./src/mail/imap_reader.ts";
import { testMailConnection } from "./src/mail/connection_test.ts";
import { type AnalyzePool, startAnalyzePool } from "./src/mail/analyze_pool.ts";
import type { CollectDeps, CollectProgressEvent } from "./src/jobs/collect_account.ts";
import { collectAll } from "./src/jobs/collect_all.ts";
import { collectAccount } from "./src/jobs/collect_account.ts";
import { type IdleWatchHandle, startIdleWatch } from "./src/jobs/idle_watch.ts";
import { connectIdleSession, startIdleWatcher } from "./src/mail/imap_idle.ts";
import { processPending } from "./src/jobs/process_messages.ts";
import { replyBatchStep, replyStep } from "./src/jobs/reply_step.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "./src/domain/rate_limit.ts";
import { exportRules, parseRules } from "./src/domain/rules.ts";
import { loadRules, replaceRules } from "./src/store/rule_set.ts";
import { recordEvent } from "./src/store/audit.ts";
import { drainOutbox, type SendStep } from "./src/jobs/send_outbox.ts";
import { createSmtpSender, type SmtpSender, storedAccountSmtp } from "./src/mail/smtp_sender.ts";
import { type CliDeps, type CliServices, needsDatabase, runCli } from "./src/cli/run_cli.ts";
import {
  type CommandSocket,
  type RemoteIo,
  serveCommandSocket,
} from "./src/cli/command_socket_server.ts";
import { forwardCommand } from "./src/cli/command_socket_client.ts";
import { pieces, SOCKET_FILE } from "./src/cli/command_socket_protocol.ts";
import { runOnEmbedded } from "./src/cli/embedded_access.ts";
import { createLogger, type Logger } from "./src/log.ts";
import { createApp } from "./routes/app.ts";
import { collectWithin, drainWithin, type RunBudget } from "./src/jobs/bounded_run.ts";

// The parser and the classifier load on first use: on a server they run on worker threads
// (src/mail/analyze_pool.ts), and the collecting thread never needs its own copy.
const analysisModule = () => import("./src/mail/analyze.ts");
const parseLazily = async (raw: Uint8Array) =>
  (await import("./src/mail/parse_message.ts")).parseMessage(raw);

/** Who opens the embedded database: named in the data folder's lock for a second process. */
type Owner = Pick<DataDirHolder, "role" | "command">;

/** The database, and the dump of it when it is the embedded one. */
interface OpenedDatabase {
  db: Db;
  dump: (() => Promise<string>) | null;
}

async function openDatabase(settings: DatabaseSettings, owner: Owner): Promise<OpenedDatabase> {
  if (settings.kind === "pglite") {
    const db = await openPglite(settings.dataDir, { ...owner, pid: Deno.pid, since: new Date() });
    return { db, dump: () => db.dump() };
  }
  let ca = settings.caPem ?? undefined;
  let caSource = "DATABASE_CA";
  if (settings.caFile) {
    caSource = `DATABASE_CA_FILE ${settings.caFile}`;
    try {
      ca = await Deno.readTextFile(settings.caFile);
    } catch (cause) {
      throw new Error(`DATABASE_CA_FILE ${settings.caFile} cannot be read`, { cause });
    }
  }
  return { db: openPostgres({ url: settings.url, ca, caSource }), dump: null };
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

/**
 * Opens the database, applies migrations and wires the jobs. Exported for the tests that run the
 * service's own wiring in process (the deploy-mode cron handlers with a small budget).
 * On the embedded database this process becomes the data folder's owner, named as `owner`; it
 * rejects with `DataDirBusyError` when another process is. `setupToken`: the secret of the
 * one-time setup link (routes/setup.tsx), made by the service at each start; none for the CLI.
 */
export async function compose(
  config: Config,
  log: Logger,
  env: Record<string, string>,
  options: { owner?: Owner; setupToken?: string } = {},
) {
  const owner = options.owner ?? { role: "service", command: "deno task start" };
  const { db, dump } = await openDatabase(config.database, owner);
  await migrate(db, await readMigrations());
  const now = () => new Date();
  const secrets = createSecretBox(config.secretKey);
  const envAccountId = config.account
    ? (await upsertEnvAccount(db, {
      name: config.account.name,
      address: config.account.address,
      imapHost: config.account.imap.host,
      imapPort: config.account.imap.port,
      imapTls: config.account.imap.secure,
      imapUser: config.account.imap.user,
      mailboxes: config.account.mailboxes,
    })).id
    : null;

  const accountContext = async (q: Queryable, accountId: number): Promise<AccountContext> => {
    const account = (await listAccounts(q)).find((a) => a.id === accountId);
    if (!account) throw new Error(`account ${accountId} is gone`);
    return {
      id: account.id,
      name: account.name,
      addresses: [account.address],
      connectedAt: account.connectedAt,
      messageIdDomain: account.address.split("@")[1] ?? "carteiro.invalid",
    };
  };
  const ownAddresses = async (q: Queryable) => (await listAccounts(q)).map((a) => a.address);
  const replyDeps = {
    policy: DEFAULT_RATE_LIMIT_POLICY,
    sendDeadlineMs: config.send.deadlineHours * 3_600_000,
    accountContext,
    ownAddresses,
  };
  const afterClassified = replyBatchStep(replyDeps);
  const replyOne = replyStep(replyDeps);

  /** An account's IMAP login: the environment's, or the stored one decrypted with SECRET_KEY. */
  const imapLogin = async (account: AccountRow): Promise<ImapConnection> => {
    if (account.id === envAccountId && config.account) return config.account.imap;
    const stored = await getAccountSecrets(db, account.id);
    if (!stored?.imapPassEnc) {
      throw new Error(`account ${account.name} has no IMAP password stored`);
    }
    return {
      host: account.imapHost,
      port: account.imapPort,
      secure: account.imapTls,
      startTls: !account.imapTls,
      user: account.imapUser,
      pass: await secrets.decrypt("imap_pass", stored.imapPassEnc),
    };
  };
  // Shown by `stats` and the accounts page while a collection runs; its end deletes the row.
  const saveProgress = throttleProgress((p) => writeProgress(db, p, now()), { now });
  // Parsing and classifying run on worker threads on a server (started on first use), on the
  // collecting thread in deploy mode or with PARSE_WORKERS=0.
  const workers = config.runtime.mode === "deploy"
    ? 0
    : config.parseWorkers ?? Math.max(1, navigator.hardwareConcurrency - 1);
  let pool: AnalyzePool | null = null;
  const analyze = async (raw: Uint8Array) =>
    workers === 0
      ? (await analysisModule()).analyzeMessage(raw)
      : (pool ??= startAnalyzePool(workers)).analyze(raw);
  const collectDeps: CollectDeps = {
    db,
    now,
    log,
    batchMessages: config.collectBatch,
    onProgress: saveProgress,
    connect: async (account) => connectImap(await imapLogin(account)),
    analyze,
    processPending: (accountId, arrived) =>
      processPending({ db, analyze, now, afterClassified }, accountId, arrived),
  };
  /**
   * `shouldStop`, when given, is asked before each batch (a time-bounded cron handler);
   * `onProgress` is told of the collection's progress too (the CLI's progress line).
   */
  const collectOnce = async (
    shouldStop?: () => boolean,
    onProgress?: (p: CollectProgressEvent) => void,
  ) =>
    collectAll({
      ...collectDeps,
      shouldStop,
      onProgress: onProgress
        ? async (p) => {
          onProgress(p);
          await saveProgress(p);
        }
        : saveProgress,
    }, await listAccounts(db));

  // One pooled SMTP transport per account, opened on first use.
  const senders = new Map<number, SmtpSender>();
  const senderFor = async (accountId: number): Promise<SmtpSender> => {
    const open = senders.get(accountId);
    if (open) return open;
    let sender: SmtpSender;
    if (accountId === envAccountId && config.account) {
      sender = createSmtpSender({ ...config.account.smtp });
    } else {
      // The endpoint and the password in one read: the password goes where it was saved for.
      const stored = await getAccountSecrets(db, accountId);
      const smtp = stored?.smtp;
      if (!smtp) throw new Error(`account ${accountId} has no SMTP settings`);
      // TLS from the first byte or STARTTLS, required: a stored account never sends in clear.
      sender = createSmtpSender(storedAccountSmtp(
        smtp,
        stored.smtpPassEnc ? await secrets.decrypt("smtp_pass", stored.smtpPassEnc) : null,
      ));
    }
    senders.set(accountId, sender);
    return sender;
  };
  /** `shouldStop`, when given, is asked before each claim (a time-bounded cron handler). */
  const sendOnce = (shouldStop?: () => boolean) =>
    drainOutbox({
      shouldStop,
      db,
      now,
      log,
      newToken: () => crypto.randomUUID(),
      leaseMs: config.send.leaseSeconds * 1000,
      retryBaseMs: config.send.retrySeconds * 1000,
      senderFor,
      checkpoint: killAt(env.CARTEIRO_KILL_AT),
    });

  const importRules = async (json: unknown) => {
    const parsed = parseRules(json);
    if (!parsed.ok) return parsed;
    await db.transaction(async (tx) => {
      const at = now();
      await replaceRules(tx, parsed.rules, at);
      await recordEvent(tx, {
        event: "rule_changed",
        at,
        detail: { via: "cli import", rules: parsed.rules.map((r) => r.name) },
      });
    });
    return { ok: true as const, count: parsed.rules.length };
  };
  const exportAll = async () => exportRules(await loadRules(db));
  /** The embedded database as SQL (`cli db dump`); null on a PostgreSQL server. */
  const dumpDatabase = async () => dump ? await dump() : null;

  /** IMAP login and INBOX, reported as a category; private targets only when allowed. */
  const testConnection = (t: ConnectionTarget): Promise<ConnectionTestResult> =>
    testMailConnection({
      ...t.imap,
      pass: t.imap.pass ??
        (config.account && t.accountId === envAccountId ? config.account.imap.pass : null),
    }, { allowPrivateHosts: config.allowPrivateHosts, timeoutMs: 15_000 });
  const app = createApp({
    db,
    now,
    secretKey: config.secretKey,
    secureCookies: config.http.secureCookies,
    accountContext: (accountId) => accountContext(db, accountId),
    ownAddresses: () => ownAddresses(db),
    testConnection,
    rerunRules: (tx, messageId, at) =>
      rerunRules({ parse: parseLazily, replyStep: replyOne }, tx, messageId, at),
    setupToken: options.setupToken ?? null,
    trustedProxies: config.http.trustedProxies,
  }, (error, id) => log.error("http error", { id, error: String(error) }));

  /** IMAP IDLE per account: collection and the outbox run within a second of new mail. */
  const startWatching = async () =>
    startIdleWatch({
      collect: (account) => collectAccount(collectDeps, account),
      drain: sendOnce,
      watch: (account, onNewMail) =>
        startIdleWatcher({
          connect: async () => connectIdleSession(await imapLogin(account)),
          onNewMail,
          mailbox: account.mailboxes[0] ?? "INBOX",
          log,
        }),
      log,
    }, await listAccounts(db));

  /** Keeps this instance's IMAP IDLE state in the database for other processes to read. */
  const reportIdleHealth = (watching: IdleWatchHandle) => {
    const instance = `${Deno.hostname()}:${Deno.pid}`;
    return startIdleHealthReport({
      health: () => watching.health(),
      write: (reports, at) => writeIdleHealth(db, instance, reports, at),
      remove: () => deleteIdleHealth(db, instance),
      now,
      log,
    });
  };

  const close = async () => {
    for (const s of senders.values()) s.close();
    pool?.close();
    await db.close();
  };
  return {
    db,
    app,
    startWatching,
    reportIdleHealth,
    collectOnce,
    sendOnce,
    importRules,
    exportRules: exportAll,
    dumpDatabase,
    close,
  };
}

/** What `compose` wires. */
type Services = Awaited<ReturnType<typeof compose>>;

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

/** Where a CLI command's output goes and its input comes from: this terminal or a client's. */
interface CommandIo {
  /** One JSON document as one line on stdout. */
  print(doc: unknown): void;
  /** A line for a person on stderr. */
  say(line: string): void;
  /** Text on stdout as it is; resolves when more may be written. */
  write(text: string): Promise<void>;
  readLine(): Promise<string | null>;
  readFile(path: string): Promise<Uint8Array>;
  /** The collect progress line, on stderr. */
  progress: ProgressReporter;
}

/** Writes all of `text` on stdout or stderr. */
async function writeAll(stream: typeof Deno.stdout, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += await stream.write(bytes.subarray(written));
}

/** This process's own stdin, stdout and stderr. */
function terminalIo(): CommandIo {
  const encoder = new TextEncoder();
  return {
    print: (doc) => console.log(JSON.stringify(doc)),
    say: (line) => console.error(line),
    write: (text) => writeAll(Deno.stdout, text),
    readLine: () => readOneLine(Deno.stdin.readable),
    readFile: (path) => Deno.readFile(path),
    // Progress goes to stderr: stdout carries only the JSON documents.
    progress: createProgressReporter({
      tty: Deno.stderr.isTerminal(),
      write: (text) => Deno.stderr.writeSync(encoder.encode(text)),
      now: () => performance.now(),
    }),
  };
}

/** A client's terminal, over the command socket. */
function remoteIo(remote: RemoteIo, tty: boolean): CommandIo {
  return {
    print: (doc) => remote.out(`${JSON.stringify(doc)}\n`),
    say: (line) => remote.err(`${line}\n`),
    write: async (text) => {
      for (const piece of pieces(text)) {
        remote.out(piece);
        await remote.flushed();
      }
    },
    readLine: remote.readLine,
    readFile: remote.readFile,
    progress: createProgressReporter({ tty, write: remote.err, now: () => performance.now() }),
  };
}

/**
 * The CLI's database commands over composed services. `owned`: closing the command closes the
 * services (a command that opened them for itself alone).
 */
function cliServices(services: Services, io: CommandIo, owned: boolean): CliServices {
  const admin = { readLine: io.readLine, print: io.print, say: io.say, now: () => new Date() };
  return {
    collectOnce: () =>
      services.collectOnce(undefined, io.progress.update).finally(() => io.progress.end()),
    sendOnce: () => services.sendOnce(),
    importRules: services.importRules,
    exportRules: services.exportRules,
    dumpDatabase: services.dumpDatabase,
    stats: () => readStats(services.db, new Date()),
    userAdd: (email) => userAdd(services.db, email, admin),
    tokenCreate: (name) => tokenCreate(services.db, name, admin),
    close: owned ? services.close : async () => {},
  };
}

/** The CLI's dependencies for one command talking to `io`. */
async function cliDeps(
  io: CommandIo,
  openServices: () => Promise<CliServices>,
): Promise<CliDeps> {
  return {
    openServices,
    parse: parseLazily,
    classify: (await import("./src/domain/classifier.ts")).classify,
    readFile: io.readFile,
    print: io.print,
    say: io.say,
    write: io.write,
  };
}

/**
 * Serves the command socket of the embedded database this process owns: other processes' CLI
 * commands run here, on the same open database.
 */
function serveCommands(services: Services, dataDir: string, log: Logger): Promise<CommandSocket> {
  return serveCommandSocket({
    path: `${dataDir}/${SOCKET_FILE}`,
    run: async (request, remote) => {
      const io = remoteIo(remote, request.tty);
      log.info("command from the command socket", { command: request.args.slice(0, 2) });
      return await runCli(
        request.args,
        await cliDeps(io, () => Promise.resolve(cliServices(services, io, false))),
      );
    },
    onError: (error) => log.warn("command socket", { error: String(error) }),
  });
}

async function cli(args: string[]): Promise<number> {
  const log = createLogger({ quiet: true });
  const io = terminalIo();
  if (!needsDatabase(args)) {
    return await runCli(
      args,
      await cliDeps(io, () => Promise.reject(new Error("this command needs no database"))),
    );
  }
  const env = Deno.env.toObject();
  const config = configOrExit(log, env);
  const owner: Owner = { role: "cli", command: `deno task cli ${args.join(" ")}`.slice(0, 200) };
  const settings = config.database;
  if (settings.kind !== "pglite" || config.runtime.mode === "deploy") {
    return await runCli(
      args,
      await cliDeps(
        io,
        async () => cliServices(await compose(config, log, env, { owner }), io, true),
      ),
    );
  }
  // The embedded database has one owner: run there when there is one, else own it here.
  return await runOnEmbedded({
    forward: () =>
      forwardCommand(`${settings.dataDir}/${SOCKET_FILE}`, {
        args,
        tty: Deno.stderr.isTerminal(),
      }, {
        stdout: (text) => writeAll(Deno.stdout, text),
        stderr: (text) => writeAll(Deno.stderr, text),
        readLine: io.readLine,
        readFile: io.readFile,
      }),
    runHere: async () => {
      let services: Services;
      try {
        services = await compose(config, log, env, { owner });
      } catch (e) {
        if (e instanceof DataDirBusyError) throw e;
        io.say(`carteiro: ${e instanceof Error ? e.message : String(e)}`);
        return 1;
      }
      // Commands that other processes start meanwhile run here too, until this one is done.
      let commands: CommandSocket | null = null;
      try {
        commands = await serveCommands(services, settings.dataDir, log).catch((e) => {
          // The command runs all the same; others wait for the folder instead.
          log.warn("the command socket cannot be served", { error: String(e) });
          return null;
        });
        return await runCli(
          args,
          await cliDeps(io, () => Promise.resolve(cliServices(services, io, false))),
        );
      } finally {
        await commands?.close();
        await services.close();
      }
    },
    say: io.say,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => performance.now(),
    patienceMs: 180_000,
  });
}

/**
 * The cron and IDLE jobs in flight, so that a stop lets them finish (a send holds its row until
 * settled): `track` wraps a job; `finish` starts no new one from the moment it is called and
 * resolves when those running have settled.
 */
function jobsInFlight() {
  const running = new Set<Promise<unknown>>();
  let stopping = false;
  return {
    track: (job: () => Promise<unknown>) => async () => {
      if (stopping) return;
      const p = job();
      running.add(p);
      try {
        await p;
      } finally {
        running.delete(p);
      }
    },
    get stopping() {
      return stopping;
    },
    count: () => running.size,
    finish: async () => {
      stopping = true;
      await Promise.allSettled([...running]);
    },
  };
}

/**
 * `compose` for the service. On the embedded database the service must own the data folder: it
 * waits while a CLI command has it (a command ends), and exits 1 naming the holder when another
 * service does.
 */
async function composeService(
  config: Config,
  log: Logger,
  env: Record<string, string>,
  setupToken: string,
): Promise<Services> {
  let waiting = false;
  let seen = "";
  while (true) {
    try {
      return await compose(config, log, env, {
        owner: { role: "service", command: "deno task start" },
        setupToken,
      });
    } catch (e) {
      if (!(e instanceof DataDirBusyError)) throw e;
      const holder = describeHolder(e.holder);
      // A service is named twice in a row before this one gives up: the record read just as a
      // new owner took the lock may still be the previous owner's.
      if (e.holder?.role === "service" && holder === seen) {
        console.error(
          `carteiro: cannot start: the embedded database in ${e.dir} is in use by ${holder}. ` +
            "Stop that process first, or give this one another DATA_DIR.",
        );
        Deno.exit(1);
      }
      if (e.holder?.role === "cli" && !waiting) {
        waiting = true;
        console.error(`carteiro: waiting for ${holder} to finish with ${e.dir}`);
      }
      seen = holder;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function serve() {
  const log = createLogger();
  const env = Deno.env.toObject();
  const config = configOrExit(log, env);
  if (config.runtime.mode === "deploy") return serveOnDeploy(config, config.runtime, log, env);
  // The one-time setup link's secret, new at each start (routes/setup.tsx), printed below while
  // no user exists.
  const setupToken = newSecret();
  const services = await composeService(config, log, env, setupToken);
  const { db, app, collectOnce, sendOnce, startWatching, reportIdleHealth, close } = services;
  // On the embedded database, CLI commands run here, on this process's open database.
  let commands: CommandSocket | null = null;
  if (config.database.kind === "pglite") {
    try {
      commands = await serveCommands(services, config.database.dataDir, log);
    } catch (e) {
      console.error(`carteiro: cannot start: ${e instanceof Error ? e.message : String(e)}`);
      await services.close();
      Deno.exit(1);
    }
  }
  const jobs = jobsInFlight();
  const track = jobs.track;
  const send = track(async () => {
    const summary = await sendOnce();
    if (summary.claimed + summary.expired > 0) log.info("outbox drained", { ...summary });
  });
  // The minute cron stays the safety net under IMAP IDLE: nothing waits longer when IDLE is down.
  const watching = await startWatching();
  const idleReport = reportIdleHealth(watching);
  const collect = track(async () => {
    await watching.sync(await listAccounts(db));
    const summaries = await collectOnce();
    for (const s of summaries) {
      if (s.status !== "skipped") log.info("collected", { ...s, mailboxes: undefined });
    }
    // Replies enqueued by this collection go out now, not at the next tick.
    if (summaries.some((s) => s.parsed > 0)) await send();
  });
  Deno.cron("collect mail", "* * * * *", collect);
  Deno.cron("send replies", "* * * * *", send);
  // Mail that came while the service was down is collected now, not at the first tick.
  collect();
  const server = Deno.serve({
    hostname: config.http.hostname,
    port: config.http.port,
    onListen: ({ hostname, port }) =>
      log.info("listening", { url: `http://${hostname}:${port}/`, database: db.kind }),
  }, app.fetch);
  if (!config.account) {
    log.warn("no mailbox configured: set EMAIL_HOST, EMAIL_USER and EMAIL_PASS (see .env.example)");
  }
  const noKey = missingSecretKeyNotice(config.secretKey);
  if (noKey) log.warn(noKey);
  const hint = await firstStartHint(db, {
    hostname: config.http.hostname,
    port: server.addr.port,
    token: setupToken,
  });
  if (hint) console.error(hint);
  // SIGTERM from a service manager, SIGINT from Ctrl-C in a terminal: both stop cleanly.
  const stop = async () => {
    if (jobs.stopping) return;
    log.info("stopping: finishing the jobs in flight", { jobs: jobs.count() });
    const finished = jobs.finish(); // no new job from here on
    await idleReport.stop();
    await watching.stop();
    await server.shutdown();
    await commands?.close();
    await finished;
    await close();
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
}

/**
 * Deploy mode (Deno Deploy): isolates start on demand and end when idle, so nothing may count on
 * living between requests. No IMAP IDLE (no connection outlives a run), no file written (the
 * database is a PostgreSQL server), and collection and sending run only from the two crons, each
 * run bounded by JOB_SECONDS and resumed by the next. The crons are registered before anything
 * is awaited and before the server starts: Deno Deploy reads them while the module is evaluated.
 */
function serveOnDeploy(
  config: Config,
  runtime: Extract<Config["runtime"], { mode: "deploy" }>,
  log: Logger,
  env: Record<string, string>,
) {
  // Opened on first use and shared by requests and cron runs; a failed opening is retried.
  let opening: ReturnType<typeof compose> | null = null;
  const services = () => {
    opening ??= compose(config, log, env).catch((e) => {
      opening = null;
      throw e;
    });
    return opening;
  };
  const jobs = jobsInFlight();
  const track = jobs.track;
  // Each run fixes its deadline as it starts, before waiting for the database.
  const budget: RunBudget = {
    budgetMs: runtime.jobSeconds * 1000,
    now: () => new Date(),
    cancelled: () => jobs.stopping,
    log,
  };
  Deno.cron(
    "collect mail",
    "* * * * *",
    track(() =>
      collectWithin({
        ...budget,
        collect: async (shouldStop) => (await services()).collectOnce(shouldStop),
        drain: async (shouldStop) => (await services()).sendOnce(shouldStop),
      })
    ),
  );
  Deno.cron(
    "send replies",
    "* * * * *",
    track(() =>
      drainWithin({
        ...budget,
        drain: async (shouldStop) => (await services()).sendOnce(shouldStop),
      })
    ),
  );
  const server = Deno.serve({
    hostname: config.http.hostname,
    port: config.http.port,
    onListen: ({ hostname, port }) =>
      log.info("listening", { url: `http://${hostname}:${port}/`, database: "postgres" }),
  }, async (request, info) => {
    let app;
    try {
      app = (await services()).app;
    } catch (e) {
      log.error("the database cannot be opened", { error: e instanceof Error ? e.message : e });
      return new Response("Carteiro cannot reach its database right now; see the logs.", {
        status: 503,
        headers: { "Content-Type": "text/plain; charset=utf-8", "Retry-After": "30" },
      });
    }
    return app.fetch(request, info);
  });
  log.info("deploy mode: cron handlers only, no IMAP IDLE, no files written", {
    reason: runtime.reason,
    jobSeconds: runtime.jobSeconds,
  });
  if (env.DATA_DIR) log.warn("DATA_DIR is not used in deploy mode: the database is DATABASE_URL");
  if (!config.account) {
    log.warn("no mailbox configured: set EMAIL_HOST, EMAIL_USER and EMAIL_PASS (see .env.example)");
  }
  const noKey = missingSecretKeyNotice(config.secretKey);
  if (noKey) log.warn(noKey);
  // Opening now applies the migrations before the first request or cron run needs them.
  services().then(async ({ db }) => {
    // The command only, no setup link: the link's token would live in this isolate alone, and
    // Deno Deploy may answer it from another one, or end this one when idle.
    const hint = await firstStartHint(db);
    if (hint) {
      console.error(`${hint}\n(run it on any machine, with this deployment's DATABASE_URL)`);
    }
  }).catch((e) => {
    log.error("the database cannot be opened", { error: e instanceof Error ? e.message : e });
  });
  // Deno Deploy sends SIGINT before ending an isolate, and allows a few seconds: start nothing
  // new, let the send in hand settle its row, and close.
  const shutdown = async () => {
    if (jobs.stopping) return;
    log.info("stopping: finishing the jobs in flight", { jobs: jobs.count() });
    const finished = jobs.finish(); // no new job from here on
    await server.shutdown();
    await finished;
    await (await opening?.catch(() => null))?.close();
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, shutdown);
}

if (import.meta.main) {
  if (Deno.args[0] === "cli") {
    Deno.exit(await cli(Deno.args.slice(1)));
  } else {
    await serve();
  }
}
