/**
 * Carteiro's entry point: the only module that reads the environment, registers `Deno.cron` jobs,
 * serves HTTP and listens for signals. The wiring is src/services.ts; the service's life (crons,
 * server, clean stop) is src/service_runtime.ts; the CLI is src/cli/command_line.ts.
 *
 *   deno task start        the service (web admin, collection every minute)
 *   deno task cli ...      one command (see src/cli/run_cli.ts)
 */
import { type Config, loadConfig } from "./src/config.ts";
import { killAt, openServices, type Owner } from "./src/services.ts";
import { runOnDeploy, runServer, type ServiceHost } from "./src/service_runtime.ts";
import { runCommandLine } from "./src/cli/command_line.ts";
import { createLogger, type Logger } from "./src/log.ts";
import { createApp } from "./routes/app.ts";

/**
 * Opens the services and builds the web admin over them. Exported for the tests that run the
 * service's own wiring in process (the deploy-mode cron handlers with a small budget).
 * `setupToken`: the secret of the one-time setup link (routes/setup.tsx), made by the service at
 * each start; none for the CLI.
 */
export async function compose(
  config: Config,
  log: Logger,
  env: Record<string, string>,
  options: { owner?: Owner; setupToken?: string } = {},
) {
  const services = await openServices(config, log, {
    owner: options.owner,
    checkpoint: killAt(env.CARTEIRO_KILL_AT),
  });
  const app = createApp(
    { ...services.web, setupToken: options.setupToken ?? null },
    (error, id) => log.error("http error", { id, error: String(error) }),
  );
  return { ...services, app };
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

/** The runtime's crons, HTTP server, stop signals and exit, lent to src/service_runtime.ts. */
const host: ServiceHost = {
  cron: (name, schedule, handler) => Deno.cron(name, schedule, handler),
  serve: (options, handler) => Deno.serve(options, handler),
  onStopSignal: (stop) => {
    // SIGTERM from a service manager, SIGINT from Ctrl-C or from Deno Deploy ending an isolate.
    for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
  },
  exit: (code) => Deno.exit(code),
};

function serve() {
  const log = createLogger();
  const env = Deno.env.toObject();
  const config = configOrExit(log, env);
  if (config.runtime.mode === "deploy") {
    runOnDeploy(host, config, config.runtime, log, () => compose(config, log, env));
    if (env.DATA_DIR) log.warn("DATA_DIR is not used in deploy mode: the database is DATABASE_URL");
    return;
  }
  return runServer(host, config, log, (setupToken) => compose(config, log, env, { setupToken }));
}

function cli(args: string[]): Promise<number> {
  const log = createLogger({ quiet: true });
  const env = Deno.env.toObject();
  return runCommandLine(args, {
    config: () => configOrExit(log, env),
    open: (config, owner) =>
      openServices(config, log, { owner, checkpoint: killAt(env.CARTEIRO_KILL_AT) }),
    log,
  });
}

if (import.meta.main) {
  if (Deno.args[0] === "cli") {
    Deno.exit(await cli(Deno.args.slice(1)));
  } else {
    await serve();
  }
}
