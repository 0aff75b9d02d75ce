/**
 * `/breakers`: the loop breakers on record — open ones first — with when each tripped, why, and
 * when it closes by itself; a person resets one, or every open one (src/actions/breakers.ts,
 * audited as `breaker_reset`). The banner on every page links here while one is open.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { CsrfField } from "./layout.tsx";
import { idParam, When } from "./render.tsx";
import { type Column, ListView, respondList } from "./list_view.tsx";
import { type BreakerRow, listBreakers } from "../src/store/breakers.ts";
import { resetBreaker, resetOpenBreakers } from "../src/actions/breakers.ts";

function breakerColumns(t: Dict, csrf: string): Column<BreakerRow>[] {
  return [
    { label: t.account, cell: (r) => r.accountName },
    {
      label: t.breakerScope,
      cell: (r) => (r.recipient === null ? t.breakerScopeAccount : <code>{r.recipient}</code>),
    },
    { label: t.breakerTripped, class: "nowrap", cell: (r) => <When at={r.trippedAt} t={t} /> },
    {
      label: t.breakerCloses,
      class: "nowrap",
      cell: (r) => (r.openUntil ? <When at={r.openUntil} t={t} /> : t.breakerUntilReset),
    },
    {
      label: t.status,
      cell: (r) => (
        <span class={`badge ${r.open ? "failed" : "sent"}`}>
          {r.open ? t.breakerOpen : t.breakerClosed}
        </span>
      ),
    },
    { label: t.detail, cell: (r) => r.detail },
    {
      label: "",
      cell: (r) => (
        <form method="post" action={`/breakers/${r.id}/reset`} class="inline">
          <CsrfField token={csrf} />
          <button type="submit">{t.breakerReset}</button>
        </form>
      ),
    },
  ];
}

function BreakersSection(props: { t: Dict; rows: BreakerRow[]; csrf: string }) {
  const { t } = props;
  return (
    <ListView
      t={t}
      id="breakers"
      top={
        <>
          <p>{t.breakersIntro}</p>
          {props.rows.some((r) => r.open) && (
            <form method="post" action="/breakers/reset" class="inline">
              <CsrfField token={props.csrf} />
              <button type="submit">{t.breakersResetAll}</button>
            </form>
          )}
        </>
      }
      rows={props.rows}
      empty={t.noBreakers}
      table={{ class: "list", inert: true, columns: breakerColumns(t, props.csrf) }}
    />
  );
}

/** The breakers page and its reset buttons (plain forms: they work without JavaScript). */
export function breakerRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (c: Context<AppEnv>) => {
    const t = c.get("t");
    const rows = await listBreakers(deps.db, deps.now());
    const list = <BreakersSection t={t} rows={rows} csrf={c.get("csrfToken")} />;
    return await respondList(c, { title: t.breakers, nav: "/breakers", list });
  };

  app.get("/breakers", page);

  app.post("/breakers/reset", async (c) => {
    await resetOpenBreakers(deps, actorName(c.get("actor")));
    return c.redirect("/breakers", 303);
  });

  app.post("/breakers/:id{[0-9]+}/reset", async (c) => {
    // One reset meanwhile by someone else is already what the person wanted: back to the list.
    await resetBreaker(deps, idParam(c.req.param("id")) ?? 0, actorName(c.get("actor")));
    return c.redirect("/breakers", 303);
  });

  return app;
}
