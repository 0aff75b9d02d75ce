/** Answers with the whole page or with its fragment, from the same component. */
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import { html } from "hono/html";
import type { AppEnv } from "./app_env.ts";
import { Layout, type PageContext } from "./layout.tsx";
import { wantsFragment } from "./htmx.ts";
import { parseId } from "./params.ts";
import type { Dict } from "./i18n.ts";
import { fmtDate } from "./viewer_time.ts";

/** The page frame's inputs for this request. */
export function pageContext(c: Context<AppEnv>): PageContext {
  const actor = c.get("actor");
  const url = new URL(c.req.url);
  return {
    t: c.get("t"),
    lang: c.get("lang"),
    csrfToken: c.get("csrfToken"),
    user: actor?.kind === "session" ? actor.email : null,
    role: actor?.kind === "session" ? actor.role : null,
    here: c.req.method === "GET" ? url.pathname + url.search : url.pathname,
    openBreakers: c.get("openBreakers") ?? null,
  };
}

/**
 * `fragment` alone when htmx asks for a fragment; otherwise the page: `page` (defaults to the
 * fragment) inside the layout. Status as given (422 for a form with problems).
 */
export function respond(
  c: Context<AppEnv>,
  opts: {
    title: string;
    nav?: string;
    fragment: Child;
    page?: Child;
    status?: 200 | 404 | 409 | 410 | 422 | 429 | 401 | 403;
  },
) {
  const status = opts.status ?? 200;
  if (wantsFragment(c)) return c.html(<>{opts.fragment}</>, status);
  const body = (
    <Layout page={pageContext(c)} title={opts.title} nav={opts.nav}>
      {opts.page ?? opts.fragment}
    </Layout>
  );
  return c.html(html`<!doctype html>${body}`, status);
}

/** A moment in a `<time>` element: the viewer's zone and language, the ISO instant for machines. */
export function When(props: { at: Date | null | undefined; t: Dict }) {
  if (!props.at || Number.isNaN(props.at.getTime())) return <>—</>;
  return <time datetime={props.at.toISOString()}>{fmtDate(props.at, props.t)}</time>;
}

/**
 * Reads an id from a path parameter: 1 to 2³¹−1 in decimal digits (the id columns are 32-bit);
 * null otherwise, which the routes answer with 404.
 */
export function idParam(text: string | undefined): number | null {
  return parseId(text);
}
