// Sign-in with Cognito's managed login: authorization code grant with PKCE (S256), no
// client secret. Tokens live in sessionStorage (this tab only, gone when it closes).

const SESSION_KEY = "payments.session";
const SIGN_IN_KEY = "payments.signIn";
// A token this close to its expiry is treated as expired: a request sent with it could
// arrive after it ran out.
const EXPIRY_MARGIN_SECONDS = 10;

/** A sign-in that could not be completed; its message is meant for the user. */
export class SignInError extends Error {}

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(byteCount) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

async function s256(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function redirectUri() {
  return `${location.origin}/auth/callback`;
}

/** The claims of a JWT, unverified (the APIs verify the token; this only reads it). */
export function decodeJwt(token) {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) {
    throw new SignInError("The sign-in service sent a token this page cannot read. Sign in again.");
  }
  const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** Go to the managed login page; it comes back to /auth/callback. */
export async function startSignIn(config) {
  const verifier = randomString(32);
  const state = randomString(16);
  sessionStorage.setItem(SIGN_IN_KEY, JSON.stringify({ verifier, state }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: config.scopes.join(" "),
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${config.authDomain}/oauth2/authorize?${params}`);
}

/** On /auth/callback: check the state, exchange the code for tokens, keep the session. */
export async function completeSignIn(config, search) {
  const params = new URLSearchParams(search);
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(SIGN_IN_KEY) ?? "null");
  } catch {
    pending = null;
  }
  sessionStorage.removeItem(SIGN_IN_KEY);
  if (params.has("error")) {
    const reason = params.get("error_description") || params.get("error");
    throw new SignInError(`The sign-in was not completed (${reason}). Sign in again.`);
  }
  const code = params.get("code");
  const state = params.get("state");
  if (!pending || !code || !state || state !== pending.state) {
    throw new SignInError("This sign-in link is not valid or was already used. Sign in again.");
  }
  let response;
  try {
    response = await fetch(`${config.authDomain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: config.clientId,
        code,
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
      }),
    });
  } catch {
    throw new SignInError("We could not reach the sign-in service. Check your connection and sign in again.");
  }
  if (!response.ok) {
    throw new SignInError("The sign-in service did not accept this sign-in. Sign in again.");
  }
  const tokens = await response.json();
  const claims = decodeJwt(tokens.id_token);
  const session = {
    idToken: tokens.id_token,
    accessToken: tokens.access_token,
    sub: String(claims.sub),
    email: typeof claims.email === "string" ? claims.email : "",
    exp: Number(claims.exp),
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

/** The signed-in session kept in this tab, or null. */
export function currentSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
    if (session && typeof session.idToken === "string" && typeof session.sub === "string") {
      return session;
    }
  } catch {
    // A damaged entry is no session.
  }
  return null;
}

export function isExpired(session, nowMs = Date.now()) {
  return !Number.isFinite(session.exp) || nowMs / 1000 >= session.exp - EXPIRY_MARGIN_SECONDS;
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** Forget the tokens and end the managed login's session too; it comes back to /. */
export function signOut(config) {
  clearSession();
  const params = new URLSearchParams({ client_id: config.clientId, logout_uri: `${location.origin}/` });
  location.assign(`${config.authDomain}/logout?${params}`);
}
