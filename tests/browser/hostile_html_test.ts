/**
 * Hostile HTML mail opened in real Chromium: zero script executions (no canary set in any
 * frame, no dialog), zero requests leaving 127.0.0.1, no navigation, no request made on the
 * person's behalf — asserted in the browser. A second pass serves the same mail UNSANITIZED
 * under the frame's CSP, to show that the sandbox and the CSP hold on their own (I-02).
 */
import assert from "node:assert/strict";
import type { Frame, Page } from "playwright-core";
import { type BrowserRig, browserRig, logIn } from "./support.ts";
import { eml, seedMessage } from "../routes/support.ts";
import { HOSTILE, HOSTILE_FROM, HOSTILE_SUBJECT } from "./hostile_corpus.ts";
import { frameCsp } from "../../routes/message_html.ts";

async function canaries(page: Page): Promise<Array<{ url: string; value: unknown }>> {
  const out = [];
  for (const f of page.frames()) {
    // Evaluated by the test harness in each frame's main world: script the page itself ran
    // would have left the value there.
    const value = await f.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned).catch(
      (e) => `evaluate failed: ${e.message}`,
    );
    out.push({ url: f.url(), value });
  }
  return out;
}

async function mailFrame(page: Page, id: number): Promise<Frame> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const frame = page.frames().find((f) => f.url().endsWith(`/messages/${id}/html`));
    if (frame) return frame;
    await page.waitForTimeout(100);
  }
  assert.fail(`the mail frame of message ${id} is not there: ${page.frames().map((f) => f.url())}`);
}

/**
 * Opens a message, lets the mail do what it can, clicks what a person might click, and checks
 * that nothing ran or left. `sanitized` false: the frame may end on an error page (a blocked
 * javascript:/data: link the person clicked), but nowhere else.
 */
async function openAndProbe(rig: BrowserRig, id: number, name: string, sanitized: boolean) {
  const { page, base } = rig;
  const before = rig.requests.length;
  await page.goto(`${base}/messages/${id}`);
  await page.waitForLoadState("load");
  const frame = await mailFrame(page, id);
  await frame.waitForLoadState("load");
  // Give timers, refreshes, autofocus and htmx's load triggers their chance.
  await page.waitForTimeout(600);
  // A person clicks the links and buttons they see in the mail.
  for (const sel of ["#js-link", "#vb-link", "#data-link", "#svg-link", "#relative", "#submit"]) {
    // A click may navigate the frame (a blocked link): then there is nothing more to click.
    const el = await frame.$(sel).catch(() => null);
    if (el) await el.click({ timeout: 2000 }).catch(() => {});
  }
  await page.waitForTimeout(300);
  assert.equal(
    new URL(page.url()).pathname,
    `/messages/${id}`,
    `${name}: the page did not navigate`,
  );
  const frames = page.frames().map((f) => f.url());
  if (sanitized) {
    assert.ok(
      frames.includes(`${base}/messages/${id}/html`),
      `${name}: the frame stayed: ${frames}`,
    );
  }
  // Frames inside the mail (an <iframe> or <object> in it) are blocked: nothing loaded there.
  for (const f of frames.filter((u) => !u.startsWith(`${base}/messages/${id}`))) {
    assert.match(f, /^(chrome-error:|about:blank)/, `${name}: a nested frame loaded ${f}`);
  }
  for (const c of await canaries(page)) {
    assert.equal(c.value, undefined, `${name}: script ran in ${c.url}`);
  }
  const made = rig.requests.slice(before).map((r) => r.url());
  const onBehalf = made.filter((u) => /\/(pwned|api\/|logout|rules\/)/.test(new URL(u).pathname));
  assert.deepEqual(onBehalf, [], `${name}: requests made on the person's behalf`);
  assert.equal(page.context().pages().length, 1, `${name}: no window was opened`);
}

Deno.test({
  name: "hostile HTML mail: zero script executions and zero requests leaving the page",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const rig = await browserRig();
    try {
      const ids: number[] = [];
      for (const h of HOSTILE) {
        ids.push(
          await seedMessage(
            rig.h.db,
            eml({ subject: `${h.name} ${HOSTILE_SUBJECT}`, from: HOSTILE_FROM, html: h.html }),
          ),
        );
      }
      await logIn(rig);
      // The list shows the hostile subjects and senders as text.
      await rig.page.goto(`${rig.base}/messages`);
      assert.match(
        await rig.page.textContent("#results") ?? "",
        /<script>window.__pwned="subject"<\/script>/,
      );
      // The probe reads the page's own world: a value set there is seen.
      await rig.page.evaluate(() => {
        (globalThis as { __pwned?: unknown }).__pwned = "control";
      });
      assert.equal((await canaries(rig.page))[0].value, "control");
      for (const [i, h] of HOSTILE.entries()) await openAndProbe(rig, ids[i], h.name, true);
      for (const c of await canaries(rig.page)) assert.equal(c.value, undefined);
      assert.deepEqual(rig.dialogs, [], "no dialog opened");
      // Sanitized, not even an attempt: no request to anything but the test server.
      assert.deepEqual(rig.outside, [], "no request left 127.0.0.1");

      // Second layer alone: the same mail without the sanitizer, under the frame's CSP.
      await rig.page.route("**/messages/*/html", async (route) => {
        const id = Number(new URL(route.request().url()).pathname.split("/")[2]);
        const h = HOSTILE[ids.indexOf(id)];
        await route.fulfill({
          status: 200,
          headers: {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": frameCsp(false),
          },
          body: `<!doctype html><html><body>${h.html}</body></html>`,
        });
      });
      const start = rig.requests.length;
      for (const [i, h] of HOSTILE.entries()) {
        await openAndProbe(rig, ids[i], `${h.name} (unsanitized)`, false);
      }
      assert.deepEqual(rig.dialogs, [], "no dialog opened");
      // Unsanitized, the mail asks for remote resources; the frame's CSP stops every one in the
      // browser (net::ERR_BLOCKED_BY_CSP), before any DNS lookup or connection.
      const asked = rig.requests.slice(start).filter((r) => !r.url().startsWith(`${rig.base}/`));
      assert.ok(asked.length > 10, "the unsanitized corpus does try to reach out");
      const escaped = asked.filter((r) => rig.failures.get(r) !== "csp");
      assert.deepEqual(
        escaped.map((r) => `${r.url()} (${rig.failures.get(r) ?? "not blocked"})`),
        [],
        "every outside request was blocked by the CSP",
      );
      assert.deepEqual(rig.h.errors, []);
    } finally {
      await rig.close();
    }
  },
});
