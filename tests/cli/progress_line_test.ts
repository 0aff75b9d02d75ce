/** The progress line of `collect --once` on stderr: its text, on a terminal and off one. */
import assert from "node:assert/strict";
import { createProgressReporter, progressLine } from "../../src/cli/progress_line.ts";

const sample = (done: number, total = 100_000, account = "caixa", mailbox = "INBOX") => ({
  account,
  mailbox,
  done,
  total,
});

Deno.test("the line: done of total, whole percent, messages per second", () => {
  assert.equal(
    progressLine(sample(12_000), 38_710),
    "collect caixa INBOX: 12000/100000 (12%), 310 msg/s",
  );
  assert.equal(progressLine(sample(0), 0), "collect caixa INBOX: 0/100000 (0%), 0 msg/s");
  assert.equal(
    progressLine(sample(99_999), 1_000),
    "collect caixa INBOX: 99999/100000 (99%), 99999 msg/s",
  );
  assert.equal(progressLine(sample(7, 7), 2_000), "collect caixa INBOX: 7/7 (100%), 4 msg/s");
  assert.equal(progressLine(sample(0, 0), 0), "collect caixa INBOX: 0/0 (100%), 0 msg/s");
});

function reporter(tty: boolean) {
  const clock = { ms: 0 };
  const out: string[] = [];
  const r = createProgressReporter({ tty, write: (t) => out.push(t), now: () => clock.ms });
  return { r, out, clock };
}

Deno.test("on a terminal: one line rewritten in place, ended by a newline", () => {
  const { r, out, clock } = reporter(true);
  r.update(sample(0, 1_000));
  clock.ms = 1_000;
  r.update(sample(200, 1_000));
  clock.ms = 1_500;
  r.update(sample(400, 1_000));
  r.end();
  assert.deepEqual(out, [
    "\rcollect caixa INBOX: 0/1000 (0%), 0 msg/s\x1b[K",
    "\rcollect caixa INBOX: 200/1000 (20%), 200 msg/s\x1b[K",
    "\rcollect caixa INBOX: 400/1000 (40%), 267 msg/s\x1b[K",
    "\n",
  ]);
  r.end();
  assert.equal(out.length, 4, "nothing more to end");
});

Deno.test("off a terminal: a line at most every 5 s, each ending with a newline", () => {
  const { r, out, clock } = reporter(false);
  for (let i = 0; i <= 12; i++) {
    clock.ms = i * 1_000;
    r.update(sample(i * 100, 1_200));
  }
  r.end();
  assert.deepEqual(out, [
    "collect caixa INBOX: 0/1200 (0%), 0 msg/s\n",
    "collect caixa INBOX: 500/1200 (41%), 100 msg/s\n",
    "collect caixa INBOX: 1000/1200 (83%), 100 msg/s\n",
  ]);
});

Deno.test("accounts collected side by side share the line; a new mailbox restarts the rate", () => {
  const { r, out, clock } = reporter(true);
  r.update(sample(0, 100, "caixa"));
  r.update(sample(0, 50, "vendas"));
  clock.ms = 2_000;
  r.update(sample(100, 100, "caixa"));
  assert.equal(
    out.at(-1),
    "\rcollect vendas INBOX: 0/50 (0%), 0 msg/s\x1b[K",
    "finished: not shown",
  );
  r.update(sample(0, 10, "caixa", "Suporte"));
  clock.ms = 3_000;
  r.update(sample(10, 50, "vendas"));
  assert.equal(
    out.at(-1),
    "\rcollect caixa Suporte: 0/10 (0%), 0 msg/s; collect vendas INBOX: 10/50 (20%), 3 msg/s\x1b[K",
  );
  clock.ms = 4_000;
  r.update(sample(10, 10, "caixa", "Suporte"));
  r.update(sample(50, 50, "vendas"));
  assert.equal(out.at(-1), "\rcollect vendas INBOX: 50/50 (100%), 13 msg/s\x1b[K", "the last one");
});
