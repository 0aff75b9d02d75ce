/**
 * The first start as a person meets it, in real Chromium: the service (`main.ts`, its own
 * process, on a fresh embedded database, no mailbox) prints a setup link on stderr; opening it,
 * filling the form and submitting lands on the admin logged in; the same link then says setup is
 * done and points to the login page.
 */
import assert from "node:assert/strict";
import { launchChromium } from "./support.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** Ceiling for each wait: generous, for a busy machine; nothing here measures speed. */
const WAIT_MS = 60_000;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Service {
  /** Everything the process printed so far, stdout and stderr. */
  logs(): string;
  exited(): Deno.CommandStatus | null;
  /** SIGTERM, then waits for the exit and the end of its output. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts `main.ts` as `deno task start` would, minus `.env`: only the settings given here. */
function startService(dataDir: string, port: number): Service {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-cron", MAIN],
    cwd: ROOT,
    env: {
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: String(port),
      NO_COLOR: "1",
      // Inherited values must not choose for the test: no mailbox, no server, server mode.
      EMAIL_HOST: "",
      EMAIL_USER: "",
      EMAIL_PASS: "",
      DATABASE_URL: "",
      CARTEIRO_MODE: "",
      DENO_DEPLOYMENT_ID: "",
      COOKIE_SECURE: "",
    },
    clearEnv: false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exit: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => exit = s);
  return {
    logs: () => text,
    exited: () => exit,
    stop: async () => {
      if (!exit) child.kill("SIGTERM");
      await pumps;
      return await status;
    },
  };
}

/** Waits for the setup link on the service's output. */
async function setupLinkOf(service: Service, port: number): Promise<string> {
  const pattern = new RegExp(`http://127\\.0\\.0\\.1:${port}/setup\\?token=[A-Za-z0-9_-]{43}`);
  const deadline = Date.now() + WAIT_MS;
  while (true) {
    const found = pattern.exec(service.logs());
    if (found) return found[0];
    if (service.exited()) {
      throw new Error(`the service exited before printing a setup link:\n${service.logs()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`no setup link within ${WAIT_MS / 1000} s; the output:\n${service.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "the setup link printed at start makes the first admin in Chromium, then is refused",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "carteiro-setup-" });
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = startService(dataDir, port);
    let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
    try {
      const link = await setupLinkOf(service, port);
      assert.match(service.logs(), /deno task cli user add/, "the CLI command is named too");
      browser = await launchChromium();
      const context = await browser.newContext({ locale: "en-US" });
      context.setDefaultTimeout(WAIT_MS);
      const page = await context.newPage();
      const opened = await page.goto(link);
      assert.equal(opened?.status(), 200, service.logs());
      assert.equal(await page.textContent("h1"), "Create the first admin user");

      await page.fill('input[name="email"]', "owner@example.test");
      await page.fill('input[name="password"]', "a long enough passphrase");
      await page.fill('input[name="password_confirm"]', "a long enough passphrase");
      await Promise.all([
        page.waitForURL(`${base}/messages`),
        page.click('form[action="/setup"] button[type="submit"]'),
      ]);
      assert.equal(await page.title(), "Messages · Carteiro");
      assert.equal(await page.textContent("header .user"), "owner@example.test");

      // The same link again, logged in or from a fresh browser: setup is done; log in.
      const again = await page.goto(link);
      assert.equal(again?.status(), 410);
      const stranger = await (await browser.newContext({ locale: "en-US" })).newPage();
      stranger.setDefaultTimeout(WAIT_MS);
      const refused = await stranger.goto(link);
      assert.equal(refused?.status(), 410);
      assert.match(await stranger.textContent("main") ?? "", /Setup is done; log in/);
      assert.equal(await stranger.locator('form[action="/setup"]').count(), 0);
      await Promise.all([
        stranger.waitForURL(`${base}/login`),
        stranger.click('main a[href="/login"]'),
      ]);
      assert.equal(await stranger.textContent("h1"), "Log in to Carteiro");
    } finally {
      await browser?.close();
      await service.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
