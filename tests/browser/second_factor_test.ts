/**
 * A person secures their login in real Chromium: changes their password, turns on the second
 * factor (secret and QR code shown, one code from an authenticator to confirm, recovery codes
 * shown once), logs out, and logs in again with the new password and a code.
 */
import assert from "node:assert/strict";
import * as OTPAuth from "otpauth";
import { browserRig, logIn } from "./support.ts";
import { USER } from "../routes/support.ts";

const NEW_PASSWORD = "a brand new long passphrase";

function codeAt(secret: string, at: Date): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({
    timestamp: at.getTime(),
  });
}

Deno.test({
  name: "password change, second factor set-up and a login with a code, in Chromium",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const rig = await browserRig();
    const { page, base, h } = rig;
    page.setDefaultTimeout(60_000);
    try {
      await logIn(rig);
      await page.goto(`${base}/password`);
      await page.fill('input[name="current"]', USER.password);
      await page.fill('input[name="password"]', NEW_PASSWORD);
      await page.fill('input[name="password_confirm"]', NEW_PASSWORD);
      await page.click('form[action="/password"] button[type="submit"]');
      await page.waitForSelector("#password p.ok");

      await Promise.all([page.waitForURL(`${base}/security`), page.click('a[href="/security"]')]);
      await page.click('form[action="/security/totp"] button[type="submit"]');
      const secret = (await page.textContent("#totp-secret")) ?? "";
      assert.match(secret, /^[A-Z2-7]{32}$/);
      const qr = await page.locator("#security .qr svg").boundingBox();
      assert.ok(qr && qr.width >= 150, "the QR code is drawn");
      assert.match((await page.textContent("#totp-uri")) ?? "", /^otpauth:\/\/totp\//);
      await page.fill('input[name="code"]', codeAt(secret, h.clock.now));
      await page.click('form[action="/security/totp/confirm"] button[type="submit"]');
      await page.waitForSelector(".recovery-codes");
      assert.equal(await page.locator(".recovery-codes li").count(), 10);

      await Promise.all([
        page.waitForURL(/\/login/),
        page.click('form[action="/logout"] button[type="submit"]'),
      ]);
      await page.goto(`${base}/messages`);
      await page.fill('input[name="email"]', USER.email);
      await page.fill('input[name="password"]', NEW_PASSWORD);
      await Promise.all([
        page.waitForURL(`${base}/login/code`),
        page.click('section.login button[type="submit"]'),
      ]);
      // The next 30 s: the code that confirmed the set-up is not taken again.
      h.clock.now = new Date(h.clock.now.getTime() + 30_000);
      await page.fill('input[name="code"]', codeAt(secret, h.clock.now));
      await Promise.all([
        page.waitForURL(`${base}/messages`),
        page.click('section.login button[type="submit"]'),
      ]);
      assert.equal(await page.textContent("header .user"), USER.email);
      assert.deepEqual(rig.outside, [], "nothing loaded from elsewhere (the QR code is inline)");
      assert.deepEqual(h.errors, []);
    } finally {
      await rig.close();
    }
  },
});
