/**
 * How a CLI command reaches the embedded database, which only one process may have open: when
 * a process owns the data folder (the service, or another CLI command), the command runs inside
 * it, through the command socket; when none does, this process opens the files itself and owns
 * them for the command's length. A holder that has the folder but does not answer yet (starting,
 * or stopping) is waited for, up to `patienceMs`.
 */
import { DataDirBusyError } from "../store/data_dir_lock.ts";
import type { ForwardResult } from "./command_socket_client.ts";

export interface EmbeddedAccess {
  /** Hands the command to the folder's owner, if one listens on the socket. */
  forward(): Promise<ForwardResult>;
  /**
   * Opens the files and runs the command in this process; rejects with `DataDirBusyError`,
   * before running anything, when another process holds the folder.
   */
  runHere(): Promise<number>;
  /** A line for the person on stderr. */
  say(line: string): void;
  sleep(ms: number): Promise<void>;
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** How long to wait for a holder that neither answers nor lets go (a few minutes). */
  patienceMs: number;
}

/** Runs the command where the data is; resolves to its exit code. */
export async function runOnEmbedded(access: EmbeddedAccess): Promise<number> {
  const start = access.now();
  let told = false;
  while (true) {
    const forwarded = await access.forward();
    if (forwarded.reached) return forwarded.code;
    try {
      return await access.runHere();
    } catch (e) {
      if (!(e instanceof DataDirBusyError)) throw e;
      const waited = access.now() - start;
      if (waited >= access.patienceMs) {
        access.say(
          `carteiro: ${e.message}, which did not answer on its command socket within ` +
            `${Math.round(waited / 1000)} s; stop it, or try again when it has started`,
        );
        return 1;
      }
      if (!told && waited >= 1_000) {
        told = true;
        access.say(`carteiro: waiting: ${e.message}, which is starting or stopping`);
      }
      await access.sleep(100);
    }
  }
}
