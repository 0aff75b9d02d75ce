// Rendered once on the server, never reconciled: list items need no `key` (which hono/jsx
// would print as an attribute).
// deno-lint-ignore-file jsx-key
/**
 * `/overview`: where a person lands after login. Messages and replies today, in 7 and in 30
 * days, replies waiting for a person, each account's health, and charts per hour and per day
 * drawn as SVG on the server (no chart code runs in the browser). The block refreshes itself
 * with htmx every 30 s; without JavaScript the page is whole and a reload refreshes it.
 */
import { Hono } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill, reasonName } from "./i18n.ts";
import { respond, When } from "./render.tsx";
import { fmtDate } from "./viewer_time.ts";
import { fmtLag, groupDigits, IdleState } from "./accounts_table.tsx";
import { type Overview, type OverviewAccount, readOverview } from "../src/store/overview.ts";
import type { Bucket, PeriodCounts } from "../src/domain/overview_buckets.ts";

/** The fragment htmx swaps: its root carries the trigger, so each swap keeps refreshing. */
export const OVERVIEW_ID = "overview";

function PeriodRow(props: { label: string; counts: PeriodCounts; id?: string }) {
  const c = props.counts;
  return (
    <tr data-row={props.id}>
      <th scope="row">{props.label}</th>
      <td class="num" data-period="today">{groupDigits(c.today)}</td>
      <td class="num" data-period="days7">{groupDigits(c.days7)}</td>
      <td class="num" data-period="days30">{groupDigits(c.days30)}</td>
    </tr>
  );
}

function PeriodTable(props: { t: Dict; caption: string; id: string; children: unknown }) {
  const { t } = props;
  return (
    <table class="list overview-periods" id={props.id}>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t.ovPeriod}</th>
          <th scope="col" class="num">{t.ovToday}</th>
          <th scope="col" class="num">{t.ov7days}</th>
          <th scope="col" class="num">{t.ov30days}</th>
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}

/** The three series a chart draws, bucket by bucket. */
interface Series {
  messages: Bucket[];
  sent: Bucket[];
  suppressed: Bucket[];
}

const SERIES = ["messages", "sent", "suppressed"] as const;
const W = 720;
const H = 160;
const TOP = 14;
const BOTTOM = 20;

/**
 * A grouped bar chart: for each hour or day, bars for messages, replies sent and replies
 * suppressed. Read by a screen reader through its title and description; the numbers are also
 * in the table below it.
 */
function BarChart(
  props: { t: Dict; id: string; title: string; series: Series; label: (d: Date) => string },
) {
  const { t, series } = props;
  const n = series.messages.length;
  const max = Math.max(1, ...SERIES.flatMap((s) => series[s].map((b) => b.n)));
  const slot = W / n;
  const bar = Math.max(1, (slot - 2) / 3);
  const plot = H - TOP - BOTTOM;
  const every = n > 31 ? 6 : 5;
  const total = (s: (typeof SERIES)[number]) => series[s].reduce((a, b) => a + b.n, 0);
  const names = { messages: t.messages, sent: t.ovSent, suppressed: t.ovSuppressed };
  const desc = SERIES.map((s) => `${names[s]}: ${total(s)}`).join("; ") +
    `; ${fill(t.ovChartMax, { n: max })}`;
  return (
    <figure class="chart" id={props.id}>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby={`${props.id}-title ${props.id}-desc`}
        xmlns="http://www.w3.org/2000/svg"
      >
        <title id={`${props.id}-title`}>{props.title}</title>
        <desc id={`${props.id}-desc`}>{desc}</desc>
        <line class="axis" x1="0" y1={H - BOTTOM} x2={W} y2={H - BOTTOM} />
        <text class="max" x="2" y="10">{fill(t.ovChartMax, { n: max })}</text>
        {series.messages.map((b, i) => (
          <g>
            {SERIES.map((s, k) => {
              const v = series[s][i].n;
              const h = (v / max) * plot;
              return (
                <rect
                  class={`bar ${s}`}
                  data-series={s}
                  data-n={v}
                  x={(i * slot + 1 + k * bar).toFixed(1)}
                  y={(H - BOTTOM - h).toFixed(1)}
                  width={bar.toFixed(1)}
                  height={h.toFixed(1)}
                >
                  <title>{`${props.label(b.start)}: ${names[s]} ${v}`}</title>
                </rect>
              );
            })}
            {i % every === 0 && (
              <text class="tick" x={(i * slot + 1).toFixed(1)} y={H - 6}>
                {props.label(b.start)}
              </text>
            )}
          </g>
        ))}
      </svg>
      <figcaption>
        {props.title} {SERIES.map((s) => <span class={`key ${s}`}>{names[s]}</span>)}
      </figcaption>
      <details>
        <summary>{t.ovChartNumbers}</summary>
        <table class="list">
          <thead>
            <tr>
              <th scope="col">{n > 31 ? t.ovHourUtc : t.ovDayUtc}</th>
              {SERIES.map((s) => <th scope="col" class="num">{names[s]}</th>)}
            </tr>
          </thead>
          <tbody>
            {series.messages.map((b, i) => (
              <tr>
                <th scope="row">{props.label(b.start)}</th>
                {SERIES.map((s) => <td class="num">{series[s][i].n}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

const hourLabel = (d: Date) => `${d.toISOString().slice(5, 10)} ${d.toISOString().slice(11, 13)}h`;
const dayLabel = (d: Date) => d.toISOString().slice(5, 10);

function Breakers(props: { t: Dict; a: OverviewAccount }) {
  const { t, a } = props;
  if (!a.breakers.account && a.breakers.recipients === 0) return <>{t.ovBreakersClosed}</>;
  return (
    <span class="error">
      {a.breakers.account && t.ovBreakerAccount}
      {a.breakers.account && a.breakers.recipients > 0 && "; "}
      {a.breakers.recipients > 0 && fill(t.ovBreakerRecipients, { n: a.breakers.recipients })}
    </span>
  );
}

function AccountsHealth(props: { t: Dict; accounts: OverviewAccount[] }) {
  const { t, accounts } = props;
  if (accounts.length === 0) return <p class="muted">{t.ovNoAccounts}</p>;
  return (
    <table class="list" id="overview-accounts">
      <thead>
        <tr>
          <th scope="col">{t.account}</th>
          <th scope="col">{t.idleColumn}</th>
          <th scope="col">{t.lag}</th>
          <th scope="col" class="num">{t.failuresInARow}</th>
          <th scope="col">{t.ovBreakers}</th>
        </tr>
      </thead>
      <tbody>
        {accounts.map((a) => (
          <tr data-account={a.id}>
            <td>
              <a href={`/accounts/${a.id}`}>{a.name}</a>
              <div class="sub">{a.address}{a.enabled ? "" : ` · ${t.disabled}`}</div>
            </td>
            <td>
              <IdleState t={t} idle={a.health.idle} />
            </td>
            <td data-lag={a.lagSeconds ?? ""}>
              {fmtLag(a.lagSeconds, t)}
              <div class="sub">
                <When at={a.lastSyncAt} t={t} />
              </div>
            </td>
            <td class={a.consecutiveFailures > 0 ? "num error" : "num"}>
              {a.consecutiveFailures}
              {a.lastError && <div class="sub">{a.lastError}</div>}
            </td>
            <td>
              <Breakers t={t} a={a} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The refreshing block: every figure of the page. */
export function OverviewBlock(props: { t: Dict; o: Overview }) {
  const { t, o } = props;
  return (
    <div
      id={OVERVIEW_ID}
      hx-get="/overview"
      hx-trigger="every 30s"
      hx-swap="outerHTML"
      data-at={o.at.toISOString()}
    >
      <p class="muted" id="overview-updated">
        {fill(t.ovUpdated, { at: fmtDate(o.at, t) })} {t.ovPeriodsNote}
      </p>
      <div class="overview-grid">
        <PeriodTable t={t} caption={t.messages} id="overview-messages">
          <PeriodRow label={t.ovAllMessages} counts={o.messages.all} id="all" />
          <PeriodRow label={t.forwarded} counts={o.messages.forwarded} id="forwarded" />
          <PeriodRow label={t.direct} counts={o.messages.direct} id="direct" />
        </PeriodTable>
        <PeriodTable t={t} caption={t.ovReplies} id="overview-replies">
          <PeriodRow label={t.ovSent} counts={o.replies.sent} id="sent" />
          {o.replies.suppressed.map((r) => (
            <PeriodRow
              label={fill(t.ovSuppressedBy, { reason: reasonName(t, r.reason) })}
              counts={r}
              id={`suppressed-${r.reason}`}
            />
          ))}
        </PeriodTable>
      </div>
      {o.replies.suppressed.length === 0 && <p class="muted">{t.ovNoSuppressed}</p>}
      <h2>{t.ovWaiting}</h2>
      <p id="overview-waiting" data-n={o.waiting}>
        {o.waiting > 0
          ? (
            <a href="/outbox?status=unknown" class="error">
              {fill(t.ovWaitingCount, { n: o.waiting })}
            </a>
          )
          : t.ovNoneWaiting}
      </p>
      <h2>{t.ovAccountsHealth}</h2>
      <AccountsHealth t={t} accounts={o.accounts} />
      <BarChart
        t={t}
        id="chart-hourly"
        title={t.ovChartHourly}
        series={o.charts.hourly}
        label={hourLabel}
      />
      <BarChart
        t={t}
        id="chart-daily"
        title={t.ovChartDaily}
        series={o.charts.daily}
        label={dayLabel}
      />
    </div>
  );
}

/** `GET /overview`: the page, or (htmx) the block alone. */
export function overviewRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/overview", async (c) => {
    const t = c.get("t");
    const o = await readOverview(deps.db, deps.now());
    const block = <OverviewBlock t={t} o={o} />;
    return respond(c, {
      title: t.overview,
      nav: "/overview",
      fragment: block,
      page: (
        <>
          <h1>{t.overview}</h1>
          {block}
        </>
      ),
    });
  });
  return app;
}
