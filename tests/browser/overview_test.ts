/// <reference lib="dom" />
/**
 * The overview in real Chromium, on the data of a real collection: letters delivered to a
 * Dovecot mailbox, collected and answered by the CLI (`collect --once`, `send --once`, the reply
 * going out through the loopback Postfix), then the service (`main.ts`) serving the admin. After
 * login the person lands on the overview and sees the figures; more letters arrive, the service
 * collects them, and htmx's 30-second refresh swaps the block in place without reloading the
 * page. With CARTEIRO_SCREENSHOTS=1 it writes docs/screenshots/overview.png.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { launchChromium, screenshot } from "./support.ts";
import { cli as cliProcess, startedService } from "../support/service_process.ts";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import { deliverRaw, ensureMailstack, freshUser, mailboxEnv } from "../support/mailstack.ts";

/** Ceiling for each wait: generous, for a busy machine; nothing here measures speed. */
const WAIT_MS = 120_000;

const RULES = [{
  name: "ack",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos sua mensagem." },
}];

function letter(from: string, to: string, subject: string, extra = "", body = "Oi.\r\n") {
  return new TextEncoder().encode(
    `From: Cliente <${from}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n${extra}` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
  );
}

async function cli(args: string[], env: Record<string, string>) {
  const run = await runCli(args, env);
  assert.equal(run.code, 0, `${args.join(" ")} failed:\n${run.stderr}`);
  return run.docs[0] as Record<string, number>;
}

/** The figure in a period cell of a row of one of the overview's tables. */
async function cell(page: Page, table: string, row: string, period: string): Promise<string> {
  return (await page.textContent(
    `#${table} tr[data-row="${row}"] td[data-period="${period}"]`,
  ))?.trim() ?? "";
}

Deno.test({
  name: "after login the overview shows a collection's figures, and htmx refreshes them in place",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await ensureMailstack();
    const box = await freshUser("overview");
    const sender = await freshUser("cliente");
    const database = await freshPostgresDatabase();
    const env = { ...mailboxEnv(box), DATABASE_URL: database.url };
    const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
    await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
    await cli(["rules", "import", rulesFile], env);
    await Deno.remove(rulesFile);
    // The first collection connects the account: what is already in the mailbox is history.
    await cli(["collect", "--once"], env);
    await deliverRaw(box.user, [
      letter(sender.address, box.address, "Pedido 1"),
      letter(sender.address, box.address, "Pedido 2"),
      letter(
        sender.address,
        box.address,
        "Fwd: Pedido 3",
        "",
        "Veja abaixo.\r\n\r\n---------- Forwarded message ---------\r\n" +
          "From: Carla <carla@externo.example.test>\r\nDate: Mon, 2 Nov 2026 10:00:00 -0300\r\n" +
          "Subject: Pedido 3\r\nTo: <equipe@example.test>\r\n\r\nPedido 3 atrasado.\r\n",
      ),
      letter(sender.address, box.address, "Fora do escritório", "Auto-Submitted: auto-replied\r\n"),
    ]);
    assert.equal((await cli(["collect", "--once"], env)).stored, 4);
    const sent = (await cli(["send", "--once"], env)).sent;
    assert.ok(sent >= 1, `the replies were not sent: ${sent}`);
    const added = await cliProcess(
      ["user", "add", "admin@example.test"],
      env,
      "uma senha bem longa\n",
    );
    assert.equal(added.code, 0, added.stderr);

    const service = await startedService(env);
    let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
    try {
      browser = await launchChromium();
      const context = await browser.newContext({
        locale: "en-US",
        viewport: { width: 1280, height: 900 },
      });
      context.setDefaultTimeout(WAIT_MS);
      const page = await context.newPage();
      const fragments: string[] = [];
      page.on("request", (r) => {
        if (r.headers()["hx-request"] === "true") fragments.push(new URL(r.url()).pathname);
      });

      await page.goto(`${service.base}/login`);
      await page.fill('input[name="email"]', "admin@example.test");
      await page.fill('input[name="password"]', "uma senha bem longa");
      await Promise.all([
        page.waitForURL(`${service.base}/overview`),
        page.click('section.login button[type="submit"]'),
      ]);
      assert.equal(await page.title(), "Overview · Carteiro", service.logs());

      // Every message of the run arrived today (delivered just now), so today = 7 days = 30.
      for (const period of ["days7", "days30"]) {
        assert.equal(await cell(page, "overview-messages", "all", period), "4");
        assert.equal(await cell(page, "overview-messages", "forwarded", period), "1");
        assert.equal(await cell(page, "overview-messages", "direct", period), "3");
        assert.equal(await cell(page, "overview-replies", "sent", period), String(sent));
        assert.equal(
          await cell(page, "overview-replies", "suppressed-auto_submitted", period),
          "1",
        );
      }
      assert.match(await page.textContent("#overview-waiting") ?? "", /No reply is waiting/);
      const accounts = await page.textContent("#overview-accounts") ?? "";
      assert.match(accounts, new RegExp(box.address));
      assert.match(accounts, /none open/, "no loop breaker tripped in this run");
      // The charts: SVG with a title, bars for the day's messages, and their numbers as text.
      assert.equal(
        await page.textContent("#chart-daily svg > title"),
        "Messages and replies per day, last 30 days (UTC)",
      );
      const bars = await page.$$eval(
        '#chart-daily rect[data-series="messages"]',
        (rs) => rs.map((r) => Number(r.getAttribute("data-n"))),
      );
      assert.equal(bars.length, 30);
      assert.equal(bars[29], 4, `the daily bars: ${bars}`);

      // More letters arrive; the service collects them; the block refreshes itself in place.
      await page.evaluate(() => ((globalThis as { __samePage?: boolean }).__samePage = true));
      await deliverRaw(box.user, [
        letter(sender.address, box.address, "Pedido 5"),
        letter(sender.address, box.address, "Pedido 6"),
      ]);
      await page.waitForFunction(
        () =>
          document.querySelector(
            '#overview-messages tr[data-row="all"] td[data-period="days7"]',
          )?.textContent?.trim() === "6",
        undefined,
        { timeout: WAIT_MS, polling: 500 },
      );
      assert.equal(
        await page.evaluate(() => (globalThis as { __samePage?: boolean }).__samePage),
        true,
        "the page was not reloaded: htmx swapped the block",
      );
      assert.ok(fragments.includes("/overview"), `no htmx request for the block: ${fragments}`);
      assert.equal(await page.locator("#overview").count(), 1, "one block after the swap");
      assert.equal(
        await page.getAttribute("#overview", "hx-trigger"),
        "every 30s",
        "the swapped block keeps refreshing",
      );
      await screenshot(page, "overview");
    } finally {
      await browser?.close();
      await service.stop();
      await database.drop();
    }
  },
});
