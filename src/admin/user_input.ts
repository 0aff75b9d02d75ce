/**
 * What a user's e-mail and password must be, for the CLI, the users page, a password change and
 * the setup page alike: at least 12 characters, not a common password, not one repeated character.
 * Problems come back as codes; each edge words them (the CLI in English, the page in the
 * person's language).
 */

import { dictionary } from "@zxcvbn-ts/language-common";

/** Shortest password accepted (OWASP ASVS 6.2.1: at least 8; we ask for 12). */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password accepted: PBKDF2 hashes all of it, so an unbounded one is work for free. */
export const MAX_PASSWORD_LENGTH = 1024;

const EMAIL =
  /^[^\s@<>"(),;:]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$|^[^\s@<>"(),;:]{1,64}@localhost$/;

/** A problem with a new user's input. */
export type NewUserProblem =
  | "email_invalid"
  | "password_short"
  | "password_long"
  | "password_common"
  | "password_repeated"
  | "password_mismatch";

/**
 * Whether a password is one everybody guesses: in the list of common passwords that zxcvbn
 * ships (compared without case), or one character repeated ("aaaaaaaaaaaa").
 */
export function weakPasswordProblems(password: string): NewUserProblem[] {
  if (password.length > 0 && [...password].every((ch) => ch === password[0])) {
    return ["password_repeated"];
  }
  const common = dictionary["passwords-common"] as readonly string[];
  return common.includes(password.toLowerCase()) ? ["password_common"] : [];
}

/** The e-mail as it is stored: trimmed, lower-cased. */
export function normalEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Whether an e-mail (as stored) has the shape of an address. */
export function isEmailShape(email: string): boolean {
  return EMAIL.test(email);
}

/**
 * Every problem with a new user's e-mail and password, in the order of the form; empty when
 * there is none. `confirmation`, when given, must equal the password.
 */
export function newUserProblems(
  input: { email: string; password: string; confirmation?: string },
): NewUserProblem[] {
  const problems: NewUserProblem[] = [];
  if (!isEmailShape(normalEmail(input.email))) problems.push("email_invalid");
  if (input.password.length < MIN_PASSWORD_LENGTH) problems.push("password_short");
  if (input.password.length > MAX_PASSWORD_LENGTH) problems.push("password_long");
  // A password of the wrong length is refused for that alone, however weak it also is.
  if (!problems.some((p) => p !== "email_invalid")) {
    problems.push(...weakPasswordProblems(input.password));
  }
  if (input.confirmation !== undefined && input.confirmation !== input.password) {
    problems.push("password_mismatch");
  }
  return problems;
}
