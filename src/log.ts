/** Structured logs: one JSON object per line on stderr, so stdout stays for command output. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger writing to stderr; `quiet` drops info lines (tests, command-line tools). */
export function createLogger(options: { quiet?: boolean; now?: () => Date } = {}): Logger {
  const now = options.now ?? (() => new Date());
  const write = (level: string, message: string, fields?: Record<string, unknown>) => {
    const line = JSON.stringify({ at: now().toISOString(), level, message, ...fields });
    console.error(line);
  };
  return {
    info: (m, f) => {
      if (!options.quiet) write("info", m, f);
    },
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}
