import assert from "node:assert/strict";
import { createSmtpSender, type OutgoingReply } from "../../src/mail/smtp_sender.ts";
import { startResponder } from "../support/smtp_responder.ts";
import { startProviderSmtp } from "../support/provider_smtp.ts";
import { SMTPServer } from "smtp-server";

const REPLY: OutgoingReply = {
  from: { name: "Atendimento", address: "box@example.test" },
  to: { name: "Ana", address: "ana@example.test" },
  subject: "Re: Pedido",
  text: "Recebemos.",
  html: "<p>Recebemos.</p>",
  messageId: "<carteiro.abc@example.test>",
  inReplyTo: "<m1@example.test>",
  references: ["<m1@example.test>"],
  headers: { "Auto-Submitted": "auto-replied" },
};

async function sendVia(script: Parameters<typeof startResponder>[0]) {
  const responder = startResponder(script);
  const sender = createSmtpSender({
    host: "127.0.0.1",
    port: responder.port,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
    timeoutMs: 5_000,
  });
  try {
    return { result: await sender.send(REPLY), bodies: responder.bodies };
  } finally {
    sender.close();
    await responder.close();
  }
}

Deno.test("an accepted reply carries our headers", async () => {
  const { result, bodies } = await sendVia({});
  assert.equal(result.kind, "accepted");
  assert.equal(bodies.length, 1);
  assert.match(bodies[0], /^Auto-Submitted: auto-replied\r$/m);
  assert.match(bodies[0], /^Message-ID: <carteiro\.abc@example\.test>\r$/m);
  assert.match(bodies[0], /^In-Reply-To: <m1@example\.test>\r$/m);
});

Deno.test("a 4xx at RCPT is temporary: nothing was sent", async () => {
  const { result, bodies } = await sendVia({ rcpt: "451 4.7.1 try later" });
  assert.equal(result.kind, "temporary");
  assert.equal(bodies.length, 0);
});

Deno.test("a 5xx at RCPT is permanent", async () => {
  const { result } = await sendVia({ rcpt: "550 5.1.1 no such user" });
  assert.equal(result.kind, "permanent");
});

Deno.test("a 5xx after the body is permanent: the server refused it", async () => {
  const { result, bodies } = await sendVia({ afterData: "554 5.7.1 rejected" });
  assert.equal(result.kind, "permanent");
  assert.equal(bodies.length, 1);
});

Deno.test("a connection dropped after the body, with no reply, is unknown", async () => {
  const { result, bodies } = await sendVia({ afterData: "drop" });
  assert.equal(result.kind, "unknown", JSON.stringify(result));
  assert.equal(bodies.length, 1);
});

Deno.test("a refused connection is temporary", async () => {
  const sender = createSmtpSender({
    host: "127.0.0.1",
    port: 1,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
    timeoutMs: 5_000,
  });
  try {
    const result = await sender.send(REPLY);
    assert.equal(result.kind, "temporary");
  } finally {
    sender.close();
  }
});

Deno.test("where the server offers DSN, the reply's Message-ID is the envelope id, headers only returned", async () => {
  const seen: { mail?: Record<string, unknown>; rcpt?: Record<string, unknown> } = {};
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ["STARTTLS", "AUTH"],
    hideDSN: false,
    onMailFrom(address, _session, done) {
      seen.mail = address.args || {};
      done();
    },
    onRcptTo(address, _session, done) {
      seen.rcpt = address.args || {};
      done();
    },
    onData(stream, _session, done) {
      stream.on("end", () => done());
      stream.resume();
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as { port: number };
  const sender = createSmtpSender({
    host: "127.0.0.1",
    port,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
    timeoutMs: 5_000,
  });
  try {
    assert.equal((await sender.send(REPLY)).kind, "accepted");
    assert.equal(seen.mail?.ENVID, "carteiro.abc@example.test");
    assert.equal(seen.mail?.RET, "HDRS");
    assert.equal(seen.rcpt?.NOTIFY, "FAILURE,DELAY");
  } finally {
    sender.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

Deno.test("sends in parallel log in once while the login is refused, and all go out once it is taken", async () => {
  const provider = await startProviderSmtp({
    refuseLogin: "535 5.7.8 Username and Password not accepted",
  });
  const connect = () =>
    createSmtpSender({
      host: "127.0.0.1",
      port: provider.port,
      secure: false,
      requireTls: false,
      user: "box",
      pass: "secret",
      maxConnections: 4,
      timeoutMs: 5_000,
    });
  let sender = connect();
  try {
    const refused = await Promise.all([0, 1, 2, 3].map(() => sender.send(REPLY)));
    assert.deepEqual(refused.map((r) => r.kind), ["auth", "auth", "auth", "auth"]);
    assert.equal(provider.logins, 1, "the sends held beside the first got its answer");
    // Sent after the refusal: tried anew.
    assert.equal((await sender.send(REPLY)).kind, "auth");
    assert.equal(provider.logins, 2);
    sender.close();

    provider.script.refuseLogin = undefined;
    sender = connect();
    const taken = await Promise.all([0, 1, 2, 3, 4, 5].map(() => sender.send(REPLY)));
    assert.deepEqual(taken.map((r) => r.kind), taken.map(() => "accepted"));
    assert.equal(provider.accepted, 6);
  } finally {
    sender.close();
    await provider.close();
  }
});

Deno.test("a quota answer is met once by the sends waiting behind it; later sends try again", async () => {
  const provider = await startProviderSmtp({
    mailFrom: "550 5.4.5 Daily user sending quota exceeded",
  });
  const sender = createSmtpSender({
    host: "127.0.0.1",
    port: provider.port,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
    maxConnections: 4,
    timeoutMs: 5_000,
  });
  try {
    const held = await Promise.all([0, 1, 2].map(() => sender.send(REPLY)));
    assert.deepEqual(held.map((r) => r.kind), ["quota", "quota", "quota"]);
    provider.script.mailFrom = undefined;
    assert.equal((await sender.send(REPLY)).kind, "accepted");
    assert.equal(provider.accepted, 1);
  } finally {
    sender.close();
    await provider.close();
  }
});
