// The customer web UI: routes on location.pathname ("/" and "/auth/callback"; CloudFront
// serves index.html for both), signs in with Cognito, and drives the payments APIs.

import { ApiError, SessionExpiredError, createApi } from "./api.js";
import {
  SignInError,
  clearSession,
  completeSignIn,
  currentSession,
  isExpired,
  signOut,
  startSignIn,
} from "./auth.js";
import { loadConfig } from "./config.js";
import { formatMoney, parseAmount } from "./money.js";
import {
  AccountCard,
  accountLabel,
  clearFieldErrors,
  setFieldError,
  setMessage,
  shortId,
} from "./ui.js";

const $ = (id) => document.getElementById(id);
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const EXPIRED_MESSAGE = "Your session has expired. Sign in again.";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The list of accounts reads at most this many pages of config.accountPageSize each.
const ACCOUNT_PAGES = 5;
// Earlier versions kept the ids of a user's accounts in localStorage under this prefix.
const LEGACY_ACCOUNT_IDS = "payments.accounts.";

const state = {
  config: null,
  api: null,
  session: null,
  cards: new Map(), // account id -> AccountCard, in the order shown
  watches: new Map(), // account id -> the statement watch that is current
  pendingKeys: new Map(), // form id -> { fingerprint, key } of an action that may be retried
  generation: 0, // bumped when the session ends: work started before then stops
};

/** Invalid fields: each { input, message }; nothing was sent. */
class FieldErrors extends Error {
  constructor(errors) {
    super("invalid fields");
    this.errors = errors;
  }
}

const sleep = (ms) => new Promise((resolve) => {
  setTimeout(resolve, ms);
});

function isUuid(value) {
  return UUID.test(String(value ?? "").trim());
}

function sentence(text) {
  const trimmed = String(text).trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

// ---------------------------------------------------------------- views and session

function showView(name) {
  for (const view of ["signed-out", "expired", "signed-in"]) {
    $(`view-${view}`).hidden = view !== name;
  }
  $("user-bar").hidden = name !== "signed-in";
}

function showSignedOut(message = "") {
  showView("signed-out");
  setMessage($("app-message"), message, message ? "error" : "");
}

function resetSignedInView() {
  state.cards.clear();
  state.watches.clear();
  state.pendingKeys.clear();
  $("account-list").replaceChildren();
  $("no-accounts").hidden = true;
  setAccountsMessage("");
  for (const select of document.querySelectorAll("#view-signed-in select")) {
    delete select.dataset.chosen;
  }
  for (const form of document.querySelectorAll("#view-signed-in form")) {
    form.reset();
    clearFieldErrors(form);
    setMessage(form.querySelector(".form-message"), "");
  }
  showTransferTarget();
}

/** The session ran out or an API answered 401: forget it and offer to sign in again. */
function expireSession() {
  if (state.session === null && !$("view-expired").hidden) {
    return;
  }
  state.generation += 1;
  state.session = null;
  clearSession();
  resetSignedInView();
  setMessage($("app-message"), "");
  showView("expired");
  $("expired-message").textContent = EXPIRED_MESSAGE;
  $("expired-title").focus();
}

function showSignedIn() {
  const { session } = state;
  resetSignedInView();
  showView("signed-in");
  $("user-email").textContent = session.email || session.sub;
  $("open-email").value = session.email;
  loadAccounts();
}

/** Drop what earlier versions remembered in this browser: the list now comes from the API. */
function forgetLegacyAccountIds() {
  try {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith(LEGACY_ACCOUNT_IDS)) {
        localStorage.removeItem(key);
      }
    }
  } catch {
    // storage unavailable: nothing was kept there either
  }
}

// ---------------------------------------------------------------- accounts

function isStale(generation, card) {
  return generation !== state.generation || state.cards.get(card.accountId) !== card;
}

function describeCounterparty(accountId) {
  if (!accountId) {
    return "another account";
  }
  const account = state.cards.get(accountId)?.account;
  return account ? `${accountLabel(account)} (${shortId(accountId)})` : `account ${shortId(accountId)}`;
}

/** Newest first, as GET /accounts lists them: by opening time, then by id. */
function newerFirst(a, b) {
  if (a.opened_at !== b.opened_at) {
    return a.opened_at < b.opened_at ? 1 : -1;
  }
  return a.account_id < b.account_id ? 1 : -1;
}

/** The card of `account`, made and put in its place in the list if it is new. */
function showAccount(account) {
  const existing = state.cards.get(account.account_id);
  if (existing) {
    existing.setAccount(account);
    return { card: existing, isNew: false };
  }
  const card = new AccountCard(account.account_id, {
    onRefresh: (id) => loadAccount(id),
    onMore: loadOlderEntries,
    describeCounterparty,
  });
  card.setAccount(account);
  const list = $("account-list");
  const older = [...list.children].find((element) => {
    const shown = state.cards.get(element.dataset.accountId)?.account;
    return shown && newerFirst(account, shown) < 0;
  });
  state.cards.set(account.account_id, card);
  list.insertBefore(card.element, older ?? null);
  return { card, isNew: true };
}

function ownAccounts() {
  return [...state.cards.values()]
    .filter((card) => card.account)
    .map((card) => card.account)
    .sort(newerFirst);
}

function setAccountsMessage(text, kind = "") {
  setMessage($("accounts-message"), text, kind);
  $("accounts-retry").hidden = kind !== "error";
}

/**
 * Read the signed-in customer's accounts (GET /accounts, following next_cursor for at most
 * ACCOUNT_PAGES pages) and show every one not shown yet, with its balance and statement.
 * Cards already shown stay: the list is read from an index that may not have an account
 * opened a moment ago yet, and accounts are never closed.
 */
async function loadAccounts({ announce = state.cards.size === 0 } = {}) {
  const generation = state.generation;
  if (announce) {
    setAccountsMessage("Loading your accounts…");
  }
  updateAccountChoices();
  const accounts = [];
  let cursor = null;
  try {
    for (let page = 0; page < ACCOUNT_PAGES; page += 1) {
      const listed = await state.api.listAccounts(cursor);
      if (generation !== state.generation) {
        return;
      }
      accounts.push(...(listed.accounts ?? []));
      cursor = listed.next_cursor ?? null;
      if (!cursor) {
        break;
      }
    }
  } catch (error) {
    if (generation !== state.generation) {
      return;
    }
    if (error instanceof SessionExpiredError) {
      expireSession();
      return;
    }
    if (!(error instanceof ApiError)) {
      throw error;
    }
    setAccountsMessage(`Your accounts could not be loaded: ${sentence(error.message)}`, "error");
    updateAccountChoices();
    return;
  }
  const added = accounts.map(showAccount).filter(({ isNew }) => isNew).map(({ card }) => card);
  setAccountsMessage(cursor ? `Only your ${accounts.length} newest accounts are shown.` : "");
  updateAccountChoices();
  for (const card of added) {
    loadBalance(card.accountId);
    watchStatement(card.accountId, { immediate: true });
  }
}

function accountById(accountId) {
  return state.cards.get(accountId)?.account;
}

/** Fill an account select in list order; keep the user's own choice while it is valid. */
function fillSelect(select, accounts, avoid = null) {
  const chosen = select.dataset.chosen;
  select.replaceChildren(
    ...accounts.map((account) => new Option(
      `${accountLabel(account)} (${shortId(account.account_id)})`,
      account.account_id,
    )),
  );
  const ids = accounts.map((account) => account.account_id);
  if (chosen && ids.includes(chosen) && chosen !== avoid) {
    select.value = chosen;
  } else {
    select.value = ids.find((id) => id !== avoid) ?? ids[0] ?? "";
  }
}

function updateCurrencies() {
  $("deposit-currency").textContent = accountById($("deposit-account").value)?.currency ?? "";
  $("transfer-currency").textContent = accountById($("transfer-from").value)?.currency ?? "";
}

/** Keep the selects, the empty note and the money forms in step with the accounts. */
function updateAccountChoices() {
  const accounts = ownAccounts();
  $("no-accounts").hidden = state.cards.size > 0 || $("accounts-message").textContent !== "";
  $("deposit-section").hidden = accounts.length === 0;
  $("transfer-section").hidden = accounts.length === 0;
  fillSelect($("deposit-account"), accounts);
  fillSelect($("transfer-from"), accounts);
  fillSelect($("transfer-to-account"), accounts, $("transfer-from").value);
  updateCurrencies();
}

async function loadAccount(accountId) {
  const card = state.cards.get(accountId);
  const generation = state.generation;
  try {
    const account = await state.api.getAccount(accountId);
    if (isStale(generation, card)) {
      return;
    }
    card.setAccount(account);
  } catch (error) {
    if (isStale(generation, card)) {
      return;
    }
    if (error instanceof SessionExpiredError) {
      expireSession();
      return;
    }
    if (!(error instanceof ApiError)) {
      throw error;
    }
    if (error.status === 404) {
      card.setProblem("This account was not found, or it is not yours.");
    } else {
      card.setProblem(`This account could not be loaded: ${sentence(error.message)}`);
    }
    updateAccountChoices();
    return;
  }
  updateAccountChoices();
  await Promise.all([loadBalance(accountId), watchStatement(accountId, { immediate: true })]);
}

async function loadBalance(accountId) {
  const card = state.cards.get(accountId);
  const generation = state.generation;
  try {
    const balance = await state.api.getBalance(accountId);
    if (!isStale(generation, card)) {
      card.setBalance(balance);
    }
  } catch (error) {
    if (isStale(generation, card)) {
      return;
    }
    if (error instanceof SessionExpiredError) {
      expireSession();
    } else if (error instanceof ApiError) {
      card.setBalanceError(error.status === 404
        ? "The balance is not available yet. Select Refresh in a moment."
        : `The balance could not be loaded: ${sentence(error.message)}`);
    } else {
      throw error;
    }
  }
}

function statementHas(statement, id) {
  return (statement.entries ?? []).some((entry) => entry.transfer_id === id || entry.deposit_id === id);
}

/**
 * Read the statement until it exists (expect null) or shows the transfer or deposit `expect`.
 * The statements service learns of both through events, so a new entry takes a moment:
 * "Updating…" is shown meanwhile, and the statement is read a bounded number of times.
 */
async function watchStatement(accountId, { expect = null, immediate = false } = {}) {
  const card = state.cards.get(accountId);
  const generation = state.generation;
  const watch = {};
  state.watches.set(accountId, watch);
  const current = () => !isStale(generation, card) && state.watches.get(accountId) === watch;
  const { statementPollMs, statementPollAttempts } = state.config;
  card.setSync("Updating…", true);
  for (let attempt = 0; attempt < statementPollAttempts; attempt += 1) {
    if (attempt > 0 || !immediate) {
      await sleep(statementPollMs);
      if (!current()) {
        return;
      }
    }
    let statement;
    try {
      statement = await state.api.getStatement(accountId);
    } catch (error) {
      if (!current()) {
        return;
      }
      if (error instanceof SessionExpiredError) {
        expireSession();
        return;
      }
      if (!(error instanceof ApiError)) {
        throw error;
      }
      if (error.status === 404) {
        card.setStatementMessage("The statement is not ready yet.");
        continue;
      }
      card.setStatementMessage(`The statement could not be loaded: ${sentence(error.message)}`, "error");
      if (error.retryable) {
        continue;
      }
      card.setSync("");
      return;
    }
    if (!current()) {
      return;
    }
    card.setStatement(statement);
    if (expect === null || statementHas(statement, expect)) {
      card.setSync("Up to date");
      return;
    }
  }
  if (current()) {
    card.setSync("Still updating. Select Refresh to check again.");
  }
}

async function loadOlderEntries(accountId) {
  const card = state.cards.get(accountId);
  const generation = state.generation;
  if (!card.nextCursor) {
    return;
  }
  try {
    const statement = await state.api.getStatement(accountId, card.nextCursor);
    if (isStale(generation, card)) {
      return;
    }
    card.setStatement(statement, { append: true });
    if (card.moreButton.hidden) {
      card.table.focus();
    }
  } catch (error) {
    if (isStale(generation, card)) {
      return;
    }
    if (error instanceof SessionExpiredError) {
      expireSession();
    } else if (error instanceof ApiError) {
      card.setStatementMessage(`Older entries could not be loaded: ${sentence(error.message)}`, "error");
    } else {
      throw error;
    }
  }
}

// ---------------------------------------------------------------- forms

/** The Idempotency-Key of an action: new for a new action, the same for a retry of it. */
function idempotencyKey(formId, request) {
  const fingerprint = JSON.stringify(request);
  const pending = state.pendingKeys.get(formId);
  if (pending && pending.fingerprint === fingerprint) {
    return pending.key;
  }
  const key = crypto.randomUUID();
  state.pendingKeys.set(formId, { fingerprint, key });
  return key;
}

/** Submit handling shared by the forms: field errors, API errors in words, busy state. */
function bindForm(formId, failure, handler) {
  const form = $(formId);
  const message = form.querySelector(".form-message");
  const submit = form.querySelector('button[type="submit"]');
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") {
      return;
    }
    clearFieldErrors(form);
    setMessage(message, "");
    form.setAttribute("aria-busy", "true");
    submit.setAttribute("aria-disabled", "true");
    const generation = state.generation;
    try {
      await handler(message);
      state.pendingKeys.delete(formId);
    } catch (error) {
      if (generation !== state.generation) {
        return;
      }
      if (error instanceof FieldErrors) {
        for (const { input, message: text } of error.errors) {
          setFieldError(input, text);
        }
        error.errors[0].input.focus();
      } else if (error instanceof SessionExpiredError) {
        expireSession();
      } else if (error instanceof ApiError) {
        let text = `${failure}: ${sentence(error.message)}`;
        if (error.retryable && state.pendingKeys.has(formId)) {
          text += " You can submit again: it will not be done twice.";
        } else {
          state.pendingKeys.delete(formId);
        }
        setMessage(message, text, "error");
      } else {
        setMessage(message, "Something went wrong in this page. Reload it and try again.", "error");
        throw error;
      }
    } finally {
      form.removeAttribute("aria-busy");
      submit.removeAttribute("aria-disabled");
    }
  });
}

function checkAmount(input, errors) {
  const amount = parseAmount(input.value);
  if (amount.error) {
    errors.push({ input, message: amount.error });
  }
  return amount.minor;
}

function checkOwnAccount(select, errors) {
  const account = accountById(select.value);
  if (!account) {
    errors.push({ input: select, message: "Choose one of your accounts." });
  }
  return account;
}

async function openAccount(message) {
  const name = $("open-name");
  const email = $("open-email");
  const errors = [];
  if (name.value.trim() === "") {
    errors.push({ input: name, message: "Enter the account holder's name." });
  }
  if (!EMAIL.test(email.value.trim())) {
    errors.push({ input: email, message: "Enter an email address like name@example.com." });
  }
  if (errors.length > 0) {
    throw new FieldErrors(errors);
  }
  const account = await state.api.openAccount({
    owner_name: name.value.trim(),
    email: email.value.trim(),
    currency: $("open-currency").value,
  });
  const { card } = showAccount(account);
  card.setBalance({ balance_minor: 0, currency: account.currency });
  updateAccountChoices();
  name.value = "";
  setMessage(
    message,
    `Account opened for ${account.owner_name} in ${account.currency}. Its id is ${account.account_id}.`,
    "success",
  );
  watchStatement(account.account_id, { immediate: true });
  loadAccounts(); // and any opened elsewhere meanwhile
}

async function deposit(message) {
  const errors = [];
  const account = checkOwnAccount($("deposit-account"), errors);
  const amountMinor = checkAmount($("deposit-amount"), errors);
  if (errors.length > 0) {
    throw new FieldErrors(errors);
  }
  const accountId = account.account_id;
  const request = { amount_minor: amountMinor, currency: account.currency };
  const key = idempotencyKey("deposit-form", { accountId, ...request });
  const done = await state.api.deposit(accountId, request, key);
  $("deposit-amount").value = "";
  setMessage(
    message,
    `Deposited ${formatMoney(done.amount_minor, done.currency)} into ${accountLabel(account)}. `
      + `Reference ${done.transfer_id}.`,
    "success",
  );
  loadBalance(accountId);
  watchStatement(accountId, { expect: done.transfer_id });
}

async function transfer(message) {
  const errors = [];
  const from = checkOwnAccount($("transfer-from"), errors);
  let toId = "";
  if ($("transfer-to-own").checked) {
    const select = $("transfer-to-account");
    const to = checkOwnAccount(select, errors);
    toId = to?.account_id ?? "";
    if (from && to && to.account_id === from.account_id) {
      errors.push({ input: select, message: "Choose an account other than the one you transfer from." });
    }
  } else {
    const input = $("transfer-to-id");
    toId = input.value.trim().toLowerCase();
    if (!isUuid(toId)) {
      errors.push({
        input,
        message: "Enter their account id: 36 characters like 3f2b9c1e-8d4a-4b6f-9a7e-1c2d3e4f5a6b.",
      });
    } else if (from && toId === from.account_id) {
      errors.push({ input, message: "That is the account you transfer from: enter another one." });
    }
  }
  const amountMinor = checkAmount($("transfer-amount"), errors);
  if (errors.length > 0) {
    throw new FieldErrors(errors);
  }
  const request = {
    from_account_id: from.account_id,
    to_account_id: toId,
    amount_minor: amountMinor,
    currency: from.currency,
  };
  const done = await state.api.transfer(request, idempotencyKey("transfer-form", request));
  $("transfer-amount").value = "";
  setMessage(
    message,
    `Transferred ${formatMoney(done.amount_minor, done.currency)} from ${accountLabel(from)} `
      + `to ${describeCounterparty(toId)}. Reference ${done.transfer_id}.`,
    "success",
  );
  for (const accountId of [from.account_id, toId]) {
    if (accountById(accountId)) {
      loadBalance(accountId);
      watchStatement(accountId, { expect: done.transfer_id });
    }
  }
}

function showTransferTarget() {
  const own = $("transfer-to-own").checked;
  $("transfer-to-own-field").hidden = !own;
  $("transfer-to-other-field").hidden = own;
}

// ---------------------------------------------------------------- start

function wireEvents() {
  for (const button of document.querySelectorAll('[data-action="sign-in"]')) {
    button.addEventListener("click", () => startSignIn(state.config));
  }
  $("sign-out").addEventListener("click", () => {
    state.generation += 1;
    signOut(state.config);
  });
  for (const id of ["deposit-account", "transfer-from", "transfer-to-account"]) {
    $(id).addEventListener("change", (event) => {
      event.target.dataset.chosen = event.target.value;
    });
  }
  $("deposit-account").addEventListener("change", updateCurrencies);
  $("transfer-from").addEventListener("change", () => {
    if ($("transfer-to-account").value === $("transfer-from").value) {
      fillSelect($("transfer-to-account"), ownAccounts(), $("transfer-from").value);
    }
    updateCurrencies();
  });
  $("transfer-to-own").addEventListener("change", showTransferTarget);
  $("transfer-to-other").addEventListener("change", showTransferTarget);
  bindForm("open-form", "The account was not opened", openAccount);
  $("accounts-retry").addEventListener("click", () => {
    $("accounts-title").focus();
    loadAccounts({ announce: true });
  });
  bindForm("deposit-form", "The deposit was not made", deposit);
  bindForm("transfer-form", "The transfer was not made", transfer);
}

async function main() {
  forgetLegacyAccountIds();
  try {
    state.config = await loadConfig();
  } catch {
    setMessage(
      $("app-message"),
      "The app could not start because its settings could not be loaded. Reload the page to try again.",
      "error",
    );
    return;
  }
  state.api = createApi(state.config, () => state.session);
  wireEvents();
  if (location.pathname === "/auth/callback") {
    setMessage($("app-message"), "Signing you in…");
    try {
      await completeSignIn(state.config, location.search);
    } catch (error) {
      history.replaceState(null, "", "/");
      if (error instanceof SignInError) {
        showSignedOut(error.message);
        return;
      }
      throw error;
    }
    setMessage($("app-message"), "");
  }
  if (location.pathname !== "/") {
    history.replaceState(null, "", "/");
  }
  const session = currentSession();
  if (session === null) {
    showSignedOut();
  } else if (isExpired(session)) {
    state.session = session;
    expireSession();
  } else {
    state.session = session;
    showSignedIn();
  }
}

main();
