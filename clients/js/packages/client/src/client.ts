import { AuthhostError, errorFromResponse } from "./errors.js";
import type { components, paths } from "./schema.js";
import type {
  ACLGrant, AuditEvent, AuditExportFormat, AuditFilter, AuditPage, AuditPaging, Capabilities, LogoutResult, Me,
  PluginStatus, ProviderAuditExport, RefreshResult, RoleDefinition, SignInResult, UserRoles,
} from "./types.js";

type Method = "get" | "post" | "put" | "delete";

/** The paths of the generated schema that define method M. */
type PathWith<M extends Method> = {
  [P in keyof paths]: paths[P][M] extends { responses: unknown } ? P : never;
}[keyof paths];

type Operation<P extends keyof paths, M extends Method> = paths[P][M];

/** The JSON request body of an operation, or never. */
type BodyOf<O> = O extends { requestBody: { content: { "application/json": infer B } } } ? B : never;

/** The query parameters of an operation. */
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Q : never;

type Schemas = components["schemas"];

/** Credentials for sign-in. */
export type Credentials = Schemas["Credentials"];
/** A sign-up request. */
export type SignUp = Schemas["SignUp"];
/** An ACL grant request. */
export type GrantRequest = Schemas["Grant"];
/** An ACL revoke request (all actions when none are given). */
export type RevokeRequest = Schemas["Revoke"];
/** A request for a provider-prepared audit export. */
export type ProviderExportRequest = Schemas["AuditExport"];

/** A value or a function that produces it (possibly asynchronously). */
export type Supplier<T> = T | (() => T | Promise<T>);

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The server's origin, e.g. `https://auth.example.com`; "" (default) is the page's own origin. */
  baseUrl?: string;
  /** The server's API prefix (its `api_prefix`), default `/api`. */
  apiPrefix?: string;
  /**
   * Bearer mode: the token to send as `Authorization: Bearer …`. Without
   * it the client runs in cookie mode and relies on the session cookie.
   */
  token?: Supplier<string | null | undefined>;
  /** fetch's credentials mode; default `include` (send the session cookie, also cross-origin). */
  credentials?: RequestCredentials;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
  /** The fetch implementation; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Called with every error a call throws with status 401 (e.g. to drop a cached user). */
  onUnauthorized?: (err: AuthhostError) => void;
}

/** The audit calls. */
export interface AuditClient {
  /** One page of events matching filter, newest first. */
  list(query?: AuditFilter & AuditPaging): Promise<AuditPage>;
  /** One event by id. */
  get(id: string): Promise<AuditEvent>;
  /** The URL of the export of events matching filter; a link for cookie mode (`<a href download>`). */
  exportUrl(filter?: AuditFilter, format?: AuditExportFormat): string;
  /** The export as text, fetched with this client's credentials (works in bearer mode). */
  export(filter?: AuditFilter, format?: AuditExportFormat): Promise<string>;
  /** Asks the audit provider (e.g. WorkOS) to prepare an export. */
  createProviderExport(req: ProviderExportRequest): Promise<ProviderAuditExport>;
  /** The state of a provider export. */
  getProviderExport(id: string): Promise<ProviderAuditExport>;
}

/** The admin calls: plugins, roles and ACL grants. */
export interface AdminClient {
  /** Loaded plugins with health, pool and latency. */
  plugins(): Promise<PluginStatus[]>;
  /** The RBAC provider's role definitions. */
  roles(): Promise<RoleDefinition[]>;
  /** A user's assigned roles. */
  userRoles(userId: string): Promise<UserRoles>;
  /** Replaces a user's roles (`[]` means no roles at all). */
  setUserRoles(userId: string, roles: string[]): Promise<UserRoles>;
  /** Removes a user's role assignment: back to the provider's or the default roles. */
  clearUserRoles(userId: string): Promise<UserRoles>;
  /** ACL grants, optionally filtered. */
  listGrants(query?: { subject?: string; resourceType?: string; resourceId?: string }): Promise<ACLGrant[]>;
  /** Grants actions on a resource. */
  grant(req: GrantRequest): Promise<ACLGrant>;
  /** Revokes actions (all when none are given). */
  revoke(req: RevokeRequest): Promise<void>;
}

/** A typed client for every authhost API route. */
export interface AuthhostClient {
  /** Login options; user, flags and access when signed in. */
  capabilities(): Promise<Capabilities>;
  /** The signed-in user with roles and permissions (401 when signed out). */
  me(): Promise<Me>;
  /** Starts an SSO login and returns the identity provider's URL (404 when SSO is off). */
  ssoLoginUrl(redirectUri?: string): Promise<string>;
  /** The URL to navigate the browser to for an SSO login that comes back to redirectUri. */
  ssoRedirectUrl(redirectUri?: string): string;
  /** Signs in with email and password. */
  signIn(credentials: Credentials): Promise<SignInResult>;
  /** Creates an account and signs it in. */
  signUp(req: SignUp): Promise<SignInResult>;
  /** Asks for a password reset email (always accepted, so it reveals no accounts). */
  requestPasswordReset(email: string): Promise<void>;
  /** Sets a new password with a reset token. */
  confirmPasswordReset(token: string, newPassword: string): Promise<void>;
  /** Extends the session. */
  refresh(): Promise<RefreshResult>;
  /** Ends the session. */
  logout(): Promise<LogoutResult>;
  /** Audit calls. */
  audit: AuditClient;
  /** Admin calls. */
  admin: AdminClient;
}

type QueryValue = string | number | boolean | null | undefined;

function queryString(q: object | undefined): string {
  if (q === undefined) return "";
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(q as Record<string, QueryValue>)) {
    if (v !== undefined && v !== null && v !== "") sp.set(k, String(v));
  }
  const s = sp.toString();
  return s === "" ? "" : `?${s}`;
}

/** createClient returns an authhost client; see {@link ClientOptions}. */
export function createClient(options: ClientOptions = {}): AuthhostClient {
  const baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
  const prefix = "/" + (options.apiPrefix ?? "/api").replace(/^\/+|\/+$/g, "");
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));

  /** url maps a schema path ("/api/…") to the server's URL for it. */
  const url = (path: string, params: Record<string, string> = {}, query?: object): string => {
    let p = path.replace(/^\/api/, prefix === "/" ? "" : prefix);
    for (const [k, v] of Object.entries(params)) p = p.replace(`{${k}}`, encodeURIComponent(v));
    return baseUrl + p + queryString(query);
  };

  async function send(method: Method, target: string, body?: unknown, accept = "application/json"): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept, ...options.headers };
    const token = typeof options.token === "function" ? await options.token() : options.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await doFetch(target, {
        method: method.toUpperCase(),
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: options.credentials ?? "include",
      });
    } catch (cause) {
      throw new AuthhostError(0, "network_error", `${method.toUpperCase()} ${target}: ${String(cause)}`, { cause });
    }
    if (!res.ok) {
      const err = await errorFromResponse(res);
      if (err.status === 401) options.onUnauthorized?.(err);
      throw err;
    }
    return res;
  }

  /**
   * call sends one operation of the generated schema: P and M must name a
   * route the server documents, and body/query must match its schema.
   */
  async function call<T, M extends Method, P extends PathWith<M>>(method: M, path: P,
    req: { params?: Record<string, string>; query?: QueryOf<Operation<P, M>>; body?: BodyOf<Operation<P, M>> } = {}): Promise<T> {
    const res = await send(method, url(path, req.params, req.query as object | undefined), req.body);
    return (await res.json()) as T;
  }

  const exportQuery = (filter: AuditFilter = {}, format: AuditExportFormat = "csv"): QueryOf<Operation<"/api/audit/export", "get">> =>
    ({ ...filter, format });

  const audit: AuditClient = {
    list: (query) => call<AuditPage, "get", "/api/audit">("get", "/api/audit", { query: query as QueryOf<Operation<"/api/audit", "get">> }),
    get: (id) => call<AuditEvent, "get", "/api/audit/{id}">("get", "/api/audit/{id}", { params: { id } }),
    exportUrl: (filter, format) => url("/api/audit/export", {}, exportQuery(filter, format)),
    export: async (filter, format) => {
      const res = await send("get", url("/api/audit/export", {}, exportQuery(filter, format)), undefined, "*/*");
      return res.text();
    },
    createProviderExport: (body) => call<ProviderAuditExport, "post", "/api/audit/exports">("post", "/api/audit/exports", { body }),
    getProviderExport: (id) => call<ProviderAuditExport, "get", "/api/audit/exports/{id}">("get", "/api/audit/exports/{id}", { params: { id } }),
  };

  const admin: AdminClient = {
    plugins: async () => (await call<{ plugins: PluginStatus[] }, "get", "/api/admin/plugins">("get", "/api/admin/plugins")).plugins,
    roles: async () => (await call<{ roles: RoleDefinition[] }, "get", "/api/admin/roles">("get", "/api/admin/roles")).roles,
    userRoles: (userId) => call<UserRoles, "get", "/api/admin/users/{id}/roles">("get", "/api/admin/users/{id}/roles", { params: { id: userId } }),
    setUserRoles: (userId, roles) =>
      call<UserRoles, "put", "/api/admin/users/{id}/roles">("put", "/api/admin/users/{id}/roles", { params: { id: userId }, body: { roles } }),
    clearUserRoles: (userId) =>
      call<UserRoles, "delete", "/api/admin/users/{id}/roles">("delete", "/api/admin/users/{id}/roles", { params: { id: userId } }),
    listGrants: async (query) =>
      (await call<{ grants: ACLGrant[] }, "get", "/api/admin/acl">("get", "/api/admin/acl", { query: query as QueryOf<Operation<"/api/admin/acl", "get">> })).grants,
    grant: (body) => call<ACLGrant, "post", "/api/admin/acl">("post", "/api/admin/acl", { body }),
    revoke: async (body) => {
      await call<unknown, "delete", "/api/admin/acl">("delete", "/api/admin/acl", { body });
    },
  };

  const ssoQuery = (redirectUri?: string) => ({ redirect_uri: redirectUri });

  return {
    capabilities: () => call<Capabilities, "get", "/api/auth/capabilities">("get", "/api/auth/capabilities"),
    me: () => call<Me, "get", "/api/auth/me">("get", "/api/auth/me"),
    ssoLoginUrl: async (redirectUri) =>
      (await call<{ url: string }, "get", "/api/auth/sso/login">("get", "/api/auth/sso/login", { query: ssoQuery(redirectUri) })).url,
    ssoRedirectUrl: (redirectUri) => url("/api/auth/sso/login", {}, { ...ssoQuery(redirectUri), redirect: "true" }),
    signIn: (body) => call<SignInResult, "post", "/api/auth/credentials/sign-in">("post", "/api/auth/credentials/sign-in", { body }),
    signUp: (body) => call<SignInResult, "post", "/api/auth/credentials/sign-up">("post", "/api/auth/credentials/sign-up", { body }),
    requestPasswordReset: async (email) => {
      await call<unknown, "post", "/api/auth/credentials/password-reset">("post", "/api/auth/credentials/password-reset", { body: { email } });
    },
    confirmPasswordReset: async (token, newPassword) => {
      await call<unknown, "post", "/api/auth/credentials/password-reset/confirm">("post", "/api/auth/credentials/password-reset/confirm",
        { body: { token, newPassword } });
    },
    refresh: () => call<RefreshResult, "post", "/api/auth/refresh">("post", "/api/auth/refresh"),
    logout: () => call<LogoutResult, "post", "/api/auth/logout">("post", "/api/auth/logout"),
    audit,
    admin,
  };
}
