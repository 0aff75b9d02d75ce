/**
 * One webhook request: POST the body with its signature, wait at most `timeoutMs` for the whole
 * answer, follow no redirect. The host is resolved by our own `lookup`, which refuses loopback
 * and private-network addresses unless allowed: the address checked is the address connected to,
 * so a name that resolves to a public address when saved and to 127.0.0.1 at delivery time (DNS
 * rebinding) is refused at delivery time.
 */
import http from "node:http";
import https from "node:https";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { insideHost, isLoopbackHost, isPrivateAddress } from "../domain/private_address.ts";
import { SIGNATURE_HEADER } from "../domain/webhooks.ts";

/** What a request is sent with. */
export interface WebhookRequest {
  url: string;
  body: string;
  signature: string;
  eventId: string;
  eventType: string;
}

/** How a request ended: an HTTP status, or no answer (`error` says why). */
export type WebhookResponse =
  | { kind: "answered"; status: number }
  | { kind: "refused"; error: string }
  | { kind: "failed"; error: string };

export interface WebhookPostOptions {
  /** WEBHOOK_ALLOW_PRIVATE: this machine and private networks may be reached. */
  allowPrivate: boolean;
  /** The whole request, connection to the end of the answer. */
  timeoutMs: number;
  userAgent?: string;
}

/**
 * A resolver that refuses every address of a private host, as node's `lookup` option takes;
 * `refused` is told why.
 */
function guardedLookup(allowPrivate: boolean, refused: (why: string) => void) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number },
    callback: (
      err: Error | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, []);
      // Every address is checked: a name with one public and one private address is refused.
      const inside = isLoopbackHost(hostname) ||
        addresses.some((a) => isPrivateAddress(a.address));
      if (!allowPrivate && inside) {
        const why = `${hostname} resolves to this machine or a private network (${
          addresses.map((a) => a.address).join(", ")
        }); set WEBHOOK_ALLOW_PRIVATE=1 to allow it`;
        refused(why);
        return callback(new Error(why), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      callback(null, first.address, first.family);
    });
  };
}

/** Sends one request; never rejects. */
export function postWebhook(
  request: WebhookRequest,
  options: WebhookPostOptions,
): Promise<WebhookResponse> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return Promise.resolve({ kind: "refused", error: `not a URL: ${request.url}` });
  }
  // An address literal is not resolved by `lookup`: it is checked here.
  const host = options.allowPrivate ? null : insideHost(url.hostname);
  if (host !== null) {
    return Promise.resolve({
      kind: "refused",
      error:
        `${host} is this machine or a private network; set WEBHOOK_ALLOW_PRIVATE=1 to allow it`,
    });
  }
  const body = new TextEncoder().encode(request.body);
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    let refusal: string | null = null;
    // Set below, once the request exists; settling before that finds no timer to clear.
    const clock: { timer?: ReturnType<typeof setTimeout> } = {};
    const finish = (r: WebhookResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(clock.timer);
      resolve(r);
    };
    const req = client.request(url, {
      method: "POST",
      // A connection per request, closed after it: no pooled socket is reused after a timeout.
      agent: false,
      lookup: guardedLookup(options.allowPrivate, (why) => refusal = why) as never,
      headers: {
        "Content-Type": "application/json",
        "Content-Length": String(body.length),
        "Connection": "close",
        "User-Agent": options.userAgent ?? "Carteiro-Webhooks",
        [SIGNATURE_HEADER]: request.signature,
        "Carteiro-Event-Id": request.eventId,
        "Carteiro-Event-Type": request.eventType,
      },
    }, (res) => {
      // The answer's body is read and dropped: only its status counts.
      res.on("data", () => {});
      res.on("end", () => finish({ kind: "answered", status: res.statusCode ?? 0 }));
      res.on("error", (e) => finish({ kind: "failed", error: e.message }));
    });
    clock.timer = setTimeout(() => {
      req.destroy();
      finish({ kind: "failed", error: `no answer within ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    req.on("error", (e) => {
      finish(
        refusal !== null
          ? { kind: "refused", error: refusal }
          : { kind: "failed", error: e.message || String(e) },
      );
    });
    req.end(body);
  });
}
