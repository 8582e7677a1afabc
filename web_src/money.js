// Amounts: what the user types ("12.34") to minor units (1234) exactly, with string and
// BigInt arithmetic only (0.29 * 100 is 28.999999999999996 in floating point).

const AMOUNT = /^(\d*)(?:\.(\d*))?$/;

/** { minor } for a valid amount, else { error } with a sentence for the field. */
export function parseAmount(text) {
  const value = String(text ?? "").trim();
  if (value === "") {
    return { error: "Enter an amount, for example 12.34." };
  }
  if (/^-\s*[\d.]/.test(value)) {
    return { error: "Enter an amount above zero." };
  }
  const match = AMOUNT.exec(value);
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) {
    return { error: "Enter the amount as a number with digits and a point only, for example 12.34." };
  }
  const whole = match[1] || "0";
  const fraction = match[2] ?? "";
  if (fraction.length > 2) {
    return { error: "Use at most 2 decimal places, for example 12.34." };
  }
  const minor = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, "0"));
  if (minor === 0n) {
    return { error: "Enter an amount above zero." };
  }
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { error: "That amount is too large." };
  }
  return { minor: Number(minor) };
}

/** 123456 EUR as "€1,234.56" in the user's locale (decimal strings, no float division). */
export function formatMoney(minor, currency) {
  const value = BigInt(minor);
  const negative = value < 0n;
  const magnitude = negative ? -value : value;
  const decimal = `${negative ? "-" : ""}${magnitude / 100n}.${String(magnitude % 100n).padStart(2, "0")}`;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(decimal);
  } catch {
    return `${decimal} ${currency}`;
  }
}
