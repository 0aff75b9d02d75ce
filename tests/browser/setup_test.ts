/**
 * The first start as a person meets it, in real Chromium: the service (`main.ts`, its own
 * process, on a fresh embedded database, no mailbox) prints a setup link on stderr; opening it,
 * filling the form and submitting lands on the admin logged in; the same link then says setup is
 * done and points to the login page.
 */
import assert from "node:assert/strict";
import { launchChromium } from "./support.ts";
import { firstStartEnv, startService } from "../support/service_process.ts";

/** Ceiling for each wait: generous, for a busy machine; nothing here measures speed. */
const WAIT_MS = 60_000;

Deno.test({
  name: "the setup link printed at start makes the first admin in Chromium, then is refused",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "carteiro-setup-" });
    // Secure cookies as by default, too.
    const service = startService({ ...firstStartEnv(dataDir), COOKIE_SECURE: "" });
    const base = service.base;
    let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
    try {
      const escaped = base.replaceAll(".", "\\.");
      const link = (await service.waitForLog(
        new RegExp(`${escaped}/setup\\?token=[A-Za-z0-9_-]{43}`),
        WAIT_MS,
      ))[0];
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
        page.waitForURL(`${base}/overview`),
        page.click('form[action="/setup"] button[type="submit"]'),
      ]);
      assert.equal(await page.title(), "Overview · Carteiro");
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
