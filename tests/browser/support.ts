/// <reference lib="dom" />
/**
 * Real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against the
 * admin served on 127.0.0.1 with `Deno.serve`, on a fresh store. A missing Chromium fails the
 * test with the command to install it: it is never skipped.
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page, type Request } from "playwright-core";
import { type Harness, harness, USER } from "../routes/support.ts";

export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium is needed by the browser tests and was not found at ${CHROMIUM}: ` +
        "install it with `apt-get install -y chromium` (or set CHROMIUM_PATH)",
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

export interface BrowserRig {
  h: Harness;
  base: string;
  browser: Browser;
  page: Page;
  /** Every request the page (and its frames) made to anything but the test server. */
  outside: string[];
  /** Every request, in order. */
  requests: Request[];
  /** Why a request failed (`csp`: the browser blocked it before it left), by request. */
  failures: Map<Request, string>;
  dialogs: string[];
  close(): Promise<void>;
}

/** Serves a fresh admin on 127.0.0.1:0 and opens a page in a fresh browser context. */
export async function browserRig(): Promise<BrowserRig> {
  const h = await harness();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => h.app.fetch(req, info),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  let browser: Browser | null = null;
  try {
    browser = await launchChromium();
    const context = await browser.newContext({
      locale: "en-US",
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    const rig: BrowserRig = {
      h,
      base,
      browser,
      page,
      outside: [],
      requests: [],
      failures: new Map(),
      dialogs: [],
      async close() {
        await browser?.close();
        await server.shutdown();
        await h.close();
      },
    };
    context.on("request", (r) => {
      rig.requests.push(r);
      if (!r.url().startsWith(`${base}/`)) rig.outside.push(r.url());
    });
    context.on("requestfailed", (r) => rig.failures.set(r, r.failure()?.errorText ?? "?"));
    page.on("dialog", async (d) => {
      rig.dialogs.push(`${d.type()}: ${d.message()}`);
      await d.accept();
    });
    return rig;
  } catch (e) {
    await browser?.close();
    await server.shutdown();
    await h.close();
    throw e;
  }
}

/** Logs in through the form, as a person would. */
export async function logIn(rig: BrowserRig): Promise<void> {
  const { page, base } = rig;
  await page.goto(`${base}/messages`);
  assert.match(new URL(page.url()).pathname, /^\/login/);
  await page.fill('input[name="email"]', USER.email);
  await page.fill('input[name="password"]', USER.password);
  await Promise.all([
    page.waitForURL(`${base}/messages`),
    page.click('section.login button[type="submit"]'),
  ]);
}

/** Writes a screenshot to docs/screenshots/NAME.png when CARTEIRO_SCREENSHOTS=1. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (Deno.env.get("CARTEIRO_SCREENSHOTS") !== "1") return;
  const dir = new URL("../../docs/screenshots/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  // A full-page capture leaves out-of-process frames (the sandboxed mail) blank: grow the
  // viewport to the page instead, then put it back.
  const before = page.viewportSize() ?? { width: 1280, height: 900 };
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({
    width: before.width,
    height: Math.min(Math.max(height, 600), 4000),
  });
  await page.waitForTimeout(200);
  await page.screenshot({ path: new URL(`${name}.png`, dir).pathname });
  await page.setViewportSize(before);
}
