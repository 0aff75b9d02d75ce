/**
 * The admin app on a real, fresh store (PGlite by default, PostgreSQL on request), with a user,
 * a cookie jar, login, and seeding through the real parser and store functions.
 */
import assert from "node:assert/strict";
import { rerunRules } from "../../src/jobs/rerun_rules.ts";
import { replayStep, replyStep } from "../../src/jobs/reply_step.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import type { Hono } from "hono";
import { openTestStore } from "../support/databases.ts";
import type { Db, Queryable } from "../../src/store/db.ts";
import { createApp } from "../../routes/app.ts";
import type { AppEnv } from "../../routes/app_env.ts";
import type { AppDeps, ConnectionTarget, ConnectionTestResult } from "../../routes/deps.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";
import { createUser } from "../../src/store/users.ts";
import { listAccounts, upsertEnvAccount } from "../../src/store/accounts.ts";
import { saveParsed, saveParseFailure, storeArrival } from "../../src/store/messages.ts";
import { parseMessage } from "../../src/mail/parse_message.ts";
import { accountTarget } from "../../src/mail/account_access.ts";
import type { Classification } from "../../src/domain/email.ts";
import { type DecisionRecord, saveDecision } from "../../src/store/decisions.ts";
import { enqueueReply } from "../../src/store/outbox.ts";
import { createApiToken } from "../../src/store/api_tokens.ts";
import { newSecret, secretHash } from "../../src/auth/tokens.ts";
import { DEFAULT_TOKEN_SCOPES, type TokenScope } from "../../src/domain/token_access.ts";

export const USER = { email: "admin@example.test", password: "correct horse battery staple" };
export const NOW = new Date("2026-03-10T12:00:00Z");

/** A minimal cookie jar for `app.request()`. */
export class Jar {
  #cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) ||
        attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === "") this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }
  set(name: string, value: string): void {
    this.#cookies.set(name, value);
  }
}

export interface Harness {
  app: Hono<AppEnv>;
  db: Db;
  deps: AppDeps;
  jar: Jar;
  /** The CSRF token of the logged-in session (after `login`). */
  csrf: string;
  /** Targets `testConnection` was called with. */
  tested: ConnectionTarget[];
  /** What the next `testConnection` answers. */
  nextTest: ConnectionTestResult;
  clock: { now: Date };
  /** Unexpected errors the app reported (a test that expects none asserts this is empty). */
  errors: unknown[];
  request(path: string, init?: RequestInit & { ip?: string }): Promise<Response>;
  /** Logs in as the admin user, or as another user already made (with a fresh cookie jar). */
  login(as?: { email: string; password: string }): Promise<void>;
  /** A POST with the session's CSRF token as a form field. */
  post(path: string, fields?: Record<string, string>, headers?: HeadersInit): Promise<Response>;
  /** A token seeded in the store: every scope and no expiry unless given. */
  apiToken(
    name?: string,
    options?: { scopes?: readonly TokenScope[]; expiresAt?: Date | null },
  ): Promise<string>;
  close(): Promise<void>;
}

/**
 * Opens a fresh store, creates the admin user (unless `noUser`) and an account, and builds the
 * app; `setupToken` is the setup link's secret (default: none).
 */
export async function harness(
  options: {
    kind?: "pglite" | "postgres";
    secretKey?: string | null;
    security?: AppDeps["security"];
    setupToken?: string | null;
    noUser?: boolean;
  } = {},
): Promise<Harness> {
  const store = await openTestStore(options.kind ?? "pglite");
  const db = store.db;
  if (!options.noUser) await createUser(db, USER.email, await hashPassword(USER.password), NOW);
  await upsertEnvAccount(db, {
    name: "atendimento",
    address: "atendimento@empresa.test",
    imapHost: "127.0.0.1",
    imapPort: 993,
    imapTls: "tls",
    imapUser: "atendimento@empresa.test",
    mailboxes: ["INBOX"],
  });
  const clock = { now: NOW };
  const h: Harness = {
    app: null as unknown as Hono<AppEnv>,
    db,
    deps: null as unknown as AppDeps,
    jar: new Jar(),
    csrf: "",
    tested: [],
    nextTest: { ok: true },
    clock,
    errors: [],
    async request(path, init = {}) {
      const headers = new Headers(init.headers);
      const cookie = h.jar.header();
      if (cookie && !headers.has("Cookie")) headers.set("Cookie", cookie);
      const res = await h.app.request(`http://localhost${path}`, { ...init, headers }, {
        remoteAddr: { hostname: init.ip ?? "127.0.0.1" },
      });
      h.jar.take(res);
      return res;
    },
    async login(as = USER) {
      h.jar = new Jar();
      const page = await h.request("/login");
      assert.equal(page.status, 200);
      const pre = csrfFrom(await page.text());
      const res = await h.request("/login", {
        method: "POST",
        body: new URLSearchParams({ _csrf: pre, email: as.email, password: as.password }),
      });
      assert.equal(res.status, 303, `login failed: ${res.status} ${await res.text()}`);
      const messages = await h.request("/messages");
      assert.equal(messages.status, 200);
      h.csrf = csrfFrom(await messages.text());
    },
    post(path, fields = {}, headers = {}) {
      return h.request(path, {
        method: "POST",
        body: new URLSearchParams({ _csrf: h.csrf, ...fields }),
        headers,
      });
    },
    async apiToken(
      name = "tests",
      options: { scopes?: readonly TokenScope[]; expiresAt?: Date | null } = {},
    ) {
      // Seeded in the store, without the audit event a person's creation writes.
      const token = `crt_${newSecret()}`;
      await createApiToken(db, {
        name,
        tokenHash: await secretHash(token),
        scopes: options.scopes ?? DEFAULT_TOKEN_SCOPES,
        expiresAt: options.expiresAt ?? null,
      }, NOW);
      return token;
    },
    close: () => store.close(),
  };
  // The reply step as the service builds it, with the test's account context.
  const replyDeps = {
    policy: DEFAULT_RATE_LIMIT_POLICY,
    sendDeadlineMs: 86_400_000,
    accountContext: async (q: Queryable, accountId: number) => {
      const a = (await listAccounts(q)).find((x) => x.id === accountId);
      if (!a) throw new Error(`no account ${accountId}`);
      return {
        id: a.id,
        name: a.name,
        addresses: [a.address],
        connectedAt: a.connectedAt,
        messageIdDomain: "carteiro.empresa.test",
      };
    },
    ownAddresses: async (q: Queryable) => (await listAccounts(q)).map((a) => a.address),
  };
  h.deps = {
    db,
    now: () => clock.now,
    secretKey: options.secretKey === undefined
      ? "test-secret-key-0123456789abcdef"
      : options.secretKey,
    secureCookies: true,
    // The real rule for what is tried (endpoints, decrypted passwords); only the trying is faked.
    connectionTarget: (accountId, secrets) =>
      accountTarget({ db, secrets, envAccount: null }, accountId),
    testConnection: (target) => {
      h.tested.push(target);
      return Promise.resolve(h.nextTest);
    },
    accountContext: async (accountId) => {
      const a = (await listAccounts(db)).find((x) => x.id === accountId);
      if (!a) throw new Error(`no account ${accountId}`);
      return {
        id: a.id,
        name: a.name,
        addresses: [a.address],
        connectedAt: a.connectedAt,
        messageIdDomain: "carteiro.empresa.test",
      };
    },
    ownAddresses: async () => (await listAccounts(db)).map((a) => a.address),
    rerunRules: (tx, id, at) =>
      rerunRules({ parse: parseMessage, replyStep: replyStep(replyDeps) }, tx, id, at),
    replayMessage: replayStep(replyDeps),
    setupToken: options.setupToken ?? null,
    // Dates on pages in a known zone, whatever the machine's.
    timeZone: "UTC",
    security: options.security,
  };
  h.app = createApp(h.deps, (error, id) => {
    h.errors.push(error);
    console.error(`unexpected error ${id}:`, (error as Error).stack);
  });
  // Mail older than the account's connection is history; connect it well before the fixtures.
  await db.query("UPDATE accounts SET connected_at = '2026-01-01T00:00:00Z'");
  return h;
}

/** The CSRF token embedded in a page (hidden field). */
export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  assert.ok(m, `no CSRF field in:\n${html.slice(0, 500)}`);
  return m[1];
}

/** An RFC 5322 message. */
export function eml(
  m: {
    from?: string;
    to?: string;
    subject?: string;
    date?: string;
    text?: string;
    html?: string;
    headers?: Record<string, string>;
    messageId?: string;
  },
): Uint8Array {
  const head = [
    `From: ${m.from ?? "Ana Souza <ana@cliente.test>"}`,
    `To: ${m.to ?? "atendimento@empresa.test"}`,
    `Subject: ${m.subject ?? "Pedido 123"}`,
    `Date: ${m.date ?? "Tue, 03 Mar 2026 10:00:00 +0000"}`,
    `Message-ID: ${m.messageId ?? `<${crypto.randomUUID()}@cliente.test>`}`,
    "MIME-Version: 1.0",
    ...Object.entries(m.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  let body: string;
  if (m.html !== undefined) {
    const b = "b0undary";
    head.push(`Content-Type: multipart/alternative; boundary="${b}"`);
    body = [
      `--${b}`,
      "Content-Type: text/plain; charset=utf-8",
      "",
      m.text ?? "texto",
      `--${b}`,
      "Content-Type: text/html; charset=utf-8",
      "",
      m.html,
      `--${b}--`,
      "",
    ].join("\r\n");
  } else {
    head.push("Content-Type: text/plain; charset=utf-8");
    body = (m.text ?? "Olá, preciso de ajuda com o pedido.") + "\r\n";
  }
  return new TextEncoder().encode(head.join("\r\n") + "\r\n\r\n" + body);
}

let uidCounter = 0;

/**
 * Stores a message through the real parser and store functions, with a classification and,
 * optionally, a decision and an outbox row. Returns the message id.
 */
export async function seedMessage(
  db: Db,
  raw: Uint8Array,
  o: {
    receivedAt?: Date;
    kind?: "forwarded" | "direct";
    originalFrom?: string;
    decision?: Omit<DecisionRecord, "messageId">;
    outbox?: { status: string; recipient?: string; subject?: string };
    failParse?: string;
  } = {},
): Promise<number> {
  const [account] = await listAccounts(db);
  const uid = ++uidCounter;
  const received = o.receivedAt ?? new Date("2026-03-03T10:00:00Z");
  const sha = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", raw as BufferSource)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const { id } = await storeArrival(
    db,
    account.id,
    "INBOX",
    1,
    { uid, raw, sha256: sha, internalDate: received },
    false,
    received,
  );
  if (o.failParse) {
    await saveParseFailure(db, id, o.failParse, received);
    return id;
  }
  const parsed = await parseMessage(raw);
  assert.ok(parsed.ok, "fixture must parse");
  const classification: Classification = o.kind === "forwarded"
    ? {
      kind: "forwarded",
      original: {
        fromAddress: o.originalFrom ?? "cliente@externo.test",
        fromName: "Cliente Externo",
        subject: "Original",
        date: null,
        dateIso: null,
      },
      confidence: 0.9,
      evidence: ["forward marker"],
    }
    : { kind: "direct", original: null, confidence: 0.95, evidence: ["no forward marker"] };
  await saveParsed(db, id, parsed.email, classification, received);
  if (o.decision) await saveDecision(db, { messageId: id, ...o.decision }, received);
  if (o.outbox) {
    const q = await enqueueReply(db, {
      dedupKey: `k-${id}-${uid}`,
      messageId: id,
      accountId: account.id,
      ruleName: o.decision?.ruleName ?? "ack",
      recipient: o.outbox.recipient ?? "ana@cliente.test",
      recipientName: "Ana",
      fromAddress: account.address,
      fromName: "",
      subject: o.outbox.subject ?? "Re: Pedido 123",
      text: "Recebemos.",
      html: null,
      messageIdHeader: `<carteiro.${id}@empresa.test>`,
      inReplyTo: null,
      references: [],
      headers: {},
      deadlineAt: new Date(received.getTime() + 86_400_000),
    }, received);
    if (o.outbox.status !== "pending") {
      await db.query("UPDATE outbox SET status = $2, last_error = $3 WHERE id = $1", [
        q.id,
        o.outbox.status,
        o.outbox.status === "unknown" ? "lease expired while sending" : null,
      ]);
    }
  }
  return id;
}

/** The id of the newest outbox row of a message. */
export async function outboxIdOf(db: Db, messageId: number): Promise<number> {
  const [r] = await db.query<{ id: number }>(
    "SELECT id FROM outbox WHERE message_id = $1 ORDER BY id DESC LIMIT 1",
    [messageId],
  );
  return Number(r.id);
}
