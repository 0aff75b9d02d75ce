/** The typed context every admin route sees (`c.var`, `c.env`). */
import type { Dict, Lang } from "./i18n.ts";
import type { Role } from "../src/domain/roles.ts";

/** Who is making the request: a person with a session, or an API token. */
export type Actor =
  | {
    kind: "session";
    userId: number;
    email: string;
    role: Role;
    csrfToken: string;
    sessionHash: string;
  }
  | { kind: "token"; tokenId: number; name: string };

export interface AppEnv {
  Variables: {
    lang: Lang;
    t: Dict;
    /** Set by the session or token middleware on every protected route. */
    actor: Actor;
    /** The CSRF token pages must embed: the session's, or the pre-login one. */
    csrfToken: string;
    /** Loop breakers open now, by scope, for the banner of a whole page; null: not read. */
    openBreakers: { account: number; recipient: number } | null;
  };
  /** What `Deno.serve` passes as the second argument of `fetch` (ServeHandlerInfo). */
  Bindings: { remoteAddr?: { hostname?: string } };
}

/** The name an action is audited under: the person's e-mail or `token:NAME`. */
export function actorName(actor: Actor): string {
  return actor.kind === "session" ? actor.email : `token:${actor.name}`;
}
