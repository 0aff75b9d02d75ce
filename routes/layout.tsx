// Rendered once on the server, never reconciled: list items need no `key` (which hono/jsx
// would print as an attribute).
// deno-lint-ignore-file jsx-key
/** The page frame: head, navigation, language switch, logout, and the htmx settings. */
import type { Child } from "hono/jsx";
import { type Dict, fill, type Lang, say } from "./i18n.ts";
import type { Role } from "../src/domain/roles.ts";
import { CSRF_FIELD } from "./auth.ts";

/** What every page frame needs to know about the request. */
export interface PageContext {
  t: Dict;
  lang: Lang;
  csrfToken: string;
  /** The person logged in, or null on the login page. */
  user: string | null;
  /** Their role: the admin-only pages are linked for admins only. */
  role: Role | null;
  /** The current path with its query, to come back to after switching language. */
  here: string;
  /** Loop breakers open now, by scope (a banner while any is); null or absent: none shown. */
  openBreakers?: { account: number; recipient: number } | null;
}

// htmx, hardened (RELIABILITY I-03): requests only to this origin, no eval, no inline scripts
// from swapped content, no history snapshots in localStorage (mail stays out of it; back/forward
// refetch the whole page), no inline indicator styles (the CSP allows no inline style), and 422
// and 409 answers are swapped (they carry the re-rendered form or row).
const HTMX_CONFIG = JSON.stringify({
  selfRequestsOnly: true,
  allowScriptTags: false,
  allowEval: false,
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
  includeIndicatorStyles: false,
  responseHandling: [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true },
    { code: "409", swap: true },
    { code: "[45]..", swap: false, error: true },
  ],
});

/** A hidden CSRF field for forms (they must work without JavaScript). */
export function CsrfField(props: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={props.token} />;
}

/** The whole page. `hx-headers` on body sends the CSRF token with every htmx request. */
export function Layout(
  props: { page: PageContext; title: string; nav?: string; children?: Child },
) {
  const { t, lang, csrfToken, user, role } = props.page;
  const adminOnly = new Set(["/users", "/tokens", "/retention", "/webhooks"]);
  const nav = [
    ["/overview", t.overview],
    ["/messages", t.messages],
    ["/outbox", t.outbox],
    ["/audit", t.audit],
    ["/rules", t.rules],
    ["/exceptions", t.exceptions],
    ["/breakers", t.breakers],
    ["/accounts", t.accounts],
    ["/users", t.users],
    ["/tokens", t.tokens],
    ["/retention", t.retention],
    ["/webhooks", t.webhooks],
  ].filter(([href]) => role === "admin" || !adminOnly.has(href));
  return (
    <html lang={lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{`${props.title} · Carteiro`}</title>
        <link rel="stylesheet" href="/static/app.css" />
        <script src="/static/htmx.min.js" defer></script>
        <script src="/static/time_zone.js" defer></script>
      </head>
      <body hx-headers={JSON.stringify({ "X-CSRF-Token": csrfToken })}>
        <header class="top">
          <a class="brand" href={user ? "/overview" : "/login"}>Carteiro</a>
          {user && (
            <nav>
              {nav.map(([href, label]) => (
                <a href={href} aria-current={props.nav === href ? "page" : undefined}>{label}</a>
              ))}
            </nav>
          )}
          <div class="session">
            <form method="post" action="/lang" class="inline">
              <CsrfField token={csrfToken} />
              <input type="hidden" name="back" value={props.page.here} />
              <button type="submit" name="lang" value="pt-BR" disabled={lang === "pt-BR"}>
                {t.langSwitchPt}
              </button>
              <button type="submit" name="lang" value="en" disabled={lang === "en"}>
                {t.langSwitchEn}
              </button>
            </form>
            {user && (
              <form method="post" action="/logout" class="inline">
                <CsrfField token={csrfToken} />
                <a class="user" href="/password" title={t.changePassword}>{user}</a>{" "}
                <button type="submit">{t.logout}</button>
              </form>
            )}
          </div>
        </header>
        {user && <BreakerBanner t={t} open={props.page.openBreakers} />}
        <main id="main">{props.children}</main>
      </body>
    </html>
  );
}

/** While a loop breaker is open, every page says so and links to where it is reset. */
function BreakerBanner(props: { t: Dict; open?: PageContext["openBreakers"] }) {
  const n = props.open ? props.open.account + props.open.recipient : 0;
  if (n === 0) return null;
  return (
    <div class="banner problems" role="alert" id="breaker-banner">
      {fill(props.t.breakersOpenBanner, { n })} <a href="/breakers">{props.t.breakersSee}</a>
    </div>
  );
}

/**
 * One problem: the rule it is about (a rules file's `"name"` or "(no name)"), a field's path
 * (`when.kind`, `imap_port`) as code, as the rules file and the form name it, and the sentence
 * in the viewer's language.
 */
function ProblemLine(props: { t: Dict; line: string }) {
  const { t } = props;
  const m = /^(?:(\(no name\)|"(?:[^"\\]|\\.)*"): )?([\w.[\]-]+): ([\s\S]*)$/.exec(props.line);
  if (!m) return <li>{say(t, props.line)}</li>;
  return (
    <li>
      {m[1] && `${m[1] === "(no name)" ? t.noName : m[1]}: `}
      <code>{m[2]}</code>: {say(t, m[3])}
    </li>
  );
}

/** A list of problems above a form. */
export function Problems(props: { t: Dict; errors: string[] }) {
  if (props.errors.length === 0) return null;
  return (
    <div class="problems" role="alert">
      <p>{props.t.fixErrors}</p>
      <ul>{props.errors.map((e) => <ProblemLine t={props.t} line={e} />)}</ul>
    </div>
  );
}
