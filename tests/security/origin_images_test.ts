/**
 * Also: a state change whose `Origin` is another site's is refused, even with the right CSRF
 * token and no `Sec-Fetch-Site`; remote images load only after a POST with the CSRF token (a
 * link from another site cannot turn them on); and a start without SECRET_KEY says which
 * features are off.
 */
import assert from "node:assert/strict";
import { eml, harness, seedMessage } from "../routes/support.ts";
import { missingSecretKeyNotice } from "../../src/admin/startup_notices.ts";

for (const kind of ["pglite", "postgres"] as const) {
  Deno.test(`Origin is checked on every state change [${kind}]`, async () => {
    const h = await harness({ kind });
    try {
      await h.login();
      const id = await seedMessage(h.db, eml({}), { outbox: { status: "failed" } });
      const [{ id: outboxId }] = await h.db.query<{ id: number }>("SELECT id FROM outbox");
      const retry = (origin?: string) =>
        h.request(`/outbox/${outboxId}/retry`, {
          method: "POST",
          headers: { "X-CSRF-Token": h.csrf, ...(origin ? { Origin: origin } : {}) },
        });
      for (const origin of ["https://evil.test", "null", "http://localhost.evil.test"]) {
        assert.equal((await retry(origin)).status, 403, origin);
      }
      assert.equal(
        (await h.db.query<{ status: string }>("SELECT status FROM outbox"))[0].status,
        "failed",
      );
      assert.equal((await retry("http://localhost")).status, 303, "our own origin");
      assert.ok(id > 0);
      // The forms before a session too.
      const login = await h.request("/login", {
        method: "POST",
        headers: { Origin: "https://evil.test" },
        body: new URLSearchParams({ email: "a@b.test", password: "x" }),
      });
      assert.equal(login.status, 403);
      assert.deepEqual(h.errors, []);
    } finally {
      await h.close();
    }
  });

  Deno.test(`remote images need a POST with the CSRF token [${kind}]`, async () => {
    const h = await harness({ kind });
    try {
      await h.login();
      const id = await seedMessage(
        h.db,
        eml({ html: '<p>oi</p><img src="http://tracker.test/px.gif" alt="logo">' }),
      );
      // A link another site can point the admin's browser at: images stay blocked.
      for (const q of ["?images=1", "?images=true", "?images=0123456789abcdef"]) {
        const page = await h.request(`/messages/${id}${q}`);
        assert.equal(page.status, 200);
        assert.doesNotMatch(await page.text(), /html\?images=/, q);
        const frame = await h.request(`/messages/${id}/html${q}`);
        assert.doesNotMatch(frame.headers.get("Content-Security-Policy") ?? "", /https:/, q);
        assert.doesNotMatch(await frame.text(), /tracker\.test/, q);
      }
      // The page's button: a POST with the token.
      const page = await (await h.request(`/messages/${id}`)).text();
      assert.match(page, new RegExp(`<form[^>]*method="post"[^>]*action="/messages/${id}/images"`));
      assert.equal((await h.request(`/messages/${id}/images`, { method: "POST" })).status, 403);
      const post = await h.post(`/messages/${id}/images`);
      assert.equal(post.status, 303);
      const shown = await h.request(post.headers.get("Location")!);
      const src = /src="(\/messages\/\d+\/html\?images=[^"]+)"/.exec(await shown.text());
      assert.ok(src, "the frame asks for the images");
      const frame = await h.request(src[1].replaceAll("&amp;", "&"));
      assert.match(frame.headers.get("Content-Security-Policy") ?? "", /img-src data: cid: https:/);
      assert.match(await frame.text(), /tracker\.test/);
      assert.deepEqual(h.errors, []);
    } finally {
      await h.close();
    }
  });
}

Deno.test("a start without SECRET_KEY says which features are off", () => {
  const notice = missingSecretKeyNotice(null);
  assert.ok(notice);
  assert.match(notice, /SECRET_KEY/);
  assert.match(notice, /password/i);
  assert.match(notice, /openssl rand -base64 32/);
  assert.equal(missingSecretKeyNotice("a-key-of-sixteen-chars"), null);
});
