// There is no "list my accounts" API: this browser remembers the ids of the accounts a
// user opened or added, per user (the id token's sub), in localStorage.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value) {
  return UUID.test(String(value ?? "").trim());
}

function key(sub) {
  return `payments.accounts.${sub}`;
}

export function rememberedAccounts(sub) {
  try {
    const ids = JSON.parse(localStorage.getItem(key(sub)) ?? "[]");
    return Array.isArray(ids) ? ids.filter(isUuid) : [];
  } catch {
    return [];
  }
}

export function rememberAccount(sub, accountId) {
  const ids = rememberedAccounts(sub);
  if (!ids.includes(accountId)) {
    ids.push(accountId);
    localStorage.setItem(key(sub), JSON.stringify(ids));
  }
}

export function forgetAccount(sub, accountId) {
  const ids = rememberedAccounts(sub).filter((id) => id !== accountId);
  localStorage.setItem(key(sub), JSON.stringify(ids));
}
