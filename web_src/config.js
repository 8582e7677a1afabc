// The deployment's settings, from /config.json (written by the edge stack at deploy time).

const DEFAULT_POLL_MS = 1000;
const DEFAULT_POLL_ATTEMPTS = 10;
const MAX_ACCOUNT_PAGE_SIZE = 100; // what GET /accounts accepts as its limit

function positiveInteger(value, fallback) {
  return Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

function requiredString(config, key) {
  const value = config[key];
  if (typeof value !== "string" || value.trim() === "") {
    throw new Error(`config.json has no ${key}`);
  }
  return value.trim();
}

/** Fetch and check /config.json; throws an Error that names what is missing. */
export async function loadConfig() {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) {
    throw new Error(`config.json answered ${response.status}`);
  }
  const config = await response.json();
  const api = config.api ?? {};
  for (const key of ["accounts", "statements", "transfers"]) {
    if (typeof api[key] !== "string" || !api[key].startsWith("/")) {
      throw new Error(`config.json has no api.${key} path`);
    }
  }
  const scopes = Array.isArray(config.scopes) && config.scopes.length > 0
    ? config.scopes.map(String)
    : ["openid", "email"];
  return {
    clientId: requiredString(config, "clientId"),
    authDomain: requiredString(config, "authDomain").replace(/\/+$/, ""),
    scopes,
    api: {
      accounts: api.accounts.replace(/\/+$/, ""),
      statements: api.statements.replace(/\/+$/, ""),
      transfers: api.transfers.replace(/\/+$/, ""),
    },
    statementPollMs: positiveInteger(config.statementPollMs, DEFAULT_POLL_MS),
    statementPollAttempts: positiveInteger(config.statementPollAttempts, DEFAULT_POLL_ATTEMPTS),
    accountPageSize: Math.min(
      positiveInteger(config.accountPageSize, MAX_ACCOUNT_PAGE_SIZE),
      MAX_ACCOUNT_PAGE_SIZE,
    ),
  };
}
