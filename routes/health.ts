import { Hono } from "hono";

export interface HealthDeps {
  /** Resolves when the database answers; rejects otherwise. */
  pingDatabase: () => Promise<void>;
  databaseKind: string;
}

/** `/healthz`: whether the service and its database answer. No secrets, no mail. */
export function healthRoutes(deps: HealthDeps): Hono {
  const app = new Hono();
  app.get("/healthz", async (c) => {
    try {
      await deps.pingDatabase();
      return c.json({ status: "ok", database: deps.databaseKind });
    } catch {
      return c.json({ status: "unavailable", database: deps.databaseKind }, 503);
    }
  });
  return app;
}
