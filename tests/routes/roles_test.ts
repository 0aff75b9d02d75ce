/**
 * Every role on every page route: what a viewer and an operator may and may not do. A refused
 * request is a 403 whose page says which role it needs, and changes nothing.
 */
import assert from "node:assert/strict";
import { type Harness, harness, USER } from "./support.ts";
import { createUser } from "../../src/store/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";
import { accessOf } from "../../routes/app.ts";

const PASSWORD = "uma senha comprida o bastante";

type Who = "viewer" | "operator" | "admin";

/** What the issue asks of each role, written out here apart from the code that enforces it. */
function allowed(who: Who, method: string, path: string): boolean {
  if (who === "admin") return true;
  // Retention and erasure too: erasing removes mail for good (docs/retention.md); and the
  // webhooks, which hold signing secrets.
  if (/^\/(users|tokens|retention|webhooks)(\/|$)/.test(path)) return false;
  if (method === "GET" || path === "/logout" || path === "/password") return true;
  // Their own second factor (turning it on, confirming, turning it off).
  if (/^\/security(\/|$)/.test(path)) return true;
  // Showing a message's remote images is a way of reading it.
  if (/^\/messages\/[^/]+\/images$/.test(path)) return true;
  if (who === "viewer") return false;
  return /^\/(outbox|rules|exceptions|breakers|messages)(\/|$)/.test(path);
}

/** A concrete path for a route pattern: ids are 1, other parameters a plain word. */
function concrete(pattern: string): string {
  return pattern.replace(/:id\{[^}]*\}|:id/g, "1").replace(/:[a-z_]+(\{[^}]*\})?/g, "x");
}

async function loginAs(h: Harness, who: Who): Promise<void> {
  if (who === "admin") return await h.login();
  const email = `${who}@example.test`;
  await h.login({ email, password: PASSWORD });
}

Deno.test("roles: each page route answers a viewer and an operator as their role allows", async () => {
  const h = await harness();
  try {
    const hash = await hashPassword(PASSWORD);
    await createUser(h.db, "viewer@example.test", hash, new Date(), "viewer");
    await createUser(h.db, "operator@example.test", hash, new Date(), "operator");
    const routes = [
      ...new Set(
        h.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
      ),
    ].filter((r) => accessOf(concrete(r.split(" ")[1])) === "session" && r !== "POST /logout");
    assert.ok(routes.length > 20, `only ${routes.length} session routes found`);
    for (const who of ["viewer", "operator"] as const) {
      await loginAs(h, who);
      for (const route of routes) {
        const [method, pattern] = route.split(" ");
        const path = concrete(pattern);
        const res = method === "GET"
          ? await h.request(path)
          : await h.post(path, {}, { "HX-Request": "true" });
        const body = await res.text();
        if (allowed(who, method, pattern)) {
          assert.notEqual(res.status, 403, `${who} ${route}: refused\n${body.slice(0, 300)}`);
        } else {
          assert.equal(res.status, 403, `${who} ${route}: ${res.status}`);
          assert.match(body, /needs (operator|admin)|é preciso ser (operador|admin)/, route);
        }
      }
    }
  } finally {
    await h.close();
  }
});

Deno.test("roles: a viewer's refused change leaves nothing behind; the admin-only links are hidden", async () => {
  const h = await harness();
  try {
    await createUser(
      h.db,
      "viewer@example.test",
      await hashPassword(PASSWORD),
      new Date(),
      "viewer",
    );
    await h.login({ email: "viewer@example.test", password: PASSWORD });
    const page = await (await h.request("/messages")).text();
    assert.ok(!page.includes('href="/users"') && !page.includes('href="/tokens"'));
    assert.ok(page.includes('href="/password"'));
    const res = await h.post("/exceptions", { pattern: "*@spam.test", account: "" });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /Seu papel \(leitor\) não permite isto: é preciso ser operador/);
    assert.equal((await h.db.query("SELECT 1 FROM never_answer")).length, 0);

    await h.login();
    const admin = await (await h.request("/messages")).text();
    assert.ok(admin.includes('href="/users"') && admin.includes('href="/tokens"'));
    assert.equal(USER.email, "admin@example.test");
  } finally {
    await h.close();
  }
});
