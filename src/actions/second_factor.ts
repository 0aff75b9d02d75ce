/**
 * The optional second factor at login (TOTP, RFC 6238, with recovery codes): a person turns it on
 * from their own page (a secret, then one code to confirm it — only then is it asked at login),
 * turns it off with their password, and an admin (or the CLI) turns it off for someone who lost
 * their phone. The secret is kept encrypted with SECRET_KEY; recovery codes only as SHA-256.
 * Each change and its audit event are one transaction.
 */
import { recordEvent } from "../store/audit.ts";
import { lockUser, passwordHashOf } from "../store/users.ts";
import {
  clearTotp,
  enableTotp,
  lockTotp,
  replaceRecoveryCodes,
  setPendingTotp,
  unusedRecoveryCodes,
  useRecoveryCode,
  useTotpStep,
} from "../store/second_factor.ts";
import { type SecretBox, SecretKeyError } from "../auth/secret_box.ts";
import { newRecoveryCodes, newTotpSecret, totpStepOf, totpUri } from "../auth/totp.ts";
import { secretHash } from "../auth/tokens.ts";
import { verifyPassword } from "../auth/password_hash.ts";
import {
  isRecoveryCodeShape,
  isTotpCode,
  normalRecoveryCode,
  stepAccepted,
} from "../domain/second_factor.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** What the second-factor actions need: the store, the clock, and the SECRET_KEY box. */
export interface SecondFactorDeps extends ActionDeps {
  box: SecretBox;
}

/** The field name the secret is sealed under (its additional data: it cannot move elsewhere). */
const FIELD = "totp_secret";

const WRONG_CODE = "code: it is not a current code of your app, nor an unused recovery code";
const CHANGED = "the user changed meanwhile";

async function hashCode(typed: string): Promise<string> {
  return await secretHash(`recovery:${normalRecoveryCode(typed)}`);
}

/** A secret being set up: to show as text, as a URI and as a QR code. */
export interface TotpSetup {
  secret: string;
  uri: string;
}

/**
 * Makes a new secret for a user and keeps it (encrypted) until a code confirms it. Refused
 * (`conflict`) when the second factor is already on; `invalid` when SECRET_KEY is not set.
 */
export async function startTotp(
  deps: SecondFactorDeps,
  userId: number,
): Promise<Result<TotpSetup>> {
  const secret = newTotpSecret();
  let sealed: string;
  try {
    sealed = await deps.box.encrypt(FIELD, secret);
  } catch (e) {
    if (e instanceof SecretKeyError) return problem("invalid", e.message, [e.message]);
    throw e;
  }
  return await transact(deps.db, async (tx) => {
    const state = await lockTotp(tx, userId);
    if (!state) return problem("not_found", "no such user");
    if (state.enabledAt) return problem("conflict", "the second factor is already on");
    await setPendingTotp(tx, userId, sealed);
    return done({ secret, uri: totpUri(secret, state.email) });
  }, CHANGED);
}

/** The secret being set up again (to show it after a wrong code), or null when there is none. */
export async function pendingTotp(
  deps: SecondFactorDeps,
  userId: number,
): Promise<TotpSetup | null> {
  const state = await deps.db.transaction((tx) => lockTotp(tx, userId));
  if (!state?.secret || state.enabledAt) return null;
  const secret = await deps.box.decrypt(FIELD, state.secret);
  return { secret, uri: totpUri(secret, state.email) };
}

/**
 * Turns the second factor on once `code` is right for the secret being set up; returns the ten
 * recovery codes, shown this once (only their hashes are kept).
 */
export async function confirmTotp(
  deps: SecondFactorDeps,
  userId: number,
  code: string,
  by: string,
): Promise<Result<string[]>> {
  return await transact(deps.db, async (tx) => {
    const state = await lockTotp(tx, userId);
    if (!state) return problem("not_found", "no such user");
    if (state.enabledAt) return problem("conflict", "the second factor is already on");
    if (!state.secret) return problem("invalid", "start the set-up first");
    const at = deps.now();
    const step = totpStepOf(await deps.box.decrypt(FIELD, state.secret), code, at);
    if (step === null) {
      const message = "code: it is not the current code of the app you added the secret to";
      return problem("invalid", message, [message]);
    }
    const codes = newRecoveryCodes();
    await enableTotp(tx, userId, at, step);
    await replaceRecoveryCodes(tx, userId, await Promise.all(codes.map(hashCode)));
    await recordEvent(tx, { event: "totp_enabled", at, detail: { email: state.email, by } });
    return done(codes);
  }, CHANGED);
}

/**
 * Turns a user's second factor off (`key`: id or e-mail). With `current` (a person's own
 * change) their password must be right; without it, an admin's or the CLI's reset.
 */
export async function disableTotp(
  deps: ActionDeps,
  input: { key: number | string; current?: string },
  by: string,
): Promise<Result<{ email: string }>> {
  return await transact(deps.db, async (tx) => {
    const user = await lockUser(tx, input.key);
    if (!user) return problem("not_found", "no such user");
    if (input.current !== undefined) {
      const stored = await passwordHashOf(tx, user.id);
      if (!stored || !await verifyPassword(input.current, stored)) {
        const message = "current password: it is not the one you log in with";
        return problem("invalid", message, [message]);
      }
    }
    const wasOn = await clearTotp(tx, user.id);
    if (!wasOn) return problem("conflict", "the second factor is not on for this user");
    await recordEvent(tx, {
      event: "totp_disabled",
      at: deps.now(),
      detail: { email: user.email, by },
    });
    return done({ email: user.email });
  }, CHANGED);
}

/** Which second factor a login gave. */
export type SecondFactorUsed = "totp" | "recovery";

/**
 * Checks the second step of a login: a current TOTP code not used before (its time-step is kept,
 * so a code is taken once), or an unused recovery code (marked used, audited).
 */
export async function checkSecondFactor(
  deps: SecondFactorDeps,
  userId: number,
  typed: string,
  ip: string,
): Promise<Result<SecondFactorUsed>> {
  const wrong = problem("invalid", WRONG_CODE, [WRONG_CODE]);
  return await transact(deps.db, async (tx) => {
    const state = await lockTotp(tx, userId);
    if (!state?.secret || !state.enabledAt) return wrong;
    const at = deps.now();
    if (isTotpCode(typed)) {
      const step = totpStepOf(await deps.box.decrypt(FIELD, state.secret), typed, at);
      if (step === null || !stepAccepted(step, state.lastStep)) return wrong;
      await useTotpStep(tx, userId, step);
      return done("totp" as const);
    }
    if (!isRecoveryCodeShape(typed)) return wrong;
    if (!await useRecoveryCode(tx, userId, await hashCode(typed), at)) return wrong;
    const remaining = await unusedRecoveryCodes(tx, userId);
    await recordEvent(tx, {
      event: "recovery_code_used",
      at,
      detail: { email: state.email, ip, remaining },
    });
    return done("recovery" as const);
  }, CHANGED);
}

/** What the security page shows of a user's second factor. */
export async function secondFactorStatus(
  deps: ActionDeps,
  userId: number,
): Promise<{ enabledAt: Date | null; unusedCodes: number }> {
  const state = await deps.db.transaction((tx) => lockTotp(tx, userId));
  return {
    enabledAt: state?.enabledAt ?? null,
    unusedCodes: state?.enabledAt ? await unusedRecoveryCodes(deps.db, userId) : 0,
  };
}
