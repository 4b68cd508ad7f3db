// The one way the pages talk to the API. The access token lives only in this module's memory; the
// refresh token is an HttpOnly cookie the page never sees. A 401 token_expired / token_stale is
// answered by one silent refresh (POST /api/auth/refresh, no body, same origin) and one retry.
// Every answer's `x-d1-bookmark` (the database session it saw) is kept for the tab and sent back,
// so a read served by a D1 replica is never older than what this tab wrote or read before.

/** An API error: `{error: {code, message, field?, permission?, rule?}}` with the HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `The server answered ${status}.`);
    this.status = status;
    this.code = e.code || (status === 0 ? "network" : "http_" + status);
    this.field = e.field || null;
    this.permission = e.permission || null;
    this.rule = e.rule || null;
  }
}

const BOOKMARK = "x-d1-bookmark";
let bookmark = loadBookmark();
let access = null; // { token, expiresAt }
let refreshing = null; // the refresh in flight, shared by every caller
const listeners = { signedout: [], refreshed: [], mfa: [] };

/** Subscribe to `signedout` (the session ended), `refreshed` ({stale}) or `mfa` (enrolment needed). */
export function on(event, fn) {
  listeners[event].push(fn);
}
function emit(event, detail) {
  for (const fn of listeners[event]) fn(detail);
}

export function signedIn() {
  return access !== null;
}

/** Keep a session answer (login, activation, refresh, password change) in memory. */
export function setSession(issued) {
  access = issued && issued.access_token ? { token: issued.access_token, expiresAt: issued.access_expires_at } : null;
}

export function clearSession() {
  access = null;
}

function loadBookmark() {
  try {
    return sessionStorage.getItem(BOOKMARK);
  } catch {
    return null; // storage off: the bookmark lives in memory only
  }
}

/** Keep the newest bookmark seen (D1's sort as text: fixed-width hex fields). */
function remember(res) {
  const seen = res.headers.get(BOOKMARK);
  if (!seen || (bookmark && seen <= bookmark)) return;
  bookmark = seen;
  try {
    sessionStorage.setItem(BOOKMARK, seen);
  } catch {
    // memory only
  }
}

function forgetBookmark() {
  bookmark = null;
  try {
    sessionStorage.removeItem(BOOKMARK);
  } catch {
    // memory only
  }
}

/** fetch, carrying the bookmark there and back. */
async function fetchWithBookmark(url, init) {
  if (bookmark) init.headers = { ...init.headers, [BOOKMARK]: bookmark };
  const res = await fetch(url, init);
  remember(res);
  return res;
}

async function send(method, path, { body, query, headers = {} } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    }
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const init = { method, headers: { accept: "application/json", ...headers }, credentials: "same-origin", cache: "no-store" };
  if (access) init.headers.authorization = `Bearer ${access.token}`;
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetchWithBookmark(url, init);
  } catch {
    throw new ApiError(0, { error: { code: "network", message: "The server could not be reached. Check your connection and try again." } });
  }
}

async function parse(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Trade the refresh cookie for a new token pair. Resolves to the session or null when there is
 * none (no cookie, expired, revoked). Concurrent callers share one request.
 */
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await fetchWithBookmark("/api/auth/refresh", { method: "POST", credentials: "same-origin", cache: "no-store" }).catch(() => null);
        if (!res) throw new ApiError(0, null);
        if (res.ok) {
          const issued = await parse(res);
          setSession(issued);
          return issued;
        }
        // 409: another tab rotated the cookie a moment ago; the jar now holds the new one.
        if (res.status === 409 && attempt === 0) {
          await new Promise((r) => setTimeout(r, 400));
          continue;
        }
        break;
      }
      access = null;
      return null;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * Call the API. Returns the parsed JSON (null for 204); throws ApiError. `raw: true` returns the
 * Response (for files).
 */
export async function api(method, path, opts = {}) {
  let res = await send(method, path, opts);
  // A bookmark the database does not know fails the query (5xx): the next call starts afresh.
  if (res.status >= 500) forgetBookmark();
  if (res.status === 400 && bookmark) {
    // A bookmark the database no longer knows (restored, or another deployment's): start afresh.
    const body = await parse(res.clone());
    if (body && body.error && body.error.field === BOOKMARK) {
      forgetBookmark();
      res = await send(method, path, opts);
    }
  }
  if (res.status === 401 && access) {
    const body = await parse(res.clone());
    const code = body && body.error && body.error.code;
    if (code === "token_expired" || code === "token_stale") {
      const issued = await refresh();
      if (issued) {
        emit("refreshed", { stale: code === "token_stale" });
        res = await send(method, path, opts);
      }
    }
    if (res.status === 401) {
      const err = new ApiError(401, await parse(res));
      access = null;
      emit("signedout", err);
      throw err;
    }
  }
  if (res.status === 403) {
    const body = await parse(res.clone());
    if (body && body.error && body.error.code === "mfa_enrollment_required") emit("mfa", null);
  }
  if (!res.ok) throw new ApiError(res.status, await parse(res));
  if (opts.raw) return res;
  return parse(res);
}

export const get = (path, query) => api("GET", path, { query });
export const post = (path, body, query) => api("POST", path, { body: body ?? {}, query });
export const put = (path, body) => api("PUT", path, { body });
export const patch = (path, body) => api("PATCH", path, { body });
export const del = (path) => api("DELETE", path);

/** Sign in. Throws ApiError (401 invalid_credentials, 401 mfa_required, 429 ...). */
export async function login(loginName, password, totp) {
  const body = { login: loginName, password };
  if (totp) body.totp = totp;
  const res = await send("POST", "/api/auth/login", { body });
  const data = await parse(res);
  if (!res.ok) throw new ApiError(res.status, data);
  setSession(data);
  return data;
}

/** End the session on the server (and the cookie), then forget the token. */
export async function logout() {
  try {
    await send("POST", "/api/auth/logout", {});
  } finally {
    access = null;
  }
}

/** Download a file the API serves behind the bearer token, under the given name. */
export async function download(path, fileName) {
  const res = await api("GET", path, { raw: true });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName || "download";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
