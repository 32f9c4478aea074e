// @authhost/client against the live server: every call's answer shape,
// cookie and bearer modes, typed errors, permission gating, audit paging.
import { AuthhostError, createClient, isAuthhostError, type AuthhostClient } from "@authhost/client";
import { beforeAll, describe, expect, it } from "vitest";
import { Browser, owner, serverURL, signedUpViewer } from "./server.js";

const base = serverURL();

/** rejection returns the AuthhostError p rejects with, failing if it resolves or throws something else. */
async function rejection(p: Promise<unknown>): Promise<AuthhostError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthhostError);
    return err as AuthhostError;
  }
  throw new Error("expected the call to fail");
}

describe("signed out", () => {
  const client = new Browser(base).client();

  it("reads the public capabilities", async () => {
    const caps = await client.capabilities();
    expect(caps.enabled).toBe(true);
    expect(caps.login).toEqual({ type: "credentials", signUpEnabled: true });
    expect(caps.user).toBeUndefined();
  });

  it("gets a typed 401 from me", async () => {
    const err = await rejection(client.me());
    expect(err).toMatchObject({ status: 401, code: "unauthenticated" });
  });

  it("gets a typed 404 from SSO login when SSO is off", async () => {
    const err = await rejection(client.ssoLoginUrl("/after"));
    expect(err).toMatchObject({ status: 404, code: "not_found" });
    expect(client.ssoRedirectUrl("/after?x=1")).toBe(`${base}/api/auth/sso/login?redirect_uri=%2Fafter%3Fx%3D1&redirect=true`);
  });

  it("is told that static-users cannot reset passwords", async () => {
    const err = await rejection(client.requestPasswordReset("someone@example.com"));
    expect(err).toMatchObject({ status: 501, code: "not_supported" });
    expect(await rejection(client.confirmPasswordReset("token", "new-password-1"))).toMatchObject({ status: 501 });
  });

  it("has no session to refresh", async () => {
    expect(await rejection(client.refresh())).toMatchObject({ status: 401, code: "unauthenticated" });
  });

  // Look-alike and malformed inputs: never a sign-in, always a typed error.
  const inputs: Array<[string, unknown, number, string]> = [
    // Mixed scripts and control characters are refused at the edge (400);
    // a fullwidth @ is NFKC-folded to the real address (see "folds").
    ["Cyrillic a in the domain", { email: "admin@ex\u0430mple.com", password: owner.password }, 400, "invalid_request"],
    ["NUL in the email", { email: "admin@example.com\u0000", password: owner.password }, 400, "invalid_request"],
    ["newline in the email", { email: "admin@example.com\nx", password: owner.password }, 400, "invalid_request"],
    ["null password", { email: owner.email, password: null }, 400, "invalid_request"],
    ["IP literal domain", { email: "admin@[127.0.0.1]", password: owner.password }, 401, "invalid_credentials"],
    ["wrong password", { email: owner.email, password: "authhost-demO" }, 401, "invalid_credentials"],
  ];
  it.each(inputs)("refuses %s", async (_name, body, status, code) => {
    const err = await rejection(client.signIn(body as { email: string; password: string }));
    expect(err.status).toBe(status);
    if (status === 400) expect(["invalid_request"]).toContain(err.code);
    else expect(err.code).toBe(code);
  });
  it("folds a fullwidth @ to the account it spells (NFKC), not another one", async () => {
    const folded = new Browser(base).client();
    const res = await folded.signIn({ email: "admin\uff20example.com", password: owner.password });
    expect(res.user.email).toBe(owner.email);
  });
});

describe("owner (cookie mode)", () => {
  const browser = new Browser(base);
  const client = browser.client();
  beforeAll(async () => {
    const res = await client.signIn(owner);
    expect(res.user.email).toBe(owner.email);
    expect(browser.session).toBeTruthy();
  });

  it("sees user, flags and access in the capabilities", async () => {
    const caps = await client.capabilities();
    expect(caps.user?.email).toBe(owner.email);
    expect(caps.capabilities).toMatchObject({ credentials: true, rbac: true, audit: true, sso: false });
    expect(caps.access).toEqual({ roles: ["owner"], permissions: ["*"] });
  });

  it("reads me", async () => {
    expect(await client.me()).toMatchObject({ email: owner.email, roles: ["owner"], permissions: ["*"] });
  });

  it("refreshes the session", async () => {
    const r = await client.refresh();
    expect(r.success).toBe(true);
    expect(Date.parse(r.expiresAt)).toBeGreaterThan(Date.now());
  });

  it("lists plugins and roles", async () => {
    const plugins = await client.admin.plugins();
    expect(plugins.map((p) => p.name)).toContain("static-users");
    expect(plugins[0]).toMatchObject({ healthy: true, capabilities: expect.arrayContaining(["credentials"]) });
    const roles = await client.admin.roles();
    expect(roles.map((r) => r.id)).toEqual(expect.arrayContaining(["owner", "admin", "member", "viewer"]));
  });

  it("grants, lists and revokes ACL grants", async () => {
    const resource = { type: "agent", id: `a-${Date.now()}` };
    const g = await client.admin.grant({ subject: "user:someone", resource, actions: ["read"] });
    expect(g).toMatchObject({ subject: "user:someone", resource, actions: ["read"] });
    expect(await client.admin.listGrants({ resourceType: resource.type, resourceId: resource.id })).toHaveLength(1);
    await client.admin.revoke({ subject: "user:someone", resource });
    expect(await client.admin.listGrants({ resourceType: resource.type, resourceId: resource.id })).toHaveLength(0);
    const bad = await rejection(client.admin.grant({ subject: "user:someone", resource, actions: [] }));
    expect(bad).toMatchObject({ status: 400, code: "invalid_request" });
  });

  it("is refused a cookie POST without Origin (the CSRF guard)", async () => {
    const noOrigin = new Browser(base, false);
    noOrigin.cookies.set("authhost_session", browser.session!);
    const err = await rejection(noOrigin.client().refresh());
    expect(err).toMatchObject({ status: 403, code: "csrf" });
  });
});

describe("audit", () => {
  let client: AuthhostClient;
  beforeAll(async () => {
    client = new Browser(base).client();
    await client.signIn(owner);
    // A few more events to page through.
    for (let i = 0; i < 3; i++) await client.refresh();
  });

  it("pages newest first without overlap", async () => {
    const first = await client.audit.list({ perPage: 2, page: 0 });
    const second = await client.audit.list({ perPage: 2, page: 1 });
    expect(first.events).toHaveLength(2);
    expect(second.events.length).toBeGreaterThan(0);
    expect(first.total).toBeGreaterThanOrEqual(4);
    expect(first.hasMore).toBe(true);
    expect(second.offset).toBe(2);
    const ids = new Set(first.events.map((e) => e.id));
    for (const e of second.events) expect(ids.has(e.id)).toBe(false);
    expect(Date.parse(first.events[1].timestamp)).toBeGreaterThanOrEqual(Date.parse(second.events[0].timestamp));
    const byOffset = await client.audit.list({ offset: 2, limit: 2 });
    expect(byOffset.events.map((e) => e.id)).toEqual(second.events.map((e) => e.id));
  });

  it("filters and fetches one event", async () => {
    const page = await client.audit.list({ action: "auth.refresh", outcome: "success", limit: 10 });
    expect(page.events.length).toBeGreaterThanOrEqual(3);
    for (const e of page.events) expect(e).toMatchObject({ action: "auth.refresh", outcome: "success" });
    const one = await client.audit.get(page.events[0].id);
    expect(one).toEqual(page.events[0]);
    expect(await rejection(client.audit.get("no-such-event"))).toMatchObject({ status: 404, code: "not_found" });
    expect(await rejection(client.audit.list({ outcome: "maybe" as "success" }))).toMatchObject({ status: 400, field: "outcome" });
  });

  it("is told that no audit provider prepares exports in the quick start", async () => {
    const req = { rangeStart: "2026-01-01T00:00:00Z", rangeEnd: "2026-01-02T00:00:00Z" };
    expect(await rejection(client.audit.createProviderExport(req))).toMatchObject({ status: 501 });
    expect(await rejection(client.audit.getProviderExport("exp_1"))).toMatchObject({ status: 501 });
  });

  it("exports CSV and JSON lines, and builds the export link", async () => {
    const csv = await client.audit.export({ actionPrefix: "auth." }, "csv");
    const lines = csv.trim().split("\n");
    expect(lines[0]).toMatch(/^id,timestamp,actorType/);
    expect(lines.length).toBeGreaterThan(1);
    const jsonl = await client.audit.export({ action: "auth.refresh" }, "jsonl");
    for (const l of jsonl.trim().split("\n")) expect(JSON.parse(l)).toMatchObject({ action: "auth.refresh" });
    expect(client.audit.exportUrl({ actionPrefix: "auth.", q: "" }, "jsonl")).toBe(`${base}/api/audit/export?actionPrefix=auth.&format=jsonl`);
  });
});

describe("viewer (signed up) vs owner", () => {
  it("gates by permission, and the owner can change the viewer's roles", async () => {
    const { client: viewer } = await signedUpViewer(base, "gate");
    const me = await viewer.me();
    expect(me.roles).toEqual(["viewer"]);
    expect(me.permissions).not.toContain("audit:read");
    expect(await rejection(viewer.audit.list())).toMatchObject({ status: 403, code: "forbidden" });
    expect(await rejection(viewer.admin.plugins())).toMatchObject({ status: 403, code: "forbidden" });

    const ownerClient = new Browser(base).client();
    await ownerClient.signIn(owner);
    expect(await ownerClient.admin.setUserRoles(me.id, ["admin"])).toMatchObject({ userId: me.id, roles: ["admin"] });
    expect(await ownerClient.admin.userRoles(me.id)).toEqual({ userId: me.id, roles: ["admin"], assigned: true });
    expect(await ownerClient.admin.clearUserRoles(me.id)).toEqual({ userId: me.id, roles: [], assigned: false });
    expect(await ownerClient.admin.setUserRoles(me.id, ["admin"])).toMatchObject({ roles: ["admin"], assigned: true });
    expect((await viewer.audit.list({ limit: 1 })).events).toHaveLength(1);
    expect(await rejection(ownerClient.admin.setUserRoles(me.id, ["emperor"]))).toMatchObject({ status: 400 });
  });
});

describe("bearer mode", () => {
  it("calls with the token only, and POSTs pass the CSRF guard", async () => {
    const browser = new Browser(base);
    await browser.client().signIn(owner);
    const token = browser.session!;
    let calls = 0;
    const client = createClient({
      baseUrl: base,
      credentials: "omit",
      token: async () => {
        calls++;
        return token;
      },
    });
    expect((await client.me()).email).toBe(owner.email);
    expect((await client.refresh()).success).toBe(true);
    expect(calls).toBe(2);
    const csv = await client.audit.export({}, "csv");
    expect(csv).toMatch(/^id,timestamp/);
    await client.logout();
    expect(await rejection(client.me())).toMatchObject({ status: 401 });
  });
});

describe("logout", () => {
  it("ends the session and reports 401s to onUnauthorized", async () => {
    const seen: AuthhostError[] = [];
    const browser = new Browser(base);
    const client = browser.client({ onUnauthorized: (e) => seen.push(e) });
    await client.signIn(owner);
    const stale = browser.session!;
    expect(await client.logout()).toEqual({ success: true });
    expect(browser.session).toBeUndefined();
    const err = await rejection(client.me());
    expect(isAuthhostError(err, "unauthenticated")).toBe(true);
    expect(seen).toEqual([err]);
    // The old session is gone on the server, not only in this cookie jar.
    const replay = createClient({ baseUrl: base, credentials: "omit", token: stale });
    expect(await rejection(replay.me())).toMatchObject({ status: 401 });
  });
});

describe("transport errors", () => {
  it("turns a refused connection into network_error", async () => {
    const client = createClient({ baseUrl: "http://127.0.0.1:1" });
    expect(await rejection(client.capabilities())).toMatchObject({ status: 0, code: "network_error" });
  });

  it("honours apiPrefix and baseUrl", async () => {
    const urls: string[] = [];
    const client = createClient({
      baseUrl: "https://auth.example.com/",
      apiPrefix: "/v2/",
      fetch: async (input) => {
        urls.push(String(input));
        return new Response(JSON.stringify({ enabled: false, login: null }), { status: 200 });
      },
    });
    await client.capabilities();
    await client.admin.userRoles("a/b");
    expect(urls).toEqual(["https://auth.example.com/v2/auth/capabilities", "https://auth.example.com/v2/admin/users/a%2Fb/roles"]);
  });
});
