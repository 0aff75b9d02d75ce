/**
 * TOTP (RFC 6238) with `otpauth`: SHA-1, 6 digits, 30-second steps, one step either side accepted
 * for clock drift (§5.2), as every authenticator app reads an `otpauth://` URI. The QR code is an
 * inline SVG from `qrcode`, so the page loads nothing from elsewhere.
 */
import * as OTPAuth from "otpauth";
// @deno-types="@types/qrcode"
import QRCode from "qrcode";
import {
  RECOVERY_CODE_COUNT,
  RECOVERY_CODE_LENGTH,
  recoveryCodeFrom,
} from "../domain/second_factor.ts";

const ISSUER = "Carteiro";
const PERIOD = 30;

function totpOf(secretBase32: string, label = "") {
  return new OTPAuth.TOTP({
    issuer: ISSUER,
    label,
    secret: OTPAuth.Secret.fromBase32(secretBase32),
    algorithm: "SHA1",
    digits: 6,
    period: PERIOD,
  });
}

/** A new 160-bit secret (RFC 4226 §4's recommended length), in base32. */
export function newTotpSecret(): string {
  return new OTPAuth.Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/…` URI an authenticator app adds. */
export function totpUri(secretBase32: string, email: string): string {
  return totpOf(secretBase32, email).toString();
}

/**
 * The time-step of `code` if it is right at `at` (within one step either side), else null. The
 * caller refuses a step already used (src/domain/second_factor.ts `stepAccepted`).
 */
export function totpStepOf(secretBase32: string, code: string, at: Date): number | null {
  const token = code.replace(/\s/g, "");
  if (!/^\d{6}$/.test(token)) return null;
  const delta = totpOf(secretBase32).validate({ token, timestamp: at.getTime(), window: 1 });
  return delta === null ? null : Math.floor(at.getTime() / 1000 / PERIOD) + delta;
}

/** The QR code of a URI as an SVG element (markup made by `qrcode`, no script, no link). */
export async function qrSvg(uri: string): Promise<string> {
  return await QRCode.toString(uri, { type: "svg", margin: 2, errorCorrectionLevel: "M" });
}

/** Ten fresh recovery codes, as shown to the person once. */
export function newRecoveryCodes(): string[] {
  return Array.from(
    { length: RECOVERY_CODE_COUNT },
    () => recoveryCodeFrom(crypto.getRandomValues(new Uint8Array(RECOVERY_CODE_LENGTH))),
  );
}
