// The page's only way to the server: the JSON API, with the admin token when one was
// given. With auth.publicStatus false the read routes answer 401 without it; the page
// then asks for the token and keeps it in sessionStorage (gone when the tab closes).

const TOKEN_KEY = 'patchbay.adminToken';

/** The server answered with an error status; `message` is the server's own. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The server refused the request: 401 (a token is needed or wrong) or 403 (not from here). */
export class AccessError extends ApiError {}

export function adminToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setAdminToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const token = adminToken();
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

/** The server's own message from an error body ({ statusCode, error, message }). */
async function errorMessage(res) {
  try {
    const body = await res.json();
    if (body && typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: fall through
  }
  return `HTTP ${res.status}`;
}

/**
 * GET a JSON endpoint. Throws AccessError on 401/403 and ApiError (with the server's
 * message) on any other error status.
 * @param {string} path
 * @returns {Promise<{ body: any, headers: Headers }>}
 */
export async function getJson(path) {
  const res = await fetch(path, { headers: headers({ accept: 'application/json' }) });
  if (res.status === 401 || res.status === 403) throw new AccessError(res.status, await errorMessage(res));
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  return { body: await res.json(), headers: res.headers };
}

/**
 * Save a CSV report. Without a token the browser follows the link itself (the answer is
 * an attachment); with one, the file is fetched with the header and saved from memory,
 * since a plain link cannot carry Authorization.
 * @param {string} href
 */
export async function downloadWithToken(href) {
  const res = await fetch(href, { headers: headers() });
  if (res.status === 401 || res.status === 403) throw new AccessError(res.status, await errorMessage(res));
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  const disposition = res.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'report.csv';
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
