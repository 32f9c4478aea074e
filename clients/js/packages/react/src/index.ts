export { AuthProvider, authKeys, clearUser, useAuthClient } from "./provider.js";
export type { AuthProviderProps } from "./provider.js";
export {
  useAuditLog, useCapabilities, useCurrentUser, useLogout, usePermission, useSignIn, useSignUp, useSSOLogin,
} from "./hooks.js";
export type { AuditLogOptions, AuditLogResult, PermissionState, SSOLoginOptions } from "./hooks.js";
export { Can } from "./Can.js";
export type { CanProps } from "./Can.js";
