export { createClient } from "./client.js";
export type {
  AdminClient, AuditClient, AuthhostClient, ClientOptions, Credentials, GrantRequest, ProviderExportRequest, RevokeRequest,
  SignUp, Supplier,
} from "./client.js";
export { AuthhostError, errorFromResponse, isAuthhostError, parseRetryAfter } from "./errors.js";
export type { ErrorBody } from "./errors.js";
export type * from "./types.js";
export type { components, operations, paths } from "./schema.js";
export { hasPermission, matchesPermission } from "./permissions.js";
