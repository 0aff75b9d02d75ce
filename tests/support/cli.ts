/** Runs `main.ts cli …` as its own process, as a user would, with the given environment. */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

export interface CliRun {
  code: number;
  /** stdout, one parsed JSON document per line. */
  docs: unknown[];
  stderr: string;
}

export function cliCommand(args: string[], env: Record<string, string>): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "cli", ...args],
    env: { ...env, NO_COLOR: "1" },
    clearEnv: false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

export async function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const out = await cliCommand(args, env).output();
  const text = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  let docs: unknown[];
  try {
    docs = text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  } catch (cause) {
    throw new Error(`cli ${args.join(" ")} printed a line that is not JSON:\n${text}\n${stderr}`, {
      cause,
    });
  }
  return { code: out.code, docs, stderr };
}
