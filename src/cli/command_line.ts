/**
 * The CLI over the services: one command run in this process, or in the process that owns the
 * embedded database (through its command socket), and the command socket that owner serves.
 */
import type { Config } from "../config.ts";
import { DataDirBusyError } from "../store/data_dir_lock.ts";
import { readStats } from "../store/stats.ts";
import type { Owner, Services } from "../services.ts";
import type { Logger } from "../log.ts";
import { tokenCreate } from "./admin_commands.ts";
import { userCommand } from "./user_commands.ts";
import { neverAnswerCommand } from "./never_answer_commands.ts";
import { rulesReplayCommand } from "./replay_commands.ts";
import { webhookCommand } from "./webhook_commands.ts";
import { accountCommand, breakersCommand } from "./limits_commands.ts";
import { retentionCommand } from "./retention_commands.ts";
import { exportCommand } from "./export_commands.ts";
import { type CliDeps, type CliServices, needsDatabase, runCli } from "./run_cli.ts";
import { type CommandSocket, serveCommandSocket } from "./command_socket_server.ts";
import { forwardCommand } from "./command_socket_client.ts";
import { createSecretBox } from "../auth/secret_box.ts";
import { SOCKET_FILE } from "./command_socket_protocol.ts";
import { runOnEmbedded } from "./embedded_access.ts";
import { type CommandIo, remoteIo, terminalIo, writeAll } from "./cli_io.ts";

/**
 * The CLI's database commands over opened services. `owned`: closing the command closes the
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
    replayRule: (args) =>
      rulesReplayCommand(
        { db: services.db, replayMessage: services.web.replayMessage },
        args,
        admin,
      ),
    dumpDatabase: services.dumpDatabase,
    stats: () => readStats(services.db, new Date()),
    user: (args) => userCommand(services.db, args, admin),
    tokenCreate: (args) => tokenCreate(services.db, args, admin),
    neverAnswer: (args) => neverAnswerCommand(services.db, args, admin),
    breakers: (args) => breakersCommand(services.db, args, admin),
    webhook: (args) =>
      webhookCommand(
        services.db,
        args,
        admin,
        () => services.deliverWebhooks(),
        services.web.webhookAllowPrivate,
      ),
    account: (args) =>
      accountCommand(services.db, args, admin, createSecretBox(services.web.secretKey)),
    retention: (args) => retentionCommand(services.db, args, admin),
    exportData: (args) =>
      exportCommand({ db: services.db, now: () => new Date() }, args, {
        say: io.say,
        print: io.print,
        createFile: io.createFile,
      }),
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
    parse: async (raw) => (await import("../mail/parse_message.ts")).parseMessage(raw),
    classify: (await import("../domain/classifier.ts")).classify,
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
export function serveCommands(
  services: Services,
  dataDir: string,
  log: Logger,
): Promise<CommandSocket> {
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

/** What a command needs from main.ts: the settings (read only when needed) and the opener. */
export interface CommandLineHost {
  config(): Config;
  open(config: Config, owner: Owner): Promise<Services>;
  log: Logger;
}

/** Runs one CLI command (`deno task cli ARGS`) where its data is; resolves to its exit code. */
export async function runCommandLine(args: string[], host: CommandLineHost): Promise<number> {
  const { log } = host;
  const io = terminalIo();
  if (!needsDatabase(args)) {
    return await runCli(
      args,
      await cliDeps(io, () => Promise.reject(new Error("this command needs no database"))),
    );
  }
  const config = host.config();
  const owner: Owner = { role: "cli", command: `deno task cli ${args.join(" ")}`.slice(0, 200) };
  const settings = config.database;
  if (settings.kind !== "pglite" || config.runtime.mode === "deploy") {
    return await runCli(
      args,
      await cliDeps(io, async () => cliServices(await host.open(config, owner), io, true)),
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
        createFile: io.createFile,
      }),
    runHere: async () => {
      let services: Services;
      try {
        services = await host.open(config, owner);
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
