/**
 * The service's life, on a server and on Deno Deploy: the two minute crons and the daily purge
 * (docs/retention.md), the HTTP server, and
 * a clean stop on SIGINT or SIGTERM that lets the jobs in flight finish (a send holds its row until
 * settled). main.ts hands over `Deno.cron`, `Deno.serve` and the signals as a `ServiceHost`: it
 * stays the only module that touches them.
 */
import type { Config } from "./config.ts";
import { listAccounts } from "./store/accounts.ts";
import { DataDirBusyError, describeHolder } from "./store/data_dir_lock.ts";
import { newSecret } from "./auth/tokens.ts";
import { missingGcNotice, missingSecretKeyNotice } from "./admin/startup_notices.ts";
import { exposedGc } from "./external_memory_guard.ts";
import { firstStartHint } from "./cli/admin_commands.ts";
import { serveCommands } from "./cli/command_line.ts";
import type { CommandSocket } from "./cli/command_socket_server.ts";
import { collectWithin, drainWithin, type RunBudget } from "./jobs/bounded_run.ts";
import type { Services } from "./services.ts";
import type { PurgeReport } from "./jobs/retention_purge.ts";
import type { Logger } from "./log.ts";

/** One HTTP request's handler, as `Deno.serve` calls it. */
export type HttpHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** What main.ts lends the service: the runtime's crons, HTTP server, stop signals and exit. */
export interface ServiceHost {
  cron(name: string, schedule: string, handler: () => Promise<void>): void;
  serve(
    options: { hostname: string; port: number; onListen(addr: Deno.NetAddr): void },
    handler: HttpHandler,
  ): { addr: Deno.NetAddr; shutdown(): Promise<void> };
  /** Calls `stop` on SIGINT and SIGTERM. */
  onStopSignal(stop: () => void): void;
  exit(code: number): never;
}

/** The services with the web admin built over them (main.ts `compose`). */
export type ComposedServices = Services & { app: { fetch: HttpHandler } };

/** Opens the services; on a server, with the one-time setup link's secret. */
export type ServiceOpener = (setupToken?: string) => Promise<ComposedServices>;

/**
 * The cron and IDLE jobs in flight, so that a stop lets them finish: `track` wraps a job;
 * `finish` starts no new one from the moment it is called and resolves when those running have
 * settled.
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

type Jobs = ReturnType<typeof jobsInFlight>;

/** What differs between the server and deploy mode; the rest `startService` does for both. */
interface ServiceParts {
  jobs: Jobs;
  /** The two minute jobs, tracked. */
  collect: () => Promise<void>;
  send: () => Promise<void>;
  /** The daily retention purge, tracked. */
  purge: () => Promise<void>;
  fetch: HttpHandler;
  /** Named in the "listening" line. */
  database: string;
  /** Run in order once no new job starts, before the HTTP server shuts. */
  beforeShutdown: Array<() => Promise<void>>;
  close: () => Promise<void>;
}

/**
 * Registers the two crons, serves HTTP and stops cleanly on a signal: no new job from then on,
 * the HTTP server shut, the jobs in hand settled, the services closed, exit 0.
 */
function startService(host: ServiceHost, config: Config, log: Logger, parts: ServiceParts) {
  host.cron("collect mail", "* * * * *", parts.collect);
  host.cron("send replies", "* * * * *", parts.send);
  // Daily, at a quiet hour (UTC); one instance purges, the others find its lock and skip.
  host.cron("purge expired data", "17 3 * * *", parts.purge);
  const server = host.serve({
    hostname: config.http.hostname,
    port: config.http.port,
    onListen: ({ hostname, port }) =>
      log.info("listening", { url: `http://${hostname}:${port}/`, database: parts.database }),
  }, parts.fetch);
  host.onStopSignal(async () => {
    const { jobs } = parts;
    if (jobs.stopping) return;
    log.info("stopping: finishing the jobs in flight", { jobs: jobs.count() });
    const finished = jobs.finish(); // no new job from here on
    for (const stop of parts.beforeShutdown) await stop();
    await server.shutdown();
    await finished;
    await parts.close();
    host.exit(0);
  });
  if (!config.account) {
    log.warn("no mailbox configured: set EMAIL_HOST, EMAIL_USER and EMAIL_PASS (see .env.example)");
  }
  const noKey = missingSecretKeyNotice(config.secretKey);
  if (noKey) log.warn(noKey);
  return server;
}

/** Runs one purge and logs what it removed (a failure is logged; the next day's run tries again). */
async function purgeLogged(run: () => Promise<PurgeReport>, log: Logger): Promise<void> {
  try {
    const report = await run();
    if (!report.skipped) log.info("purged expired data", { ...report.totals });
  } catch (e) {
    log.error("the purge failed", { error: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * The service on a server: cron, IMAP IDLE and the web admin over one open database; on the
 * embedded database it also serves the command socket, so CLI commands run here.
 */
export async function runServer(
  host: ServiceHost,
  config: Config,
  log: Logger,
  open: ServiceOpener,
): Promise<void> {
  // The one-time setup link's secret, new at each start (routes/setup.tsx), printed below while
  // no user exists.
  const setupToken = newSecret();
  const services = await openAsOwner(host, open, setupToken);
  const { db, app, collectOnce, sendOnce, purgeOnce, startWatching, reportIdleHealth, close } =
    services;
  const { deliverWebhooks } = services;
  let commands: CommandSocket | null = null;
  if (config.database.kind === "pglite") {
    try {
      commands = await serveCommands(services, config.database.dataDir, log);
    } catch (e) {
      console.error(`carteiro: cannot start: ${e instanceof Error ? e.message : String(e)}`);
      await services.close();
      host.exit(1);
    }
  }
  const jobs = jobsInFlight();
  const send = jobs.track(async () => {
    const summary = await sendOnce();
    if (summary.claimed + summary.expired > 0) log.info("outbox drained", { ...summary });
  });
  // Webhook events go out within seconds of their change, on a short loop beside the crons.
  const webhooks = jobs.track(async () => {
    const summary = await deliverWebhooks(() => jobs.stopping);
    if (summary.claimed + summary.expired > 0) log.info("webhooks delivered", { ...summary });
  });
  const webhookLoop = repeatEvery(WEBHOOK_POLL_MS, async () => {
    try {
      await webhooks();
    } catch (e) {
      log.error("webhook delivery failed", { error: e instanceof Error ? e.message : String(e) });
    }
  });
  // The minute cron stays the safety net under IMAP IDLE: nothing waits longer when IDLE is down.
  const watching = await startWatching();
  const idleReport = reportIdleHealth(watching);
  const collect = jobs.track(async () => {
    await watching.sync(await listAccounts(db));
    const summaries = await collectOnce();
    for (const s of summaries) {
      if (s.status !== "skipped") log.info("collected", { ...s, mailboxes: undefined });
    }
    // Replies enqueued by this collection go out now, not at the next tick.
    if (summaries.some((s) => s.parsed > 0)) await send();
  });
  const server = startService(host, config, log, {
    jobs,
    collect,
    send,
    purge: jobs.track(() => purgeLogged(() => purgeOnce({ dryRun: false, by: "cron" }), log)),
    fetch: app.fetch,
    database: db.kind,
    beforeShutdown: [
      () => webhookLoop.stop(),
      () => idleReport.stop(),
      () => watching.stop(),
      async () => await commands?.close(),
    ],
    close,
  });
  const noGc = missingGcNotice(exposedGc() !== null);
  if (noGc) log.warn(noGc);
  // Mail that came while the service was down is collected now, not at the first tick.
  collect();
  const hint = await firstStartHint(db, {
    hostname: config.http.hostname,
    port: server.addr.port,
    token: setupToken,
  });
  if (hint) console.error(hint);
}

/** How often the server looks for webhook deliveries due. */
const WEBHOOK_POLL_MS = 2_000;

/**
 * Runs `tick` now and then `ms` after each run ends (never two at once) until `stop`, which
 * resolves once the run in hand has ended.
 */
function repeatEvery(ms: number, tick: () => Promise<void>) {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<void> = Promise.resolve();
  const run = () => {
    current = tick().finally(() => {
      if (!stopped) timer = setTimeout(run, ms);
    });
  };
  run();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}

/**
 * Opens the services as the owner of the embedded database: waits while a CLI command has it (a
 * command ends), and exits 1 naming the holder when another service does.
 */
async function openAsOwner(
  host: ServiceHost,
  open: ServiceOpener,
  setupToken: string,
): Promise<ComposedServices> {
  let waiting = false;
  let seen = "";
  while (true) {
    try {
      return await open(setupToken);
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
        host.exit(1);
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

/**
 * Deploy mode (Deno Deploy): isolates start on demand and end when idle, so nothing may count on
 * living between requests. No IMAP IDLE (no connection outlives a run), no file written (the
 * database is a PostgreSQL server), and collection and sending run only from the two crons, each
 * run bounded by JOB_SECONDS and resumed by the next. The crons are registered before anything
 * is awaited and before the server starts: Deno Deploy reads them while the module is evaluated.
 */
export function runOnDeploy(
  host: ServiceHost,
  config: Config,
  runtime: Extract<Config["runtime"], { mode: "deploy" }>,
  log: Logger,
  open: ServiceOpener,
): void {
  // Opened on first use and shared by requests and cron runs; a failed opening is retried.
  let opening: Promise<ComposedServices> | null = null;
  const services = () => {
    opening ??= open().catch((e) => {
      opening = null;
      throw e;
    });
    return opening;
  };
  const jobs = jobsInFlight();
  // Each run fixes its deadline as it starts, before waiting for the database.
  const budget: RunBudget = {
    budgetMs: runtime.jobSeconds * 1000,
    now: () => new Date(),
    cancelled: () => jobs.stopping,
    log,
  };
  // The send cron delivers the webhook events due as well, in what its budget leaves.
  const drain = async (shouldStop: () => boolean) => {
    const opened = await services();
    const summary = await opened.sendOnce(shouldStop);
    await opened.deliverWebhooks(shouldStop);
    return summary;
  };
  startService(host, config, log, {
    jobs,
    collect: jobs.track(() =>
      collectWithin({
        ...budget,
        collect: async (shouldStop) => (await services()).collectOnce(shouldStop),
        drain,
      })
    ),
    send: jobs.track(() => drainWithin({ ...budget, drain })),
    purge: jobs.track(() =>
      purgeLogged(async () => (await services()).purgeOnce({ dryRun: false, by: "cron" }), log)
    ),
    fetch: async (request, info) => {
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
    },
    database: "postgres",
    // Deno Deploy sends SIGINT before ending an isolate, and allows a few seconds: start nothing
    // new, let the send in hand settle its row, and close.
    beforeShutdown: [],
    close: async () => await (await opening?.catch(() => null))?.close(),
  });
  log.info("deploy mode: cron handlers only, no IMAP IDLE, no files written", {
    reason: runtime.reason,
    jobSeconds: runtime.jobSeconds,
  });
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
}
