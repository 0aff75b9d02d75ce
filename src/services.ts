/**
 * The one composition: from a Config, the database (migrated), the secret box, the ingest chain,
 * the SMTP senders, the outbox drain, the IMAP IDLE watchers and what the web admin needs. The
 * service, deploy mode and the CLI all open their services here; main.ts adds the environment,
 * the crons and the HTTP server.
 */
import type { Config, DatabaseSettings } from "./config.ts";
import type { Db, Queryable } from "./store/db.ts";
import { openPostgres } from "./store/postgres_db.ts";
import { openPglite } from "./store/pglite_db.ts";
import type { DataDirHolder } from "./store/data_dir_lock.ts";
import { migrate, readMigrations } from "./store/migrate.ts";
import { listAccounts, upsertEnvAccount } from "./store/accounts.ts";
import { deleteIdleHealth, writeIdleHealth, writeProgress } from "./store/account_health.ts";
import {
  forgetOtherIdleLeases,
  heartbeatIdleLeases,
  releaseIdleLeases,
} from "./store/idle_leases.ts";
import { loadRules } from "./store/rule_set.ts";
import { createSecretBox, type SecretBox } from "./auth/secret_box.ts";
import { createOAuthClient } from "./auth/oauth_client.ts";
import { oauthAccessToken, type OAuthDeps } from "./actions/oauth.ts";
import { readAccountContext } from "./jobs/account_context.ts";
import { rulesImport } from "./cli/admin_commands.ts";
import { rememberedHolidays } from "./domain/schedule.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "./domain/rate_limit.ts";
import { smtpConnections } from "./domain/send_budget.ts";
import { exportRules } from "./domain/rules.ts";
import {
  type AccountAccess,
  type AccountTarget,
  accountTarget,
  connectWithLogin,
  smtpLogin,
} from "./mail/account_access.ts";
import { type MailTarget, testMailConnection } from "./mail/connection_test.ts";
import { connectIdleSession, startIdleWatcher } from "./mail/imap_idle.ts";
import { createSmtpSender, type SmtpSender } from "./mail/smtp_sender.ts";
import { ingestChain, startAnalyzer } from "./jobs/ingest.ts";
import { throttleProgress } from "./jobs/collect_progress.ts";
import { type IdleWatchHandle, startIdleWatch } from "./jobs/idle_watch.ts";
import { startIdleHealthReport } from "./jobs/idle_health_report.ts";
import { drainOutbox, type SendStep } from "./jobs/send_outbox.ts";
import { copySentReplies, type CopyStep } from "./jobs/copy_sent.ts";
import { copyToSent } from "./mail/sent_copy.ts";
import { replayStep, replyStep } from "./jobs/reply_step.ts";
import { drainWebhooks, type WebhookStep } from "./jobs/deliver_webhooks.ts";
import { postWebhook } from "./jobs/webhook_post.ts";
import { rerunRules } from "./jobs/rerun_rules.ts";
import { purgeExpired } from "./jobs/retention_purge.ts";
import type { Logger } from "./log.ts";

/** Who opens the embedded database: named in the data folder's lock for a second process. */
export type Owner = Pick<DataDirHolder, "role" | "command">;

export interface ServiceOptions {
  /** Default: the service (`deno task start`). */
  owner?: Owner;
  /** Told of each step a send or a Sent copy reaches (fault injection for exactly-once tests). */
  checkpoint?: (step: SendStep | CopyStep | WebhookStep) => void;
}

/** What `openServices` wires. */
export type Services = Awaited<ReturnType<typeof openServices>>;

/** The parser for a message whose classification a person corrected, loaded on first use. */
const parseLazily = async (raw: Uint8Array) =>
  (await import("./mail/parse_message.ts")).parseMessage(raw);

/**
 * Opens the database, applies migrations and wires the jobs. On the embedded database this
 * process becomes the data folder's owner, named as `owner`; it rejects with `DataDirBusyError`
 * when another process is.
 */
export async function openServices(config: Config, log: Logger, options: ServiceOptions = {}) {
  const owner = options.owner ?? { role: "service", command: "deno task start" };
  const { db, dump } = await openDatabase(config.database, owner);
  await migrate(db, await readMigrations());
  const now = () => new Date();
  const secrets = createSecretBox(config.secretKey);
  const oauthClient = createOAuthClient(config.oauth);
  const oauthDeps: OAuthDeps = { db, now, box: secrets, client: oauthClient };
  const access: AccountAccess = {
    db,
    secrets,
    envAccount: await envAccount(db, config),
    oauth: {
      provider: (id) => oauthClient.provider(id),
      accessToken: (accountId, force) => oauthAccessToken(oauthDeps, accountId, force),
    },
  };

  // Schedules without a zone, and dates in replies, use the server's zone (TZ).
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const accountContext = (q: Queryable, accountId: number) =>
    readAccountContext(q, accountId, timeZone);
  const ownAddresses = async (q: Queryable) => (await listAccounts(q)).map((a) => a.address);
  const replyDeps = {
    policy: DEFAULT_RATE_LIMIT_POLICY,
    sendDeadlineMs: config.send.deadlineHours * 3_600_000,
    accountContext,
    ownAddresses,
    holidays: rememberedHolidays(),
  };

  // Parsing and classifying run on worker threads on a server, on the collecting thread in
  // deploy mode or with PARSE_WORKERS=0.
  const analyzer = startAnalyzer(
    config.runtime.mode === "deploy"
      ? 0
      : config.parseWorkers ?? Math.max(1, navigator.hardwareConcurrency - 1),
  );
  // Shown by `stats` and the accounts page while a collection runs; its end deletes the row.
  const saveProgress = throttleProgress((p) => writeProgress(db, p, now()), { now });
  const ingest = ingestChain({
    db,
    now,
    log,
    batchMessages: config.collectBatch,
    imapLogin: (account, connect) => connectWithLogin(access, account, connect),
    analyze: analyzer.analyze,
    reply: replyDeps,
    saveProgress,
  });

  // One pooled SMTP transport per account, opened on first use, with a connection for each
  // reply the drain sends in parallel up to what the account's provider takes (the others go out
  // back to back on them). The promise is kept, so parallel sends share one pool.
  const senders = new Map<number, Promise<SmtpSender>>();
  const senderFor = (accountId: number): Promise<SmtpSender> => {
    const open = senders.get(accountId);
    if (open) return open;
    const sender = smtpLogin(access, accountId).then((conn) =>
      createSmtpSender({
        ...conn,
        maxConnections: smtpConnections(config.send.parallel, conn.host),
      })
    );
    senders.set(accountId, sender);
    // A failed login is not kept: the next send asks again.
    sender.catch(() => senders.get(accountId) === sender && senders.delete(accountId));
    return sender;
  };
  /**
   * Drains the outbox, then appends the copies owed to the Sent mailboxes. `shouldStop`, when
   * given, is asked before each claim (a time-bounded cron handler).
   */
  const sendOnce = async (shouldStop?: () => boolean) => {
    const summary = await drainOutbox({
      shouldStop,
      db,
      now,
      log,
      newToken: () => crypto.randomUUID(),
      leaseMs: config.send.leaseSeconds * 1000,
      retryBaseMs: config.send.retrySeconds * 1000,
      senderFor,
      checkpoint: options.checkpoint,
      // The environment's account keeps its SMTP host in the environment, not in its row.
      smtpHostOf: (accountId, stored) =>
        accountId === access.envAccount?.id ? access.envAccount.smtp.host : stored,
      authRecheckMs: config.send.authRecheckMinutes * 60_000,
      parallel: config.send.parallel,
      forgetSender: (accountId) => {
        senders.get(accountId)?.then((s) => s.close(), () => {});
        senders.delete(accountId);
      },
    });
    const sentCopies = await copySentReplies({
      shouldStop,
      db,
      now,
      log,
      newToken: () => crypto.randomUUID(),
      leaseMs: config.send.leaseSeconds * 1000,
      retryBaseMs: config.send.retrySeconds * 1000,
      copy: async (accountId, request) => {
        const account = (await listAccounts(db)).find((a) => a.id === accountId);
        if (!account) throw new Error(`account ${accountId} is gone`);
        return await connectWithLogin(access, account, (conn) => copyToSent(conn, request));
      },
      checkpoint: options.checkpoint,
    });
    return { ...summary, sentCopies };
  };

  /**
   * Delivers the webhook events due now. `shouldStop`, when given, is asked before each claim.
   * A request waits at most WEBHOOK_TIMEOUT_SECONDS; a claim's lease outlasts two of them.
   */
  const deliverWebhooks = (shouldStop?: () => boolean) =>
    drainWebhooks({
      shouldStop,
      db,
      now,
      log,
      newToken: () => crypto.randomUUID(),
      leaseMs: (config.webhooks.timeoutSeconds * 2 + 5) * 1000,
      retryBaseMs: config.webhooks.retrySeconds * 1000,
      post: (request) =>
        postWebhook(request, {
          allowPrivate: config.webhooks.allowPrivate,
          timeoutMs: config.webhooks.timeoutSeconds * 1000,
        }),
      checkpoint: options.checkpoint,
    });

  const importRules = (json: unknown) => rulesImport(db, json, now);

  /** This instance, as its IDLE leases and reports name it. */
  const instance = `${Deno.hostname()}:${Deno.pid}`;

  /**
   * IMAP IDLE on every mailbox of every account, one connection per mailbox across instances (the
   * leases): collection and the outbox run within a second of new mail.
   */
  const startWatching = async () => {
    // The embedded database has one owner: leases of any other holder are a dead predecessor's.
    if (db.kind === "pglite") await forgetOtherIdleLeases(db, instance);
    return startIdleWatch({
      collect: ingest.collectAccount,
      drain: sendOnce,
      watch: (account, mailbox, onNewMail) =>
        startIdleWatcher({
          connect: () => connectWithLogin(access, account, connectIdleSession),
          onNewMail,
          mailbox,
          log,
        }),
      leases: {
        heartbeat: (wanted) => heartbeatIdleLeases(db, instance, wanted),
        release: () => releaseIdleLeases(db, instance),
      },
      log,
    }, await listAccounts(db));
  };

  /** Keeps this instance's IMAP IDLE state in the database for other processes to read. */
  const reportIdleHealth = (watching: IdleWatchHandle) => {
    return startIdleHealthReport({
      health: () => watching.health(),
      write: (reports, at) => writeIdleHealth(db, instance, reports, at),
      remove: () => deleteIdleHealth(db, instance),
      now,
      log,
    });
  };

  /** What the web admin needs besides its setup link (routes/deps.ts `AppDeps`). */
  const web = {
    db,
    now,
    secretKey: config.secretKey,
    secureCookies: config.http.secureCookies,
    accountContext: (accountId: number) => accountContext(db, accountId),
    ownAddresses: () => ownAddresses(db),
    webhookAllowPrivate: config.webhooks.allowPrivate,
    envSmtpHost: access.envAccount
      ? { accountId: access.envAccount.id, host: access.envAccount.smtp.host }
      : null,
    connectionTarget: (accountId: number, box: SecretBox): Promise<AccountTarget | null> =>
      accountTarget({ ...access, secrets: box }, accountId),
    /** IMAP login and INBOX, reported as a category; private targets only when allowed. */
    testConnection: (t: { imap: MailTarget }) =>
      testMailConnection(t.imap, {
        allowPrivateHosts: config.allowPrivateHosts,
        timeoutMs: 15_000,
      }),
    rerunRules: (tx: Queryable, messageId: number, at: Date) =>
      rerunRules({ parse: parseLazily, replyStep: replyStep(replyDeps) }, tx, messageId, at),
    /** A replay's reply step over a stored message (src/actions/rule_replay.ts). */
    replayMessage: replayStep(replyDeps),
    trustedProxies: config.http.trustedProxies,
    /** Dates on pages are in the viewer's zone; before the browser has told it, in this one. */
    timeZone,
    /** Connect / Reconnect with the OAuth providers configured; absent when there are none. */
    oauth: config.oauth.providers.length > 0 ? oauthClient : undefined,
  };

  return {
    db,
    web,
    startWatching,
    reportIdleHealth,
    collectOnce: ingest.collectAll,
    sendOnce,
    /** The retention purge (src/jobs/retention_purge.ts): daily from the cron, or asked for. */
    purgeOnce: (options: { dryRun: boolean; by: string }) => purgeExpired({ db, now }, options),
    deliverWebhooks,
    importRules,
    exportRules: async () => exportRules(await loadRules(db)),
    /** The embedded database as SQL (`cli db dump`); null on a PostgreSQL server. */
    dumpDatabase: async () => dump ? await dump() : null,
    close: async () => {
      for (const s of senders.values()) s.then((open) => open.close(), () => {});
      analyzer.close();
      await db.close();
    },
  };
}

/** The account the environment describes, saved as a row so messages can point at it. */
async function envAccount(db: Db, config: Config): Promise<AccountAccess["envAccount"]> {
  if (!config.account) return null;
  const { id } = await upsertEnvAccount(db, {
    name: config.account.name,
    address: config.account.address,
    imapHost: config.account.imap.host,
    imapPort: config.account.imap.port,
    imapTls: config.account.imap.secure
      ? "tls"
      : config.account.imap.startTls
      ? "starttls"
      : "plain",
    imapUser: config.account.imap.user,
    mailboxes: config.account.mailboxes,
    afterProcessing: config.account.afterProcessing,
    afterFolder: config.account.afterFolder,
    imapConnectionCap: config.account.imapConnectionCap,
    maxMessageBytes: config.account.maxMessageBytes,
  });
  return { id, imap: config.account.imap, smtp: config.account.smtp };
}

/** The database, and the dump of it when it is the embedded one. */
async function openDatabase(
  settings: DatabaseSettings,
  owner: Owner,
): Promise<{ db: Db; dump: (() => Promise<string>) | null }> {
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
export function killAt(step: string | undefined): ServiceOptions["checkpoint"] {
  if (!step) return undefined;
  return (reached) => {
    if (reached === step) Deno.kill(Deno.pid, "SIGKILL");
  };
}
