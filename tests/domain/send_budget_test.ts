import assert from "node:assert/strict";
import {
  budgetRoom,
  budgetWindows,
  effectiveBudget,
  parseSendBudget,
  PROVIDER_BUDGETS,
  providerOf,
  smtpConnections,
} from "../../src/domain/send_budget.ts";

const T = (s: number) => new Date(Date.UTC(2026, 2, 1, 12, 0, s));

Deno.test("the provider comes from the SMTP host and the address", () => {
  assert.equal(providerOf("smtp.gmail.com", "ana@gmail.com"), "gmail");
  assert.equal(providerOf("SMTP.GMAIL.COM.", "ana@googlemail.com"), "gmail");
  assert.equal(providerOf("smtp.gmail.com", "vendas@empresa.com.br"), "workspace");
  assert.equal(providerOf("smtp.office365.com", "vendas@empresa.com.br"), "exchange_online");
  assert.equal(providerOf("smtp-mail.outlook.com", "ana@outlook.com"), "exchange_online");
  // A Gmail address sent through another server is that server's business.
  assert.equal(providerOf("mail.empresa.test", "ana@gmail.com"), "other");
  assert.equal(providerOf(null, "ana@gmail.com"), "other");
});

Deno.test("defaults by provider; a budget set wins; other servers have none", () => {
  assert.deepEqual(effectiveBudget(null, "smtp.gmail.com", "a@gmail.com").budget, {
    perMinute: null,
    perDay: 500,
  });
  assert.equal(effectiveBudget(null, "smtp.gmail.com", "a@empresa.test").budget?.perDay, 2000);
  assert.deepEqual(effectiveBudget(null, "smtp.office365.com", "a@empresa.test").budget, {
    perMinute: 30,
    perDay: 10_000,
  });
  assert.equal(effectiveBudget(null, "127.0.0.1", "a@empresa.test").budget, null);
  const set = effectiveBudget({ perMinute: 5, perDay: null }, "smtp.gmail.com", "a@gmail.com");
  assert.deepEqual([set.budget, set.source, set.provider], [
    { perMinute: 5, perDay: null },
    "set",
    "gmail",
  ]);
  // Set with no limit in either window: no budget, even at Gmail.
  const none = effectiveBudget({ perMinute: null, perDay: null }, "smtp.gmail.com", "a@gmail.com");
  assert.deepEqual([none.budget, none.source], [null, "set"]);
  assert.equal(PROVIDER_BUDGETS.other, null);
});

Deno.test("room is what the fullest window leaves; a spent budget frees when its send leaves", () => {
  const [minute, day] = budgetWindows({ perMinute: 5, perDay: 500 });
  assert.deepEqual(budgetRoom([]), { room: Infinity, freesAt: null });
  assert.deepEqual(
    budgetRoom([{ ...minute, count: 3, limitthRecent: null }, {
      ...day,
      count: 498,
      limitthRecent: null,
    }]),
    { room: 2, freesAt: null },
  );
  // Five sent in the minute, the 5th most recent at :10: the minute frees at the next :10.
  assert.deepEqual(
    budgetRoom([{ ...minute, count: 5, limitthRecent: T(10) }, {
      ...day,
      count: 5,
      limitthRecent: null,
    }]),
    { room: 0, freesAt: new Date(T(10).getTime() + 60_000) },
  );
  // Both windows full: the later of the two moments.
  const full = budgetRoom([
    { ...minute, count: 5, limitthRecent: T(10) },
    { ...day, count: 500, limitthRecent: T(0) },
  ]);
  assert.deepEqual(full, { room: 0, freesAt: new Date(T(0).getTime() + 86_400_000) });
});

Deno.test("a budget as typed: whole numbers or empty", () => {
  assert.deepEqual(parseSendBudget({ perMinute: "5", perDay: "" }), {
    budget: { perMinute: 5, perDay: null },
    errors: [],
  });
  assert.deepEqual(parseSendBudget({ perMinute: 30, perDay: 10000 }).budget, {
    perMinute: 30,
    perDay: 10000,
  });
  for (const bad of ["0", "-1", "2.5", "abc", "99999999"]) {
    assert.equal(parseSendBudget({ perMinute: bad, perDay: null }).errors.length, 1, bad);
  }
});

Deno.test("an account gets a connection per reply in flight, no more than its provider takes", () => {
  assert.equal(smtpConnections(4, "smtp.office365.com"), 3, "Exchange Online refuses a fourth");
  assert.equal(smtpConnections(8, "smtp.gmail.com"), 3);
  assert.equal(smtpConnections(2, "smtp-mail.outlook.com"), 2);
  assert.equal(smtpConnections(8, "mail.example.com"), 8, "no known limit elsewhere");
  assert.equal(smtpConnections(1, null), 1);
});
