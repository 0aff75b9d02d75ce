/**
 * An account's TLS mode as an explicit choice (TLS, STARTTLS, plain): the accounts page's select,
 * `/api/v1/accounts` taking `imap_tls` / `smtp_tls` by name and an older client's true/false as it
 * meant, and plain refused for a host that is not loopback, with the field and the reason.
 */
import assert from "node:assert/strict";
import { type Harness, harness } from "./support.ts";

async function call(h: Harness, token: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  if (init.body) headers.set("Content-Type", "application/json");
  return await h.app.request(`http://localhost${path}`, { ...init, headers });
}

const LOCAL = {
  name: "local",
  address: "local@empresa.test",
  enabled: true,
  imap_host: "127.0.0.1",
  imap_port: 1143,
  imap_tls: "plain",
  imap_user: "local",
  mailboxes: ["INBOX"],
  imap_pass: "segredo-imap",
  smtp_host: "localhost",
  smtp_port: 1025,
  smtp_tls: "plain",
};

async function modes(h: Harness, name: string) {
  const [row] = await h.db.query<{ imap_tls: string; smtp_tls: string | null }>(
    "SELECT imap_tls, smtp_tls FROM accounts WHERE name = $1",
    [name],
  );
  return row && [row.imap_tls, row.smtp_tls];
}

Deno.test("API: the three modes by name, old booleans as they meant, plain only to loopback", async () => {
  const h = await harness();
  try {
    const token = await h.apiToken();
    const created = await call(h, token, "/api/v1/accounts", {
      method: "POST",
      body: JSON.stringify(LOCAL),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const a = (await created.json()).data;
    assert.deepEqual([a.imap.tls, a.smtp.tls], ["plain", "plain"]);
    assert.deepEqual(await modes(h, "local"), ["plain", "plain"]);

    // Plain to a host that is not this machine: 422, the field and what to do.
    for (
      const [field, over] of [
        ["imap_tls", { imap_host: "imap.empresa.test" }],
        ["smtp_tls", { smtp_host: "10.0.0.7" }],
        ["imap_tls", { imap_host: "[::2]" }],
      ] as const
    ) {
      const refused = await call(h, token, "/api/v1/accounts", {
        method: "POST",
        body: JSON.stringify({ ...LOCAL, name: "longe", ...over }),
      });
      assert.equal(refused.status, 422, JSON.stringify(over));
      const error = (await refused.json()).error;
      const detail = [error.message, ...(error.details ?? [])].join("\n");
      assert.match(detail, new RegExp(`${field}: plain .*only to a loopback host`), detail);
      assert.match(detail, /choose tls or starttls/);
    }
    assert.equal(await modes(h, "longe"), undefined, "nothing saved");

    // TLS and STARTTLS by name, anywhere.
    const named = await call(h, token, "/api/v1/accounts", {
      method: "POST",
      body: JSON.stringify({
        ...LOCAL,
        name: "nomeado",
        imap_host: "imap.empresa.test",
        imap_port: 143,
        imap_tls: "starttls",
        smtp_host: "smtp.empresa.test",
        smtp_port: 2465,
        smtp_tls: "tls",
      }),
    });
    assert.equal(named.status, 201, await named.clone().text());
    assert.deepEqual(await modes(h, "nomeado"), ["starttls", "tls"]);

    // An older client's booleans: IMAP true is TLS, false STARTTLS (never plain); SMTP true is
    // TLS from the first byte on 465 and STARTTLS on 587.
    for (
      const [name, body, expected] of [
        ["velho1", { imap_tls: true, smtp_tls: true, smtp_port: 465 }, ["tls", "tls"]],
        ["velho2", { imap_tls: false, smtp_tls: true, smtp_port: 587 }, ["starttls", "starttls"]],
        ["velho3", { imap_tls: false, smtp_tls: false, smtp_port: 25 }, ["starttls", "starttls"]],
      ] as const
    ) {
      const old = await call(h, token, "/api/v1/accounts", {
        method: "POST",
        body: JSON.stringify({
          ...LOCAL,
          name,
          imap_host: "imap.empresa.test",
          smtp_host: "smtp.empresa.test",
          ...body,
        }),
      });
      assert.equal(old.status, 201, await old.clone().text());
      assert.deepEqual(await modes(h, name), expected, name);
    }

    // An unknown mode names the three.
    const unknown = await call(h, token, "/api/v1/accounts", {
      method: "POST",
      body: JSON.stringify({ ...LOCAL, name: "ssl", imap_tls: "ssl" }),
    });
    assert.equal(unknown.status, 422);
    assert.match(JSON.stringify(await unknown.json()), /imap_tls: one of tls, starttls, plain/);

    // An edit: moving the plain account to a remote host is refused while it stays plain; with
    // TLS (and the password typed again: the endpoint moved) it is saved.
    const moved = await call(h, token, `/api/v1/accounts/${a.id}`, {
      method: "PUT",
      body: JSON.stringify({ imap_host: "imap.empresa.test", imap_pass: "outra" }),
    });
    assert.equal(moved.status, 422);
    assert.match(JSON.stringify(await moved.json()), /imap_tls: plain/);
    const secured = await call(h, token, `/api/v1/accounts/${a.id}`, {
      method: "PUT",
      body: JSON.stringify({
        imap_host: "imap.empresa.test",
        imap_port: 993,
        imap_tls: "tls",
        imap_pass: "outra",
      }),
    });
    assert.equal(secured.status, 200, await secured.clone().text());
    assert.deepEqual(await modes(h, "local"), ["tls", "plain"]);
  } finally {
    await h.close();
  }
});

Deno.test("page: a select of the three modes, the stored one chosen, plain refused with its reason", async () => {
  const h = await harness();
  try {
    await h.login();
    const blank = await (await h.request("/accounts/new")).text();
    for (const kind of ["imap", "smtp"]) {
      const select = new RegExp(`<select name="${kind}_tls">(.*?)</select>`, "s").exec(blank)?.[1];
      assert.ok(select, `${kind}_tls is a select`);
      const options = [...select.matchAll(/<option value="(\w+)"( selected)?/g)];
      assert.deepEqual(options.map((o) => o[1]), ["tls", "starttls", "plain"]);
      assert.deepEqual(options.filter((o) => o[2]).map((o) => o[1]), ["tls"], "TLS by default");
    }

    const form = {
      name: "pagina",
      address: "pagina@empresa.test",
      enabled: "1",
      imap_host: "imap.empresa.test",
      imap_port: "143",
      imap_tls: "plain",
      imap_user: "pagina",
      imap_pass: "segredo",
      mailboxes: "INBOX",
      smtp_host: "127.0.0.1",
      smtp_port: "1025",
      smtp_tls: "plain",
    };
    const refused = await h.post("/accounts", form);
    assert.equal(refused.status, 422);
    const page = await refused.text();
    assert.match(
      page,
      /<code>imap_tls<\/code>: plain \(sem TLS, sem STARTTLS\) só é permitido para um host de loopback/,
    );
    assert.doesNotMatch(page, /smtp_tls: plain/, "plain SMTP to 127.0.0.1 is fine");

    const saved = await h.post("/accounts", { ...form, imap_tls: "starttls" });
    assert.equal(saved.status, 303, await saved.clone().text());
    const [{ id }] = await h.db.query<{ id: number }>(
      "SELECT id FROM accounts WHERE name = 'pagina'",
    );
    const edit = await (await h.request(`/accounts/${id}`)).text();
    const chosen = (kind: string) =>
      new RegExp(`<select name="${kind}_tls">.*?<option value="(\\w+)" selected>`, "s")
        .exec(edit)?.[1];
    assert.deepEqual([chosen("imap"), chosen("smtp")], ["starttls", "plain"]);
  } finally {
    await h.close();
  }
});
