/**
 * `/webhooks` (admin only): the endpoints that receive signed events, with a form to add one,
 * buttons to turn one on or off and to delete it, an edit page that shows its secret, and the
 * most recent deliveries with their status, attempts, last error and next try, each with a button
 * that sends it again.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { idParam, respond } from "./render.tsx";
import { fmtDate } from "./viewer_time.ts";
import { type Column, ListTable, ListView, respondList } from "./list_view.tsx";
import { wantsFragment } from "./htmx.ts";
import { listAccounts } from "../src/store/accounts.ts";
import {
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  type WebhookDeliveryRow,
  type WebhookEndpoint,
} from "../src/store/webhooks.ts";
import {
  createWebhook,
  removeWebhook,
  resendDelivery,
  setWebhookEnabled,
  updateWebhook,
  type WebhookRequestInput,
} from "../src/actions/webhooks.ts";
import { problemLines } from "../src/actions/result.ts";
import { WEBHOOK_EVENTS } from "../src/domain/webhooks.ts";

type Account = { id: number; name: string };

/** The form as sent, to show again beside its errors. */
interface EndpointForm {
  url: string;
  events: string[];
  accountId: string;
  description: string;
  enabled: boolean;
}

const EMPTY_FORM: EndpointForm = {
  url: "",
  events: [],
  accountId: "",
  description: "",
  enabled: true,
};

function formOf(e: WebhookEndpoint): EndpointForm {
  return {
    url: e.url,
    events: e.events,
    accountId: e.accountId === null ? "" : String(e.accountId),
    description: e.description,
    enabled: e.enabled,
  };
}

function accountName(t: Dict, accounts: Account[], id: number | null): string {
  if (id === null) return t.allAccounts;
  return accounts.find((a) => a.id === id)?.name ?? `#${id}`;
}

function EndpointFields(props: { t: Dict; form: EndpointForm; accounts: Account[] }) {
  const { t, form } = props;
  return (
    <>
      <label>
        {t.whUrl}{" "}
        <input type="url" name="url" value={form.url} maxlength={2000} required size={50} />
      </label>
      <label>
        {t.account}{" "}
        <select name="account_id">
          <option value="" selected={form.accountId === ""}>{t.allAccounts}</option>
          {props.accounts.map((a) => (
            <option value={String(a.id)} selected={form.accountId === String(a.id)}>
              {a.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t.whDescription}{" "}
        <input type="text" name="description" value={form.description} maxlength={200} />
      </label>
      <fieldset class="inline">
        <legend>{t.whEvents}</legend>
        <input type="hidden" name="events" value="" />
        {WEBHOOK_EVENTS.map((e) => (
          <label>
            <input type="checkbox" name="events" value={e} checked={form.events.includes(e)} />{" "}
            <code>{e}</code>
          </label>
        ))}
      </fieldset>
    </>
  );
}

function endpointColumns(t: Dict, csrf: string, accounts: Account[]): Column<WebhookEndpoint>[] {
  return [
    { label: "#", cell: (e) => String(e.id) },
    { label: t.whUrl, cell: (e) => <a href={`/webhooks/${e.id}`}>{e.url}</a> },
    { label: t.account, cell: (e) => accountName(t, accounts, e.accountId) },
    { label: t.whEvents, cell: (e) => e.events.join(", ") },
    { label: t.status, cell: (e) => (e.enabled ? t.enabled : t.disabled) },
    {
      label: t.actions,
      cell: (e) => (
        <>
          <form method="post" action={`/webhooks/${e.id}/enabled`} class="inline">
            <CsrfField token={csrf} />
            <input type="hidden" name="enabled" value={e.enabled ? "0" : "1"} />
            <button type="submit">{e.enabled ? t.disable : t.enable}</button>
          </form>{" "}
          <form method="post" action={`/webhooks/${e.id}/delete`} class="inline">
            <CsrfField token={csrf} />
            <button type="submit">{t.delete}</button>
          </form>
        </>
      ),
    },
  ];
}

const STATUS_LABELS = {
  pending: "whStatusPending",
  sending: "whStatusSending",
  retry: "whStatusRetry",
  delivered: "whStatusDelivered",
  failed: "whStatusFailed",
} as const;

function deliveryColumns(t: Dict, csrf: string): Column<WebhookDeliveryRow>[] {
  return [
    { label: "#", cell: (d) => String(d.id) },
    { label: t.event, cell: (d) => <code>{d.eventType}</code> },
    { label: t.whEndpoint, cell: (d) => `#${d.endpointId}` },
    { label: t.created, cell: (d) => fmtDate(d.createdAt, t) },
    { label: t.status, cell: (d) => t[STATUS_LABELS[d.status]] },
    { label: t.attempts, cell: (d) => String(d.attempts) },
    {
      label: t.lastError,
      cell: (d) => d.lastError ?? (d.lastStatus === null ? "" : `HTTP ${d.lastStatus}`),
    },
    {
      label: t.nextTry,
      cell: (
        d,
      ) => (d.status === "pending" || d.status === "retry" ? fmtDate(d.nextAttemptAt, t) : ""),
    },
    {
      label: "",
      cell: (d) =>
        d.status !== "sending" && (
          <form method="post" action={`/webhooks/deliveries/${d.id}/resend`} class="inline">
            <CsrfField token={csrf} />
            <button type="submit">{t.whResend}</button>
          </form>
        ),
    },
  ];
}

function WebhooksSection(
  props: {
    t: Dict;
    endpoints: WebhookEndpoint[];
    deliveries: WebhookDeliveryRow[];
    accounts: Account[];
    csrf: string;
    created?: WebhookEndpoint;
    form?: EndpointForm;
    errors?: string[];
  },
) {
  const { t } = props;
  return (
    <div id="webhooks">
      <ListView
        t={t}
        id="webhook-endpoints"
        errors={props.errors}
        top={
          <>
            <p>{t.whHelp}</p>
            {props.created && (
              <p class="ok" role="status">
                {fill(t.whCreated, { id: props.created.id })}{" "}
                <code class="token">{props.created.secret}</code>
              </p>
            )}
            <form method="post" action="/webhooks" class="inline-form">
              <CsrfField token={props.csrf} />
              <EndpointFields t={t} form={props.form ?? EMPTY_FORM} accounts={props.accounts} />
              <button type="submit">{t.whAdd}</button>
            </form>
          </>
        }
        rows={props.endpoints}
        empty={t.whNone}
        table={{
          class: "list",
          inert: true,
          columns: endpointColumns(t, props.csrf, props.accounts),
        }}
      />
      <h2>{t.whDeliveries}</h2>
      {props.deliveries.length === 0 ? <p class="empty">{t.whNoDeliveries}</p> : (
        <ListTable
          class="list"
          inert
          columns={deliveryColumns(t, props.csrf)}
          rows={props.deliveries}
        />
      )}
    </div>
  );
}

/** What a form posted, as the action's input and as the form to show again. */
async function readForm(c: Context<AppEnv>): Promise<{
  form: EndpointForm;
  input: WebhookRequestInput;
}> {
  const body = await c.req.parseBody({ all: true });
  const text = (v: unknown) => (typeof v === "string" ? v.trim() : "");
  const events = [body.events].flat().filter((v): v is string => typeof v === "string" && v !== "");
  const form: EndpointForm = {
    url: text(body.url),
    events,
    accountId: text(body.account_id),
    description: text(body.description),
    // The edit form sends a hidden "0" and, when the box is ticked, "1" after it.
    enabled: body.enabled === undefined ? true : [body.enabled].flat().includes("1"),
  };
  const accountId = /^[1-9][0-9]{0,9}$/.test(form.accountId) ? Number(form.accountId) : null;
  return {
    form,
    input: {
      url: form.url,
      events,
      accountId,
      description: form.description,
      enabled: form.enabled,
    },
  };
}

export function webhookRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const by = (c: Context<AppEnv>) => actorName(c.get("actor"));

  const page = async (
    c: Context<AppEnv>,
    extra: { created?: WebhookEndpoint; form?: EndpointForm; errors?: string[] },
    status?: 404 | 409 | 422,
  ) => {
    const t = c.get("t");
    const list = (
      <WebhooksSection
        t={t}
        endpoints={await listWebhookEndpoints(deps.db)}
        deliveries={await listWebhookDeliveries(deps.db, { limit: 50 })}
        accounts={await listAccounts(deps.db)}
        csrf={c.get("csrfToken")}
        {...extra}
      />
    );
    return await respondList(c, { title: t.webhooks, nav: "/webhooks", list, status });
  };

  const back = async (c: Context<AppEnv>) =>
    wantsFragment(c) ? await page(c, {}) : c.redirect("/webhooks", 303);

  app.get("/webhooks", (c) => page(c, {}));

  app.post("/webhooks", async (c) => {
    const { form, input } = await readForm(c);
    const created = await createWebhook(deps, input, by(c));
    if (!created.ok) return await page(c, { form, errors: problemLines(created.problem) }, 422);
    // The secret is on this page; it must not be cached anywhere.
    c.header("Cache-Control", "no-store");
    return await page(c, { created: created.value });
  });

  const editPage = async (
    c: Context<AppEnv>,
    e: WebhookEndpoint,
    form: EndpointForm,
    errors: string[] = [],
    status?: 422,
  ) => {
    const t = c.get("t");
    const accounts = await listAccounts(deps.db);
    c.header("Cache-Control", "no-store");
    const fragment = (
      <div id="webhook-edit">
        <Problems t={t} errors={errors} />
        <p>
          {t.whSecret}: <code class="token">{e.secret}</code>
        </p>
        <p>{t.whSecretHelp}</p>
        <form method="post" action={`/webhooks/${e.id}`}>
          <CsrfField token={c.get("csrfToken")} />
          <EndpointFields t={t} form={form} accounts={accounts} />
          <label>
            <input type="hidden" name="enabled" value="0" />
            <input type="checkbox" name="enabled" value="1" checked={form.enabled} /> {t.enabled}
          </label>
          <button type="submit">{t.save}</button> <a href="/webhooks">{t.cancel}</a>
        </form>
      </div>
    );
    const title = fill(t.whEditTitle, { id: e.id });
    return await respond(c, {
      title,
      nav: "/webhooks",
      fragment,
      page: (
        <>
          <h1>{title}</h1>
          {fragment}
        </>
      ),
      status,
    });
  };

  app.get("/webhooks/:id{[0-9]+}", async (c) => {
    const e = await getWebhookEndpoint(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!e) return c.notFound();
    return await editPage(c, e, formOf(e));
  });

  app.post("/webhooks/:id{[0-9]+}", async (c) => {
    const id = idParam(c.req.param("id")) ?? 0;
    const { form, input } = await readForm(c);
    const updated = await updateWebhook(deps, id, input, by(c));
    if (!updated.ok) {
      const e = await getWebhookEndpoint(deps.db, id);
      if (!e) return c.notFound();
      return await editPage(c, e, form, problemLines(updated.problem), 422);
    }
    return c.redirect("/webhooks", 303);
  });

  app.post("/webhooks/:id{[0-9]+}/enabled", async (c) => {
    const body = await c.req.parseBody();
    const id = idParam(c.req.param("id")) ?? 0;
    const changed = await setWebhookEnabled(deps, id, body.enabled === "1", by(c));
    if (!changed.ok) return c.notFound();
    return await back(c);
  });

  app.post("/webhooks/:id{[0-9]+}/delete", async (c) => {
    const removed = await removeWebhook(deps, idParam(c.req.param("id")) ?? 0, by(c));
    if (!removed.ok) return c.notFound();
    return await back(c);
  });

  app.post("/webhooks/deliveries/:id{[0-9]+}/resend", async (c) => {
    const resent = await resendDelivery(deps, idParam(c.req.param("id")) ?? 0, by(c));
    if (!resent.ok) {
      if (resent.problem.code === "not_found") return c.notFound();
      return await page(c, { errors: problemLines(resent.problem) }, 409);
    }
    return await back(c);
  });

  return app;
}
