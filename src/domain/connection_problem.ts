/**
 * What a connection test found, as a category rather than the server's or the network's own
 * words: the categories tell a person what to fix without turning the test into a probe that
 * reports the details of any port on any host.
 */
export type ConnectionProblem =
  | "refused"
  | "timeout"
  | "tls"
  | "authentication"
  | "not_imap"
  | "private_host"
  | "unresolved"
  | "no_password"
  | "unreachable";

const DESCRIPTIONS: Record<ConnectionProblem, string> = {
  refused: "the server refused the connection: check the host and port",
  timeout: "no answer in time: check the host, the port and any firewall",
  tls: "the TLS settings don't match the server (TLS from the first byte or STARTTLS), " +
    "or its certificate can't be verified",
  authentication: "the server refused the user name or password",
  not_imap: "something answered, but not an IMAP server: check the port",
  private_host: "the host is this machine or a private network; set ALLOW_PRIVATE_HOSTS=true " +
    "to allow a mail server there",
  unresolved: "the host name does not resolve",
  no_password: "no IMAP password is stored for this account",
  unreachable: "the server could not be reached",
};

/** True for a known category. */
export function isConnectionProblem(value: unknown): value is ConnectionProblem {
  return typeof value === "string" && Object.hasOwn(DESCRIPTIONS, value);
}

/** One sentence for a person: what the category means and what to check. */
export function describeConnectionProblem(problem: ConnectionProblem): string {
  return DESCRIPTIONS[problem];
}
