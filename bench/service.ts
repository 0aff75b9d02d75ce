/**
 * Carteiro's collect → reply → send path composed in-process the way main.ts composes it, for
 * the latency benchmark: collection woken by IMAP IDLE (src/jobs/idle_watch.ts) with the minute
 * cron beside it, or the minute cron alone.
 */
import type { Db } from "../src/store/db.ts";
import { openPostgres } from "../src/store/postgres_db.ts";
import { migrate, readMigrations } from "../src/store/migrate.ts";
import { type AccountRow, listAccounts, upsertEnvAccount } from "../src/store/accounts.ts";
import { replaceRules } from "../src/store/rule_set.ts";
import { parseRules } from "../src/domain/rules.ts";
import { DEFAULT_RATE_LIMIT_POLICY, type RateLimitPolicy } from "../src/domain/rate_limit.ts";
import { connectImap } from "../src/mail/imap_reader.ts";
import type { ImapConnection } from "../src/mail/account_access.ts";
import { analyzeMessage } from "../src/mail/analyze.ts";
import { createSmtpSender, type SmtpSender } from "../src/mail/smtp_sender.ts";
import { connectIdleSession, startIdleWatcher } from "../src/mail/imap_idle.ts";
import { collectAccount, type CollectDeps } from "../src/jobs/collect_account.ts";
import { processPending } from "../src/jobs/process_messages.ts";
import { replyBatchStep } from "../src/jobs/reply_step.ts";
import { drainOutbox } from "../src/jobs/send_outbox.ts";
import { type IdleWatchHandle, startIdleWatch } from "../src/jobs/idle_watch.ts";
import { createLogger } from "../src/log.ts";

export const ACK_RULE = {
  name: "ack-direct",
  enabled: true,
  when: { kind: "direct" },
  reply: {
    to: "sender",
    subject: "Re: {{subject}}",
    text: "Olá {{from_name}}, recebemos sua mensagem.",
    html: "<p>Olá {{from_name}}, recebemos sua mensagem.</p>",
  },
};

/**
 * The per-account breakers (30 replies in 10 minutes, 200 an hour) would stop a 200-message
 * run; the per-recipient window stays (every benchmark message comes from its own sender).
 */
const BENCH_POLICY: RateLimitPolicy = { ...DEFAULT_RATE_LIMIT_POLICY, breakers: [] };

export interface BenchService {
  /** IDLE health of the account (IDLE mode only). */
  health(): unknown;
  stop(): Promise<void>;
}

export interface BenchServiceOptions {
  box: { user: string; pass: string; address: string };
  databaseUrl: string;
  mode: "idle" | "cron";
  /** The cron's period; 60 s like `Deno.cron("* * * * *")`. */
  cronPeriodMs?: number;
}

export async function startBenchService(o: BenchServiceOptions): Promise<BenchService> {
  const log = createLogger({ quiet: true });
  const db: Db = openPostgres({ url: o.databaseUrl, max: 6 });
  await migrate(db, await readMigrations());
  const imap: ImapConnection = {
    host: "127.0.0.1",
    port: 1143,
    secure: false,
    user: o.box.user,
    pass: o.box.pass,
  };
  await upsertEnvAccount(db, {
    name: "bench",
    address: o.box.address,
    imapHost: imap.host,
    imapPort: imap.port,
    imapTls: "starttls",
    imapUser: imap.user,
    mailboxes: ["INBOX"],
  });
  const parsedRules = parseRules([ACK_RULE]);
  if (!parsedRules.ok) throw new Error(parsedRules.errors.join("; "));
  await replaceRules(db, parsedRules.rules, new Date());
  const now = () => new Date();
  const afterClassified = replyBatchStep({
    policy: BENCH_POLICY,
    sendDeadlineMs: 24 * 3_600_000,
    accountContext: async (q, accountId) => {
      const a = (await listAccounts(q)).find((x) => x.id === accountId)!;
      return {
        id: a.id,
        name: a.name,
        addresses: [a.address],
        connectedAt: a.connectedAt,
        messageIdDomain: a.address.split("@")[1],
      };
    },
    ownAddresses: async (q) => (await listAccounts(q)).map((a) => a.address),
  });
  const collectDeps: CollectDeps = {
    db,
    now,
    log,
    connect: () => connectImap(imap),
    processPending: (accountId, arrived) =>
      processPending({ db, analyze: analyzeMessage, now, afterClassified }, accountId, arrived),
  };
  let smtp: SmtpSender | null = null;
  const drain = () =>
    drainOutbox({
      db,
      now,
      log,
      newToken: () => crypto.randomUUID(),
      leaseMs: 300_000,
      retryBaseMs: 1_000,
      senderFor: () =>
        Promise.resolve(
          smtp ??= createSmtpSender({
            host: "127.0.0.1",
            port: 1025,
            secure: false,
            requireTls: false,
            user: null,
            pass: null,
          }),
        ),
    });
  const accounts: AccountRow[] = await listAccounts(db);
  // The first collection connects the account, as at a first start.
  for (const a of accounts) await collectAccount(collectDeps, a);

  // The minute cron, as serve() registers it: collect every account, then drain the outbox.
  let cronRun: Promise<void> | null = null;
  const cronTick = () => {
    cronRun ??= (async () => {
      await Promise.all(accounts.map((a) => collectAccount(collectDeps, a)));
      await drain();
    })().finally(() => (cronRun = null));
  };
  const cron = setInterval(cronTick, o.cronPeriodMs ?? 60_000);

  let watch: IdleWatchHandle | null = null;
  if (o.mode === "idle") {
    watch = startIdleWatch({
      collect: (a) => collectAccount(collectDeps, a),
      drain,
      watch: (_a, mailbox, onNewMail) =>
        startIdleWatcher({ connect: () => connectIdleSession(imap), onNewMail, mailbox, log }),
      log,
    }, accounts);
    const started = performance.now();
    while (watch.health()[0]?.watchers[0]?.state !== "idle") {
      if (performance.now() - started > 10_000) {
        throw new Error(`IDLE did not start: ${JSON.stringify(watch.health())}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    health: () => watch?.health(),
    stop: async () => {
      clearInterval(cron);
      await watch?.stop();
      await cronRun;
      smtp?.close();
      await db.close();
    },
  };
}
