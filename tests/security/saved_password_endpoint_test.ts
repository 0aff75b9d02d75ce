/**
 * A saved password stays with the server it was saved for (host, port, TLS, user): an edit that
 * moves the account elsewhere without giving the password again clears it in the store, the admin
 * asks for it again, and "Test connection" never carries it to the new server — proved with a
 * real TLS listener on loopback that records every line it gets.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import { openTestStore } from "../support/databases.ts";
import { startedService } from "../support/service_process.ts";
import { logIn } from "../support/service_process.ts";
import { startRecordingImap, testCertificate } from "../support/recording_imap.ts";
import {
  type AccountInput,
  createAccount,
  getAccountSecrets,
  updateAccount,
} from "../../src/store/accounts_admin.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";
import { createUser } from "../../src/store/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";

const AT = new Date("2026-03-10T12:00:00Z");

function account(over: Partial<AccountInput> = {}): AccountInput {
  return {
    name: "vendas",
    address: "vendas@empresa.test",
    displayName: "",
    enabled: true,
    imapHost: "imap.empresa.test",
    imapPort: 993,
    imapTls: "tls",
    imapUser: "vendas@empresa.test",
    mailboxes: ["INBOX"],
    smtpHost: "smtp.empresa.test",
    smtpPort: 465,
    smtpTls: "tls",
    smtpUser: "vendas@empresa.test",
    copyToSent: true,
    imapPassEnc: "imap-enc",
    smtpPassEnc: "smtp-enc",
    ...over,
  };
}

storeTest(
  "an edit that moves an endpoint without a new password clears that password",
  async (db) => {
    const id = await createAccount(db, account(), AT);
    const secrets = async () => {
      const s = await getAccountSecrets(db, id);
      return { imap: s?.imapPassEnc ?? null, smtp: s?.smtpPassEnc ?? null };
    };
    const keep = { imapPassEnc: null, smtpPassEnc: null };

    // The same endpoints, other settings changed: both passwords stay.
    await updateAccount(
      db,
      id,
      account({ ...keep, displayName: "Vendas", mailboxes: ["INBOX", "X"] }),
    );
    assert.deepEqual(await secrets(), { imap: "imap-enc", smtp: "smtp-enc" });

    // Each of host, port, TLS and user moves the IMAP password out; SMTP's stays.
    for (
      const moved of [{ imapHost: "evil.test" }, { imapPort: 143 }, { imapTls: "starttls" }, {
        imapUser: "x@empresa.test",
      }] as Partial<AccountInput>[]
    ) {
      await updateAccount(db, id, account({ imapPassEnc: "imap-enc", smtpPassEnc: null }));
      await updateAccount(db, id, account({ ...keep, ...moved }));
      assert.deepEqual(await secrets(), { imap: null, smtp: "smtp-enc" }, JSON.stringify(moved));
    }
    // The same for SMTP.
    for (
      const moved of [{ smtpHost: "evil.test" }, { smtpPort: 587 }, { smtpTls: "starttls" }, {
        smtpUser: "x@empresa.test",
      }] as Partial<AccountInput>[]
    ) {
      await updateAccount(db, id, account({ imapPassEnc: "imap-enc", smtpPassEnc: "smtp-enc" }));
      await updateAccount(db, id, account({ ...keep, ...moved }));
      assert.deepEqual(await secrets(), { imap: "imap-enc", smtp: null }, JSON.stringify(moved));
    }
    // A new password given with the move is the one kept.
    await updateAccount(
      db,
      id,
      account({ imapHost: "novo.test", imapPassEnc: "novo", smtpPassEnc: null }),
    );
    assert.deepEqual(await secrets(), { imap: "novo", smtp: null });
  },
);

Deno.test("a stored password never reaches a server it was not saved for", async () => {
  const store = await openTestStore("postgres");
  const cert = await testCertificate();
  const recorder = startRecordingImap({ cert: cert.cert, key: cert.key });
  const secretKey = "a-test-secret-key-0123456789";
  const box = createSecretBox(secretKey);
  const imapSecret = `imap-secret-${crypto.randomUUID()}`;
  const smtpSecret = `smtp-secret-${crypto.randomUUID()}`;
  await createUser(store.db, "admin@example.test", await hashPassword("uma senha bem longa"), AT);
  // Saved for 127.0.0.2 (nothing listens there); the recorder waits on 127.0.0.1, same port.
  const saved = account({
    imapHost: "127.0.0.2",
    imapPort: recorder.port,
    imapUser: "vendas@empresa.test",
    smtpHost: "127.0.0.2",
    imapPassEnc: await box.encrypt("imap_pass", imapSecret),
    smtpPassEnc: await box.encrypt("smtp_pass", smtpSecret),
  });
  const id = await createAccount(store.db, saved, AT);
  const service = await startedService({
    DATABASE_URL: store.url!,
    SECRET_KEY: secretKey,
    // The service trusts the recorder's certificate, as it would a real server's.
    DENO_CERT: cert.caFile,
    ALLOW_PRIVATE_HOSTS: "true",
    EMAIL_HOST: "",
    EMAIL_USER: "",
    EMAIL_PASS: "",
  });
  try {
    const cookie = await logIn(service.base, "admin@example.test", "uma senha bem longa");
    const page = await fetch(`${service.base}/accounts/${id}`, { headers: { Cookie: cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
    assert.ok(csrf, "a CSRF field on the account page");
    const post = async (path: string, fields: Record<string, string>) => {
      const res = await fetch(`${service.base}${path}`, {
        method: "POST",
        headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: csrf, ...fields }),
        redirect: "manual",
      });
      return { status: res.status, text: await res.text() };
    };
    const form = (over: Record<string, string>) => ({
      name: saved.name,
      address: saved.address,
      display_name: "",
      enabled: "1",
      imap_host: saved.imapHost,
      imap_port: String(saved.imapPort),
      imap_tls: "1",
      imap_user: saved.imapUser,
      imap_pass: "",
      mailboxes: "INBOX",
      smtp_host: saved.smtpHost!,
      smtp_port: String(saved.smtpPort),
      smtp_tls: "1",
      smtp_user: saved.smtpUser!,
      smtp_pass: "",
      ...over,
    });

    // The admin moves the host only and leaves the password blank, then tests the connection.
    const moved = await post(`/accounts/${id}`, form({ imap_host: "127.0.0.1" }));
    const tested = await post(`/accounts/${id}/test`, {});
    assert.equal(tested.status, 200, tested.text);
    assert.ok(
      !recorder.sawSecret(imapSecret),
      `the saved IMAP password went to the new server:\n${recorder.lines.join("\n")}`,
    );
    assert.equal(moved.status, 422, "the edit asks for the password again");
    assert.match(moved.text, /digite a senha de novo para o novo servidor/);
    // The SMTP side asks the same.
    const smtpMoved = await post(`/accounts/${id}`, form({ smtp_host: "127.0.0.1" }));
    assert.equal(smtpMoved.status, 422);
    assert.match(
      smtpMoved.text,
      /<code>smtp_pass<\/code>: digite a senha de novo para o novo servidor/,
    );
    const kept = await getAccountSecrets(store.db, id);
    assert.ok(kept?.imapPassEnc && kept.smtpPassEnc, "a refused edit changes nothing");

    // Another caller of the store moves the account: the password is gone, and the test sends
    // nothing secret to where it now points.
    await updateAccount(
      store.db,
      id,
      account({ ...saved, imapHost: "127.0.0.1", imapPassEnc: null, smtpPassEnc: null }),
    );
    assert.equal((await getAccountSecrets(store.db, id))?.imapPassEnc, null);
    const again = await post(`/accounts/${id}/test`, {});
    assert.equal(again.status, 200, again.text);
    assert.ok(!recorder.sawSecret(imapSecret), recorder.lines.join("\n"));

    // A password typed for the new server is the one that goes there: the recorder does record.
    const fresh = `fresh-${crypto.randomUUID()}`;
    const retyped = await post(
      `/accounts/${id}`,
      form({ imap_host: "127.0.0.1", imap_pass: fresh }),
    );
    assert.equal(retyped.status, 303, retyped.text);
    await post(`/accounts/${id}/test`, {});
    assert.ok(recorder.sawSecret(fresh), `the recorder got:\n${recorder.lines.join("\n")}`);
    assert.ok(!recorder.sawSecret(imapSecret));
    assert.ok(!recorder.sawSecret(smtpSecret));
  } finally {
    await service.stop();
    await recorder.close();
    await cert.cleanup();
    await store.close();
  }
});
