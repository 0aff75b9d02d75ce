/**
 * "Test connection" for an account: its passwords decrypted (failing closed) and its servers
 * tried through the injected `testConnection`, for the accounts page and `/api/v1` alike.
 */
import type { AppDeps, ConnectionTarget } from "./deps.ts";
import type { AccountView } from "../src/store/accounts_admin.ts";
import { getAccountSecrets } from "../src/store/accounts_admin.ts";
import { createSecretBox, SecretKeyError } from "../src/auth/secret_box.ts";
import {
  type ConnectionProblem,
  describeConnectionProblem,
  isConnectionProblem,
} from "../src/domain/connection_problem.ts";

/**
 * What "test connection" shows: a category of failure (a stable code for the API) and a sentence
 * for a person, never the server's or the network's own words.
 */
export type AccountTestResult =
  | { ok: true }
  | { ok: false; error: ConnectionProblem | "secret_key"; message: string };

/**
 * Decrypts the account's passwords (failing closed) and asks `testConnection`, at the endpoints
 * read with the passwords in one statement: a stored password goes only where it was saved for.
 */
export async function testAccount(
  deps: AppDeps,
  box: ReturnType<typeof createSecretBox>,
  a: AccountView,
): Promise<AccountTestResult> {
  let imapPass: string | null = null;
  let smtpPass: string | null = null;
  let imap = { host: a.imapHost, port: a.imapPort, tls: a.imapTls, user: a.imapUser };
  let smtp = a.smtpHost && a.smtpPort
    ? { host: a.smtpHost, port: a.smtpPort, tls: a.smtpTls ?? true, user: a.smtpUser }
    : null;
  if (a.source === "db") {
    const secrets = await getAccountSecrets(deps.db, a.id);
    if (!secrets) return { ok: false, error: "unreachable", message: "the account is gone" };
    imap = { ...secrets.imap, user: secrets.imap.user ?? a.imapUser };
    smtp = secrets.smtp;
    try {
      if (secrets.imapPassEnc) imapPass = await box.decrypt("imap_pass", secrets.imapPassEnc);
      if (secrets.smtpPassEnc) smtpPass = await box.decrypt("smtp_pass", secrets.smtpPassEnc);
    } catch (e) {
      if (e instanceof SecretKeyError) {
        return { ok: false, error: "secret_key", message: e.message };
      }
      throw e;
    }
  }
  const target: ConnectionTarget = {
    accountId: a.id,
    imap: { host: imap.host, port: imap.port, secure: imap.tls, user: imap.user, pass: imapPass },
    smtp: smtp
      ? {
        host: smtp.host,
        port: smtp.port,
        secure: smtp.tls,
        user: smtp.user ?? imap.user,
        pass: smtpPass,
      }
      : null,
  };
  // Only a category comes back: whatever else a failure said stays out of the page and the API.
  const failed = (error: unknown): AccountTestResult => {
    const problem = isConnectionProblem(error) ? error : "unreachable";
    return { ok: false, error: problem, message: describeConnectionProblem(problem) };
  };
  try {
    const r = await deps.testConnection(target);
    return r.ok ? { ok: true } : failed(r.error);
  } catch {
    return failed(null);
  }
}
