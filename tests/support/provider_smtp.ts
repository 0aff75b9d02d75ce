/**
 * A provider's SMTP answers on cue, from `npm:smtp-server` on loopback: a sending quota refused at
 * MAIL FROM (Gmail's `550 5.4.5`) or a login refused (`535`). Only for answers Postfix can't give
 * on cue; everything else goes to the real Postfix.
 */
import { SMTPServer } from "smtp-server";

export interface ProviderScript {
  /** Answer to MAIL FROM, e.g. "550 5.4.5 Daily user sending quota exceeded"; unset: accept. */
  mailFrom?: string;
  /** Logins are refused with this answer (e.g. "535 5.7.8 …") while set; unset: accepted. */
  refuseLogin?: string;
}

export interface ProviderSmtp {
  port: number;
  /** What it answers; changed by the test between sends. */
  script: ProviderScript;
  /** Messages accepted completely. */
  accepted: number;
  /** Logins tried. */
  logins: number;
  close(): Promise<void>;
}

function refusal(answer: string): Error {
  const [code, ...text] = answer.split(" ");
  return Object.assign(new Error(text.join(" ")), { responseCode: Number(code) });
}

/** Starts the server on a free loopback port; plain SMTP, AUTH PLAIN/LOGIN allowed without TLS. */
export async function startProviderSmtp(script: ProviderScript): Promise<ProviderSmtp> {
  const state: ProviderSmtp = {
    port: 0,
    script,
    accepted: 0,
    logins: 0,
    close: () => Promise.resolve(),
  };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    authOptional: true,
    onAuth(_auth, _session, done) {
      state.logins++;
      const refused = state.script.refuseLogin;
      if (refused) return done(refusal(refused));
      done(null, { user: "box" });
    },
    onMailFrom(_address, _session, done) {
      const answer = state.script.mailFrom;
      done(answer ? refusal(answer) : undefined);
    },
    onData(stream, _session, done) {
      stream.on("end", () => {
        state.accepted++;
        done();
      });
      stream.resume();
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  state.port = (server.server.address() as { port: number }).port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
