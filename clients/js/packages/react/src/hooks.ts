import {
  hasPermission, isAuthhostError, type AuditExportFormat, type AuditFilter, type AuditPage, type AuthhostError,
  type Capabilities, type Credentials, type LogoutResult, type Me, type SignInResult, type SignUp,
} from "@authhost/client";
import {
  keepPreviousData, useMutation, useQuery, useQueryClient, type UseMutationResult, type UseQueryResult,
} from "@tanstack/react-query";
import { useState } from "react";
import { authKeys, clearUser, useAuthClient } from "./provider.js";

/**
 * retry retries a query twice when the request got no answer or the server
 * was unavailable; an answer such as 401, 403 or 429 is final.
 */
function retry(failures: number, err: AuthhostError): boolean {
  return failures < 2 && (err.status === 0 || err.status === 502 || err.status === 503 || err.status === 504);
}

/** useCapabilities returns the server's login options (and, signed in, flags and access). */
export function useCapabilities(): UseQueryResult<Capabilities, AuthhostError> {
  const client = useAuthClient();
  return useQuery<Capabilities, AuthhostError>({ queryKey: authKeys.capabilities, queryFn: () => client.capabilities(), retry });
}

/**
 * useCurrentUser returns the signed-in user with roles and permissions, or
 * null when signed out (a 401 is an answer here, not an error).
 */
export function useCurrentUser(): UseQueryResult<Me | null, AuthhostError> {
  const client = useAuthClient();
  return useQuery<Me | null, AuthhostError>({
    queryKey: authKeys.me,
    queryFn: async () => {
      try {
        return await client.me();
      } catch (err) {
        if (isAuthhostError(err) && err.status === 401) return null;
        throw err;
      }
    },
    retry,
  });
}

/** useSignIn signs in with email and password and refetches everything user-dependent. */
export function useSignIn(): UseMutationResult<SignInResult, AuthhostError, Credentials> {
  const client = useAuthClient();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (c: Credentials) => client.signIn(c),
    onSuccess: () => qc.invalidateQueries({ queryKey: authKeys.all }),
  });
}

/** useSignUp creates an account (signed in afterwards) and refetches everything user-dependent. */
export function useSignUp(): UseMutationResult<SignInResult, AuthhostError, SignUp> {
  const client = useAuthClient();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (req: SignUp) => client.signUp(req),
    onSuccess: () => qc.invalidateQueries({ queryKey: authKeys.all }),
  });
}

/** Options of {@link useSSOLogin}. */
export interface SSOLoginOptions {
  /** Called with the identity provider's URL; default window.location.assign. */
  navigate?: (url: string) => void;
}

/**
 * useSSOLogin starts an SSO login: mutate(redirectUri?) asks the server for
 * the identity provider's URL and navigates there. It fails with a 404
 * AuthhostError when SSO is not configured.
 */
export function useSSOLogin(opts: SSOLoginOptions = {}): UseMutationResult<string, AuthhostError, string | undefined> {
  const client = useAuthClient();
  return useMutation({
    mutationFn: (redirectUri?: string) => client.ssoLoginUrl(redirectUri),
    onSuccess: (url) => (opts.navigate ?? ((u: string) => window.location.assign(u)))(url),
  });
}

/**
 * useLogout ends the session and clears the cached user. The result's
 * redirectTo, when set, is the identity provider's logout page.
 */
export function useLogout(): UseMutationResult<LogoutResult, AuthhostError, void> {
  const client = useAuthClient();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => client.logout(),
    onSuccess: () => clearUser(qc),
  });
}

/** The answer of {@link usePermission}. */
export interface PermissionState {
  /** Whether the signed-in user holds the permission (false while loading or signed out). */
  allowed: boolean;
  /** True until the user is known. */
  isLoading: boolean;
}

/**
 * usePermission reports whether the signed-in user holds permission, with
 * the server's matching rules (`*`, `res:*`, `*:action`, ids). It hides UI
 * only: the API checks every call itself.
 */
export function usePermission(permission: string): PermissionState {
  const user = useCurrentUser();
  return { allowed: hasPermission(user.data?.permissions, permission), isLoading: user.isPending };
}

/** Options of {@link useAuditLog}. */
export interface AuditLogOptions {
  /** Filters; a change goes back to the first page. */
  filter?: AuditFilter;
  /** Events per page (default 50, at most 1000). */
  perPage?: number;
  /** The first page shown (0-based). */
  initialPage?: number;
}

/** The answer of {@link useAuditLog}: the query plus paging and the export link. */
export type AuditLogResult = UseQueryResult<AuditPage, AuthhostError> & {
  /** The current page, 0-based. */
  page: number;
  setPage: (page: number) => void;
  nextPage: () => void;
  previousPage: () => void;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  /** Number of pages for the current filter (1 while loading). */
  pageCount: number;
  /** A link to the export of the current filter (cookie mode). */
  exportUrl: (format?: AuditExportFormat) => string;
};

/** useAuditLog pages through the audit log, newest first, under filters. */
export function useAuditLog(opts: AuditLogOptions = {}): AuditLogResult {
  const client = useAuthClient();
  const perPage = opts.perPage ?? 50;
  const filter = opts.filter ?? {};
  const filterKey = JSON.stringify(filter);
  const [state, setState] = useState({ page: opts.initialPage ?? 0, filterKey });
  // A new filter starts again at the first page.
  const page = state.filterKey === filterKey ? state.page : 0;
  const setPage = (p: number) => setState({ page: Math.max(0, p), filterKey });
  const query = useQuery<AuditPage, AuthhostError>({
    queryKey: [...authKeys.audit, filter, page, perPage],
    queryFn: () => client.audit.list({ ...filter, page, perPage }),
    placeholderData: keepPreviousData,
    retry,
  });
  const total = query.data?.total ?? 0;
  const hasNextPage = query.data?.hasMore ?? (total > (page + 1) * perPage);
  return {
    ...query,
    page,
    setPage,
    nextPage: () => {
      if (hasNextPage) setPage(page + 1);
    },
    previousPage: () => setPage(page - 1),
    hasNextPage,
    hasPreviousPage: page > 0,
    pageCount: Math.max(1, Math.ceil(total / perPage)),
    exportUrl: (format: AuditExportFormat = "csv") => client.audit.exportUrl(filter, format),
  };
}
