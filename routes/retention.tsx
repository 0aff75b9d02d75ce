/**
 * `/retention` (admin only): how long each account keeps raw sources and messages (set on the
 * account's settings page), how long the audit log is kept, what the next purge would remove, a
 * purge now, and the erasure of one address — reviewed first (what would be removed, per table),
 * then confirmed. See docs/retention.md.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { respond } from "./render.tsx";
import { purgeExpired, type PurgeReport } from "../src/jobs/retention_purge.ts";
import { listAccountRetentions } from "../src/store/retention.ts";
import {
  eraseAddress,
  type Erasure,
  retentionSettings,
  saveRetentionSettings,
} from "../src/actions/retention.ts";
import { problemLines } from "../src/actions/result.ts";
import type { AccountRetention } from "../src/store/retention.ts";

/** What the page shows besides the settings: a form typed again, problems, an outcome. */
interface PageExtra {
  auditForm?: string;
  auditErrors?: string[];
  purged?: PurgeReport;
  erase?: { address: string; errors?: string[]; review?: Erasure; done?: Erasure };
}

function days(t: Dict, n: number | null): string {
  return n === null ? t.forEver : fill(t.nDays, { n });
}

function RetentionPage(
  props: {
    t: Dict;
    csrf: string;
    accounts: AccountRetention[];
    keepAuditDays: number | null;
    due: PurgeReport;
    extra: PageExtra;
  },
) {
  const { t, csrf, due, extra } = props;
  const dueOf = (id: number) => due.accounts.find((a) => a.accountId === id);
  const erase = extra.erase;
  return (
    <div id="retention">
      <section>
        <h2>{t.retention}</h2>
        <p>{t.retentionIntro}</p>
        <table class="list">
          <thead>
            <tr>
              <th>{t.account}</th>
              <th>{t.keepRawDays}</th>
              <th>{t.keepMessagesDays}</th>
              <th>{t.dueRaw}</th>
              <th>{t.dueMessages}</th>
            </tr>
          </thead>
          <tbody>
            {props.accounts.map((a) => (
              <tr>
                <td>
                  <a href={`/accounts/${a.accountId}/settings`}>{a.accountName}</a>
                </td>
                <td>{days(t, a.keepRawDays)}</td>
                <td>{days(t, a.keepMessagesDays)}</td>
                <td>{dueOf(a.accountId)?.raw ?? 0}</td>
                <td>{dueOf(a.accountId)?.messages ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <form method="post" action="/retention/audit" class="inline-form">
          <CsrfField token={csrf} />
          <Problems t={t} errors={extra.auditErrors ?? []} />
          <label>
            {t.keepAuditDays} <span class="sub">{t.keepDaysHint}</span>{" "}
            <input
              type="text"
              inputmode="numeric"
              name="keep_audit_days"
              value={extra.auditForm ??
                (props.keepAuditDays === null ? "" : String(props.keepAuditDays))}
            />
          </label>
          <button type="submit">{t.save}</button>
        </form>
        <p>{fill(t.dueAudit, { n: due.totals.audit })}</p>
        {extra.purged && (
          <p class="ok" role="status">
            {fill(t.purgedSummary, {
              raw: extra.purged.totals.raw,
              messages: extra.purged.totals.messages,
              replies: extra.purged.totals.replies,
              audit: extra.purged.totals.audit,
            })}
          </p>
        )}
        <form method="post" action="/retention/purge" class="inline-form">
          <CsrfField token={csrf} />
          <button type="submit">{t.purgeNow}</button>
        </form>
      </section>
      <section id="erase">
        <h2>{t.eraseTitle}</h2>
        <p>{t.eraseIntro}</p>
        {erase?.done
          ? (
            <div class="ok" role="status">
              <p>{t.eraseDone}</p>
              <ErasureCounts t={t} e={erase.done} />
            </div>
          )
          : null}
        {erase?.review
          ? (
            <form method="post" action="/retention/erase">
              <CsrfField token={csrf} />
              <p>{fill(t.eraseReview, { address: erase.address })}</p>
              <ErasureCounts t={t} e={erase.review} />
              <input type="hidden" name="address" value={erase.address} />
              <input type="hidden" name="confirm" value="yes" />
              <p>
                <a href="/retention#erase">{t.cancel}</a>{" "}
                <button type="submit" class="danger">{t.eraseConfirm}</button>
              </p>
            </form>
          )
          : (
            <form method="post" action="/retention/erase" class="inline-form">
              <CsrfField token={csrf} />
              <Problems t={t} errors={erase?.errors ?? []} />
              <label>
                {t.eraseAddress}{" "}
                <input
                  type="email"
                  name="address"
                  value={erase?.done ? "" : erase?.address ?? ""}
                  required
                />
              </label>
              <button type="submit">{t.eraseCheck}</button>
            </form>
          )}
      </section>
    </div>
  );
}

/** The rows removed (or to be removed) per table, and what still names the address. */
function ErasureCounts(props: { t: Dict; e: Erasure }) {
  const { t, e } = props;
  return (
    <>
      <table class="list">
        <thead>
          <tr>
            <th>{t.eraseTable}</th>
            <th>{t.eraseRows}</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(e.removed).map(([table, n]) => (
            <tr>
              <td>
                <code>{table}</code>
              </td>
              <td>{n}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {e.left.rules.length > 0 && (
        <p>{fill(t.eraseLeftRules, { rules: e.left.rules.join(", ") })}</p>
      )}
      {e.left.user && <p>{t.eraseLeftUser}</p>}
    </>
  );
}

/** The retention page, its settings, the purge and the erasure. */
export function retentionRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (c: Context<AppEnv>, extra: PageExtra, status?: 422) => {
    const t = c.get("t");
    const [accounts, settings, due] = [
      await listAccountRetentions(deps.db),
      await retentionSettings(deps),
      await purgeExpired(deps, { dryRun: true, by: "" }),
    ];
    return respond(c, {
      title: t.retentionTitle,
      nav: "/retention",
      fragment: (
        <RetentionPage
          t={t}
          csrf={c.get("csrfToken")}
          accounts={accounts}
          keepAuditDays={settings.keepAuditDays}
          due={due}
          extra={extra}
        />
      ),
      status,
    });
  };

  const field = (body: Record<string, unknown>, key: string) =>
    typeof body[key] === "string" ? (body[key] as string).trim() : "";

  app.get("/retention", (c) => page(c, {}));

  app.post("/retention/audit", async (c) => {
    const typed = field(await c.req.parseBody(), "keep_audit_days");
    const saved = await saveRetentionSettings(
      deps,
      { keep_audit_days: typed === "" ? null : typed },
      actorName(c.get("actor")),
    );
    if (!saved.ok) {
      return await page(c, { auditForm: typed, auditErrors: problemLines(saved.problem) }, 422);
    }
    return c.redirect("/retention", 303);
  });

  app.post("/retention/purge", async (c) => {
    const purged = await purgeExpired(deps, { dryRun: false, by: actorName(c.get("actor")) });
    return await page(c, { purged });
  });

  app.post("/retention/erase", async (c) => {
    const body = await c.req.parseBody();
    const address = field(body, "address");
    const confirmed = field(body, "confirm") === "yes";
    const by = actorName(c.get("actor"));
    const erased = await eraseAddress(deps, address, by, { dryRun: !confirmed });
    if (!erased.ok) {
      return await page(c, { erase: { address, errors: problemLines(erased.problem) } }, 422);
    }
    return await page(c, {
      erase: confirmed ? { address, done: erased.value } : { address, review: erased.value },
    });
  });

  return app;
}
