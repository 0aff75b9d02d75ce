/**
 * Who may do what in the admin. Three roles, each including the one below it:
 * - `viewer` looks: every page and list, read only, and exports them (mbox, zip, CSV: reading
 *   too); and sets their own password and language;
 * - `operator` runs the desk: settles outbox rows, edits rules and the never-answer list, resets
 *   breakers, corrects classifications;
 * - `admin` also manages accounts, users, API tokens and webhooks — and anything not named here, so that
 *   a new page is closed until it is placed.
 * API tokens are not people: their scopes decide (src/domain/token_access.ts).
 */
export const ROLES = ["admin", "operator", "viewer"] as const;

export type Role = typeof ROLES[number];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Pages only an admin may even look at: who can log in, the API tokens, retention and erasure
 * (docs/retention.md), and the webhooks (their signing secrets).
 */
const ADMIN_PAGES = [
  /^\/users(\/|$)/,
  /^\/tokens(\/|$)/,
  /^\/retention(\/|$)/,
  /^\/webhooks(\/|$)/,
];

/**
 * What every person may post: their session, language, own password and own second factor, and
 * the request to show one message's remote images (a way of reading it, which changes nothing
 * stored).
 */
const OWN_CHANGES = [
  /^\/logout$/,
  /^\/lang$/,
  /^\/password$/,
  /^\/security(\/|$)/,
  /^\/messages\/[0-9]+\/images$/,
];

/** What an operator may change. */
const OPERATOR_CHANGES = [
  /^\/outbox(\/|$)/,
  /^\/rules(\/|$)/,
  /^\/exceptions(\/|$)/,
  /^\/breakers(\/|$)/,
  /^\/messages(\/|$)/,
];

/** The least role a request needs, by its method and path. */
export function roleNeeded(method: string, path: string): Role {
  if (ADMIN_PAGES.some((p) => p.test(path))) return "admin";
  if (SAFE_METHODS.has(method) || OWN_CHANGES.some((p) => p.test(path))) return "viewer";
  if (OPERATOR_CHANGES.some((p) => p.test(path))) return "operator";
  return "admin";
}

/** Whether `role` includes `needed`. */
export function roleIncludes(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}
