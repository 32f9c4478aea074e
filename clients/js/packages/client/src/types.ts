// Response types of the authhost API. The served OpenAPI document names
// each route, its parameters and request bodies (schema.ts, generated);
// it does not describe response bodies, so they are written here and
// checked against the live server by the tests.

/** A signed-in user. */
export interface User {
  id: string;
  email?: string;
  name?: string;
  avatarUrl?: string;
  roles?: string[];
  metadata?: Record<string, unknown>;
}

/** GET /auth/me: the user with its roles and permissions. */
export interface Me extends User {
  permissions: string[];
}

/** The SSO button the server offers. */
export interface SSOLogin {
  provider: string;
  text: string;
  icon?: string;
  description?: string;
  /** Where to start the login: the API's /auth/sso/login. */
  url: string;
}

/** How a visitor can sign in. */
export interface LoginOptions {
  type: "sso" | "credentials" | "both";
  signUpEnabled?: boolean;
  sso?: SSOLogin;
  description?: string;
}

/** Which capabilities the server composes. */
export interface CapabilityFlags {
  user: boolean;
  session: boolean;
  sso: boolean;
  credentials: boolean;
  rbac: boolean;
  acl: boolean;
  audit: boolean;
}

/** The signed-in user's roles and effective permissions. */
export interface Access {
  roles: string[];
  permissions: string[];
}

/** GET /auth/capabilities; user, capabilities and access only when signed in. */
export interface Capabilities {
  enabled: boolean;
  login: LoginOptions | null;
  user?: User;
  capabilities?: CapabilityFlags;
  access?: Access | null;
}

/** A successful sign-in or sign-up. */
export interface SignInResult {
  user: User;
  /** A bearer token, when the provider issues one. */
  token?: string;
}

/** POST /auth/logout. */
export interface LogoutResult {
  success: boolean;
  /** The identity provider's logout page, to visit next (SSO). */
  redirectTo?: string;
}

/** POST /auth/refresh. */
export interface RefreshResult {
  success: boolean;
  expiresAt: string;
}

/** Audit actor types (`api-key` is accepted as an alias of `apikey`). */
export type AuditActorType = "user" | "system" | "apikey";
/** Audit outcomes. */
export type AuditOutcome = "success" | "failure" | "denied";

/** One audit event. */
export interface AuditEvent {
  id: string;
  /** RFC 3339. */
  timestamp: string;
  actor: { type: AuditActorType; id: string; email?: string; ip?: string; userAgent?: string };
  action: string;
  resource?: { type: string; id: string; name?: string };
  outcome: AuditOutcome;
  metadata?: Record<string, unknown>;
  durationMs?: number;
}

/** Audit filters, shared by the query and the export. */
export interface AuditFilter {
  actorId?: string;
  actorType?: AuditActorType | "api-key";
  /** Exact action, `*` wildcards allowed (e.g. `auth.*`). */
  action?: string;
  actionPrefix?: string;
  resourceType?: string;
  resourceId?: string;
  outcome?: AuditOutcome;
  /** Substring of the actor id/email or resource type/id/name. */
  q?: string;
  /** RFC 3339 time or YYYY-MM-DD (start of that UTC day). */
  startDate?: string;
  /** RFC 3339 time or YYYY-MM-DD (end of that UTC day). */
  endDate?: string;
}

/** Audit paging: offset/limit, page/perPage (0-based page) or a cursor. */
export interface AuditPaging {
  offset?: number;
  limit?: number;
  page?: number;
  perPage?: number;
  cursor?: string;
}

/** GET /audit: one page of events, newest first. */
export interface AuditPage {
  events: AuditEvent[];
  /** Matching events: exact unless totalCapped, else the server's cap. */
  total: number;
  /** The count stopped at the cap (10,000 for the built-in stores): more than total events match. */
  totalCapped: boolean;
  offset: number;
  limit: number;
  hasMore: boolean;
  nextCursor?: string;
}

/** Audit export formats: CSV or JSON lines. */
export type AuditExportFormat = "csv" | "jsonl";

/** An export prepared by the audit provider (e.g. WorkOS). */
export interface ProviderAuditExport {
  id: string;
  state: "pending" | "ready" | "error";
  url?: string;
  createdAt?: string;
  updatedAt?: string;
}

/** One loaded plugin, as GET /admin/plugins reports it. */
export interface PluginStatus {
  name: string;
  version: string;
  abi: string;
  file: string;
  capabilities: string[];
  healthy: boolean;
  poolSize: number;
  instances: number;
  inUse: number;
  calls: number;
  errors: number;
  discards: number;
  p50Micros: number;
  p99Micros: number;
}

/** A role and the permissions it grants. */
export interface RoleDefinition {
  id: string;
  name: string;
  description?: string;
  permissions: string[];
  inherits?: string[];
}

/** A user's assigned roles. */
export interface UserRoles {
  userId: string;
  roles: string[];
  /** Whether the roles come from a stored assignment (false: the provider's or the default roles). */
  assigned: boolean;
}

/** An ACL resource. */
export interface Resource {
  type: string;
  id: string;
}

/** One ACL grant. */
export interface ACLGrant {
  subject: string;
  resource: Resource;
  actions: string[];
  grantedAt: string;
  grantedBy: string;
}
