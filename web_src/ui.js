// Rendering: small DOM helpers, form messages and the account cards. Text goes in through
// textContent only (never innerHTML), so no value from an API can become markup.

import { formatMoney } from "./money.js";

/** Create an element: h("p", { class: "x", "aria-live": "polite" }, "text", child, ...). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) {
      continue;
    }
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child);
    }
  }
  return element;
}

/** Show a sentence in a live region; kind is "error", "success" or "" (plain). */
export function setMessage(element, text, kind = "") {
  element.textContent = text;
  element.classList.toggle("error", kind === "error");
  element.classList.toggle("success", kind === "success");
}

/** Mark a field invalid with its message (announced through aria-describedby). */
export function setFieldError(input, text) {
  const message = document.getElementById(`${input.id}-error`);
  if (message) {
    message.textContent = text;
  }
  input.setAttribute("aria-invalid", "true");
}

export function clearFieldErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
  }
  for (const message of form.querySelectorAll(".field-error")) {
    message.textContent = "";
  }
}

export function shortId(id) {
  return `${String(id).slice(0, 8)}…`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : dateFormat.format(date);
}

/** The account's name for lists and headings: "Alex Morgan · EUR". */
export function accountLabel(account) {
  return `${account.owner_name} · ${account.currency}`;
}

let cardCount = 0;

/** One account: heading, id, balance, statement with its sync status. */
export class AccountCard {
  constructor(accountId, { onRefresh, onMore, describeCounterparty }) {
    cardCount += 1;
    const prefix = `account-${cardCount}`;
    this.accountId = accountId;
    this.describeCounterparty = describeCounterparty;
    this.title = h("h2", { id: `${prefix}-title`, class: "card-title" }, `Account ${shortId(accountId)}`);
    this.refreshButton = h("button", { type: "button", class: "button small secondary" }, "Refresh");
    this.refreshButton.setAttribute("aria-describedby", `${prefix}-title`);
    this.refreshButton.addEventListener("click", () => onRefresh(accountId));
    this.balance = h("span", { class: "balance-amount", "data-role": "balance" }, "…");
    this.cardMessage = h("p", { class: "card-message", role: "status", "aria-live": "polite" });
    this.balanceMessage = h("p", { class: "card-message", role: "status", "aria-live": "polite" });
    this.sync = h("p", { class: "sync", role: "status", "aria-live": "polite", "data-role": "sync" });
    this.statementMessage = h("p", { class: "card-message", role: "status", "aria-live": "polite" });
    this.rows = h("tbody");
    this.table = h(
      "table",
      { class: "statement", hidden: true, tabindex: "-1" },
      h("caption", { class: "visually-hidden" }, "Statement entries, newest first"),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Details"),
          h("th", { scope: "col", class: "num" }, "Amount")),
      ),
      this.rows,
    );
    this.moreButton = h("button", { type: "button", class: "button small secondary", hidden: true },
      "Show older entries");
    this.moreButton.addEventListener("click", () => onMore(accountId));
    this.details = h(
      "div",
      { class: "card-body" },
      h("p", { class: "balance" }, h("span", { class: "balance-label" }, "Balance"), " ", this.balance),
      this.balanceMessage,
      h("div", { class: "statement-head" },
        h("h3", { id: `${prefix}-statement` }, "Statement"), this.sync),
      this.statementMessage,
      h("div", { class: "table-wrap" }, this.table),
      this.moreButton,
    );
    this.element = h(
      "article",
      { class: "account-card", "aria-labelledby": `${prefix}-title`, "data-account-id": accountId },
      h("div", { class: "card-head" }, this.title, this.refreshButton),
      h("p", { class: "account-id" }, "Account id ", h("code", {}, accountId)),
      this.cardMessage,
      this.details,
    );
    this.setSync("");
  }

  setAccount(account) {
    this.account = account;
    this.title.textContent = accountLabel(account);
    this.details.hidden = false;
    setMessage(this.cardMessage, "");
  }

  /** The account could not be read: say why. */
  setProblem(text) {
    this.account = undefined;
    this.details.hidden = true;
    this.title.textContent = `Account ${shortId(this.accountId)}`;
    setMessage(this.cardMessage, text, "error");
  }

  setBalance(balance) {
    this.balance.textContent = formatMoney(balance.balance_minor, balance.currency);
    setMessage(this.balanceMessage, "");
  }

  setBalanceError(text) {
    this.balance.textContent = "—";
    setMessage(this.balanceMessage, text, "error");
  }

  setSync(text, busy = false) {
    this.sync.textContent = text;
    this.sync.hidden = text === "";
    this.sync.classList.toggle("busy", busy);
  }

  setStatementMessage(text, kind = "") {
    setMessage(this.statementMessage, text, kind);
  }

  /** Show a statement page; append adds an older page below the entries shown. */
  setStatement(statement, { append = false } = {}) {
    if (!append) {
      this.rows.replaceChildren();
    }
    for (const entry of statement.entries ?? []) {
      this.rows.append(this.renderEntry(entry));
    }
    this.table.hidden = this.rows.children.length === 0;
    this.moreButton.hidden = !statement.next_cursor;
    this.nextCursor = statement.next_cursor ?? null;
    this.setStatementMessage(this.rows.children.length === 0 ? "No entries yet." : "");
  }

  renderEntry(entry) {
    let details;
    let amount;
    let direction = "";
    const money = formatMoney(entry.amount_minor, entry.currency);
    switch (entry.kind) {
      case "opened":
        details = "Account opened";
        amount = "";
        break;
      case "deposit":
        details = "Deposit";
        amount = `+${money}`;
        direction = "in";
        break;
      case "credit":
        details = `Transfer from ${this.describeCounterparty(entry.counterparty_account_id)}`;
        amount = `+${money}`;
        direction = "in";
        break;
      case "debit":
        details = `Transfer to ${this.describeCounterparty(entry.counterparty_account_id)}`;
        amount = `\u2212${money}`;
        direction = "out";
        break;
      default:
        details = String(entry.kind);
        amount = money;
    }
    return h(
      "tr",
      { "data-event-id": entry.event_id },
      h("td", { class: "date" }, h("time", { datetime: entry.occurred_at }, formatDate(entry.occurred_at))),
      h("td", {}, details),
      h("td", { class: `num ${direction}` }, amount),
    );
  }
}
