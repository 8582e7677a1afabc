// Calls to the payments APIs, with the ID token as the raw Authorization header (API
// Gateway's Cognito authorizer reads it from there, without a "Bearer " prefix).

import { isExpired } from "./auth.js";

const NETWORK_MESSAGE = "We could not reach the service. Check your connection and try again.";
const STATUS_MESSAGES = {
  400: "The request was not accepted. Check the details and try again.",
  403: "You are not allowed to do that.",
  404: "That was not found.",
  409: "That conflicts with the current state. Refresh and try again.",
  422: "The request could not be processed. Check the details and try again.",
  429: "Too many requests. Wait a moment and try again.",
  503: "The service is busy right now. Try again in a moment.",
};

/** A failed call: status 0 for no answer at all; message is a sentence for the user. */
export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }

  /** Whether the same request may be sent again (with the same Idempotency-Key). */
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** The session ran out, or an API answered 401. */
export class SessionExpiredError extends Error {
  constructor() {
    super("Your session has expired. Sign in again.");
  }
}

function messageFor(status, body) {
  if (body && typeof body.message === "string" && body.message.trim() !== "") {
    return body.message.trim();
  }
  if (STATUS_MESSAGES[status]) {
    return STATUS_MESSAGES[status];
  }
  return status >= 500
    ? "Something went wrong on our side. Try again later."
    : `The request failed (status ${status}).`;
}

export function createApi(config, getSession) {
  async function call(method, path, { query, body, idempotencyKey } = {}) {
    const session = getSession();
    if (!session || isExpired(session)) {
      throw new SessionExpiredError();
    }
    const headers = { Accept: "application/json", Authorization: session.idToken };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (idempotencyKey) {
      headers["Idempotency-Key"] = idempotencyKey;
    }
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) {
        search.set(key, String(value));
      }
    }
    const url = search.size > 0 ? `${path}?${search}` : path;
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, NETWORK_MESSAGE);
    }
    if (response.status === 401) {
      throw new SessionExpiredError();
    }
    let data = null;
    try {
      const text = await response.text();
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      throw new ApiError(response.status, messageFor(response.status, data), data);
    }
    return data;
  }

  const id = encodeURIComponent;
  const { accounts, statements, transfers } = config.api;
  return {
    openAccount: (request) => call("POST", accounts, { body: request }),
    listAccounts: (cursor) =>
      call("GET", accounts, { query: { limit: config.accountPageSize, cursor } }),
    getAccount: (accountId) => call("GET", `${accounts}/${id(accountId)}`),
    getStatement: (accountId, cursor) =>
      call("GET", `${statements}/${id(accountId)}`, { query: { limit: 25, cursor } }),
    getBalance: (accountId) => call("GET", `${transfers}/accounts/${id(accountId)}/balance`),
    deposit: (accountId, request, idempotencyKey) =>
      call("POST", `${transfers}/accounts/${id(accountId)}/deposits`, { body: request, idempotencyKey }),
    transfer: (request, idempotencyKey) => call("POST", transfers, { body: request, idempotencyKey }),
    getTransfer: (transferId) => call("GET", `${transfers}/${id(transferId)}`),
  };
}
