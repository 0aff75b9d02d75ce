/**
 * Loop breakers a person resets and an account's reply settings: each change with its audit row
 * or neither, the problems each action names, on PGlite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { tripBreaker } from "../../src/store/outbox.ts";
import { countOpenBreakers, listBreakers } from "../../src/store/breakers.ts";
import { readAccountReplySettings } from "../../src/store/account_settings.ts";
import { resetBreaker, resetOpenBreakers } from "../../src/actions/breakers.ts";
import { saveAccountSettings } from "../../src/actions/account_settings.ts";
import { DEFAULT_ACCOUNT_REPLY_SETTINGS } from "../../src/domain/account_settings.ts";
import { auditRows, failingWithin, T } from "./support.ts";

const deps = (db: Db) => ({ db, now: () => T });
const minutes = (n: number) => new Date(T.getTime() + n * 60_000);

storeTest(
  "breakers: open and cooled-down ones listed, counted by scope, reset one by one",
  async (db) => {
    const box = (await seedBoxAccount(db)).id;
    await tripBreaker(db, box, "Ana@Cliente.test", minutes(-30), "5 replies", minutes(30));
    await tripBreaker(db, box, null, minutes(-20), "120 replies", null);
    await tripBreaker(db, box, "bruno@cliente.test", minutes(-90), "old", minutes(-30));

    const rows = await listBreakers(db, T);
    assert.deepEqual(rows.map((r) => [r.scope, r.recipient, r.open]), [
      ["account", null, true],
      ["recipient", "ana@cliente.test", true],
      ["recipient", "bruno@cliente.test", false],
    ]);
    assert.equal(rows[0].accountName, "box");
    assert.deepEqual(await countOpenBreakers(db, T), { account: 1, recipient: 1 });
    // Past its cool-down the recipient's breaker no longer counts.
    assert.deepEqual(await countOpenBreakers(db, minutes(31)), { account: 1, recipient: 0 });
    assert.equal((await listBreakers(db, T, { openOnly: true })).length, 2);

    const ana = rows[1];
    const reset = await resetBreaker(deps(db), ana.id, "ana@empresa.test");
    assert.ok(reset.ok);
    assert.equal(reset.value.recipient, "ana@cliente.test");
    assert.deepEqual(await auditRows(db, "breaker_reset"), [{
      id: ana.id,
      scope: "recipient",
      recipient: "ana@cliente.test",
      tripped_at: minutes(-30).toISOString(),
      was_open: true,
      by: "ana@empresa.test",
    }]);
    const again = await resetBreaker(deps(db), ana.id, "ana@empresa.test");
    assert.equal(!again.ok && again.problem.code, "not_found");

    // Every open one: the account's goes, the cooled-down one stays on record.
    const all = await resetOpenBreakers(deps(db), "cli");
    assert.deepEqual(all.ok && all.value.map((r) => r.scope), ["account"]);
    assert.deepEqual((await listBreakers(db, T)).map((r) => r.recipient), ["bruno@cliente.test"]);
    assert.equal((await auditRows(db, "breaker_reset")).length, 2);
  },
);

storeTest("breakers: a reset whose audit row fails leaves the breaker open", async (db) => {
  const box = (await seedBoxAccount(db)).id;
  await tripBreaker(db, box, null, minutes(-1), "loop", null);
  const [b] = await listBreakers(db, T);
  await assert.rejects(
    resetBreaker(deps(failingWithin(db, /INSERT INTO audit_events/)), b.id, "ana"),
  );
  assert.deepEqual(await countOpenBreakers(db, T), { account: 1, recipient: 0 });
  assert.deepEqual(await auditRows(db, "breaker_reset"), []);
});

storeTest("account settings: saved key by key, audited, every problem named", async (db) => {
  const box = (await seedBoxAccount(db)).id;
  assert.deepEqual(await readAccountReplySettings(db, box), DEFAULT_ACCOUNT_REPLY_SETTINGS);

  const saved = await saveAccountSettings(deps(db), box, {
    time_zone: "America/Sao_Paulo",
    authserv_ids: ["MX.Empresa.test"],
    trusted_forwarders: ["empresa.test", "*@parceiro.test"],
    limits: { window_seconds: 60, cool_down_seconds: 600 },
  }, "ana");
  assert.ok(saved.ok);
  assert.match(saved.value.notes[0], /^limits\.window_seconds: 60 is below the minimum/);
  const stored = await readAccountReplySettings(db, box);
  assert.deepEqual(stored, {
    timeZone: "America/Sao_Paulo",
    authservIds: ["mx.empresa.test"],
    checkAuth: true,
    checkSpam: true,
    trustedForwarders: ["empresa.test", "*@parceiro.test"],
    limits: { windowSeconds: 86_400, coolDownSeconds: 600 },
    keepRawDays: null,
    keepMessagesDays: null,
  });
  // A later change keeps what it does not name.
  assert.ok((await saveAccountSettings(deps(db), box, { check_spam: false }, "ana")).ok);
  const after = await readAccountReplySettings(db, box);
  assert.equal(after?.checkSpam, false);
  assert.equal(after?.timeZone, "America/Sao_Paulo");
  const events = await auditRows(db, "account_settings_changed");
  assert.deepEqual(events.map((e) => e.changed), [
    ["time_zone", "authserv_ids", "trusted_forwarders", "limits"],
    ["check_spam"],
  ]);

  const bad = await saveAccountSettings(deps(db), box, {
    time_zone: "Mars/Olympus",
    check_auth: "yes",
    trusted_forwarders: ["a b@x.test"],
    limits: { breakers: [{ scope: "recipient", max: 0, within_seconds: 60 }] },
  }, "ana");
  assert.equal(!bad.ok && bad.problem.code, "invalid");
  assert.deepEqual(!bad.ok && bad.problem.details?.map((d) => d.split(":")[0]), [
    "time_zone",
    "check_auth",
    "trusted_forwarders[0]",
    "limits.breakers[0].max",
  ]);
  assert.equal(
    (await saveAccountSettings(deps(db), 999, { check_auth: false }, "ana")).ok,
    false,
  );
  assert.equal((await auditRows(db, "account_settings_changed")).length, 2);
});
