/**
 * "Test connection" for an account: its passwords decrypted (failing closed) and its servers
 * tried through the injected `testConnection`, for the accounts page and `/api/v1` alike.
 */
import type { AppDeps, ConnectionTarget } from "./deps.ts";
import type { AccountView } from "../src/store/accounts_admin.ts";
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
 * Asks `testConnection` at the account's endpoints, with its passwords decrypted (failing closed
 * on a wrong or missing SECRET_KEY): `connectionTarget` reads them in one statement, so a stored
 * password goes only where it was saved for.
 */
export async function testAccount(
  deps: AppDeps,
  box: ReturnType<typeof createSecretBox>,
  a: AccountView,
): Promise<AccountTestResult> {
  let target: ConnectionTarget | null;
  try {
    target = await deps.connectionTarget(a.id, box);
  } catch (e) {
    if (e instanceof SecretKeyError) {
      return { ok: false, error: "secret_key", message: e.message };
    }
    throw e;
  }
  if (!target) return { ok: false, error: "unreachable", message: "the account is gone" };
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
