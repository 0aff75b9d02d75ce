/** Ending a session from the admin's "log out": the session and its `logout` event together. */
import { deleteSession } from "../store/sessions.ts";
import { recordEvent } from "../store/audit.ts";
import { type ActionDeps, done, type Result, transact } from "./result.ts";

/** Ends the session whose token hashes to `sessionHash`, for the person `email`. */
export function endSession(
  deps: ActionDeps,
  sessionHash: string,
  email: string,
): Promise<Result<void>> {
  return transact(deps.db, async (tx) => {
    await deleteSession(tx, sessionHash);
    await recordEvent(tx, { event: "logout", at: deps.now(), detail: { email } });
    return done(undefined);
  }, "the session changed meanwhile");
}
