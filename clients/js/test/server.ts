// Helpers for the tests that run against a live authhost.
import { createClient, type AuthhostClient, type ClientOptions } from "@authhost/client";

/** The owner account of the quick-start config (examples/authhost.yaml). */
export const owner = { email: "admin@example.com", password: "authhost-demo" };

/** serverURL returns the server under test, from the env variable name. */
export function serverURL(name = "AUTHHOST_URL"): string {
  const url = process.env[name];
  if (!url) {
    throw new Error(`${name} is not set: run these tests through \`go test ./e2e/jsclient\`, which starts authhost`);
  }
  return url;
}

/**
 * Browser is a cookie-keeping fetch for Node that behaves like a browser
 * tab on the server's origin: it stores Set-Cookie answers and sends the
 * Origin header on state-changing requests (authhost's CSRF guard
 * requires one when a cookie is sent).
 */
export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly origin: string, readonly sendOrigin = true) {}

  fetch: typeof fetch = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (init.credentials !== "omit" && this.cookies.size > 0) {
      headers.set("Cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const method = (init.method ?? "GET").toUpperCase();
    if (this.sendOrigin && method !== "GET" && method !== "HEAD") headers.set("Origin", this.origin);
    const res = await fetch(input, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const cleared = value === "" || attrs.some((a) => /^\s*max-age=(0|-\d+)\s*$/i.test(a));
      if (cleared) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  };

  /** session is the session cookie's value (the bearer token of the built-in sessions). */
  get session(): string | undefined {
    return this.cookies.get("authhost_session");
  }

  /** client returns an API client that uses this browser's cookies. */
  client(opts: ClientOptions = {}): AuthhostClient {
    return createClient({ baseUrl: this.origin, fetch: this.fetch, ...opts });
  }
}

/** uniqueEmail returns a fresh address for a sign-up. */
export function uniqueEmail(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/** signedUpViewer signs up a new account (role viewer in the quick start) in a fresh browser. */
export async function signedUpViewer(base: string, label: string): Promise<{ browser: Browser; client: AuthhostClient; email: string }> {
  const browser = new Browser(base);
  const client = browser.client();
  const email = uniqueEmail(label);
  await client.signUp({ email, password: "viewer-pass-1", name: `Viewer ${label}` });
  return { browser, client, email };
}
