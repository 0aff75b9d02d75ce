/**
 * `webhook list | add URL --events E,… [--account NAME] | remove ID | enable ID | disable ID |
 * deliveries [--endpoint ID] [--status S] | resend ID | deliver --once`: webhook endpoints and
 * their deliveries from the command line, a thin adapter over src/actions/webhooks.ts. JSON on
 * standard output; a problem is one line per field on standard error and exit 1; a malformed
 * command line exit 2.
 */
import type { Db } from "../store/db.ts";
import { listAccounts } from "../store/accounts.ts";
import {
  deliveryJson,
  listWebhookDeliveries,
  listWebhookEndpoints,
  webhookJson,
} from "../store/webhooks.ts";
import {
  createWebhook,
  removeWebhook,
  resendDelivery,
  setWebhookEnabled,
} from "../actions/webhooks.ts";
import { problemLines, type Result } from "../actions/result.ts";
import type { WebhookSummary } from "../jobs/deliver_webhooks.ts";
import type { AdminIo } from "./admin_commands.ts";

/** How the command is called. */
export const WEBHOOK_USAGE = `usage: webhook list
       webhook add URL --events EVENT,... [--account NAME] [--description TEXT]
       webhook remove ID | webhook enable ID | webhook disable ID
       webhook deliveries [--endpoint ID] [--status STATUS] [--limit N]
       webhook resend DELIVERY_ID
       webhook deliver --once`;

const ID = /^[1-9][0-9]{0,14}$/;

/**
 * Runs `webhook ARGS` on `db`; `deliver` drains the deliveries due; `allowPrivate` is
 * WEBHOOK_ALLOW_PRIVATE. Resolves to the exit code.
 */
export async function webhookCommand(
  db: Db,
  args: string[],
  io: AdminIo,
  deliver: () => Promise<WebhookSummary>,
  allowPrivate = false,
): Promise<number> {
  const deps = { db, now: io.now, webhookAllowPrivate: allowPrivate };
  const [sub, ...rest] = args;
  const report = <T>(r: Result<T>, json: (v: T) => unknown): number => {
    if (!r.ok) {
      for (const line of problemLines(r.problem)) io.say(line);
      return 1;
    }
    io.print(json(r.value));
    return 0;
  };
  if (sub === "list" && rest.length === 0) {
    io.print((await listWebhookEndpoints(db)).map((e) => webhookJson(e)));
    return 0;
  }
  if (sub === "add") {
    const named = readOptions(rest, ["--events", "--account", "--description"]);
    if (!named || named.positional.length !== 1 || named.options["--events"] === undefined) {
      io.say(WEBHOOK_USAGE);
      return 2;
    }
    let accountId: number | null = null;
    const accountName = named.options["--account"];
    if (accountName !== undefined) {
      const account = (await listAccounts(db)).find((a) => a.name === accountName);
      if (!account) {
        io.say(`--account: no account is called "${accountName}"`);
        return 1;
      }
      accountId = account.id;
    }
    const created = await createWebhook(deps, {
      url: named.positional[0],
      events: named.options["--events"],
      accountId,
      description: named.options["--description"] ?? "",
    }, "cli");
    if (created.ok) {
      io.say("the secret signs every delivery; give it to the receiver (docs/webhooks.md)");
    }
    return report(created, (e) => ({ added: true, ...webhookJson(e, true) }));
  }
  if ((sub === "remove" || sub === "enable" || sub === "disable") && rest.length === 1) {
    if (!ID.test(rest[0])) {
      io.say(WEBHOOK_USAGE);
      return 2;
    }
    const id = Number(rest[0]);
    if (sub === "remove") {
      return report(await removeWebhook(deps, id, "cli"), (v) => ({ removed: true, id: v }));
    }
    return report(
      await setWebhookEnabled(deps, id, sub === "enable", "cli"),
      (e) => webhookJson(e),
    );
  }
  if (sub === "deliveries") {
    const named = readOptions(rest, ["--endpoint", "--status", "--limit"]);
    const endpoint = named?.options["--endpoint"];
    const limit = named?.options["--limit"];
    if (
      !named || named.positional.length > 0 || (endpoint !== undefined && !ID.test(endpoint)) ||
      (limit !== undefined && !(ID.test(limit) && Number(limit) <= 1000))
    ) {
      io.say(WEBHOOK_USAGE);
      return 2;
    }
    const rows = await listWebhookDeliveries(db, {
      endpointId: endpoint === undefined ? null : Number(endpoint),
      status: named.options["--status"] ?? null,
      limit: limit === undefined ? 50 : Number(limit),
    });
    io.print(rows.map(deliveryJson));
    return 0;
  }
  if (sub === "resend" && rest.length === 1 && ID.test(rest[0])) {
    return report(
      await resendDelivery(deps, Number(rest[0]), "cli"),
      (id) => ({ resent: true, id }),
    );
  }
  if (sub === "deliver" && rest.length === 1 && rest[0] === "--once") {
    io.print(await deliver());
    return 0;
  }
  io.say(WEBHOOK_USAGE);
  return 2;
}

/** Positional words and `--name value` options (each once, of those allowed), or null. */
function readOptions(
  args: string[],
  allowed: string[],
): { positional: string[]; options: Record<string, string> } | null {
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith("--")) {
      if (!allowed.includes(a) || a in options || args[i + 1] === undefined) return null;
      options[a] = args[++i];
    } else {
      positional.push(a);
    }
  }
  return { positional, options };
}
