import { isAuthhostError, type AuthhostClient } from "@authhost/client";
import { QueryClientProvider, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, type ReactNode } from "react";

/** The query keys of the cached API answers; every key starts with "authhost". */
export const authKeys = {
  all: ["authhost"] as const,
  capabilities: ["authhost", "capabilities"] as const,
  me: ["authhost", "me"] as const,
  audit: ["authhost", "audit"] as const,
};

const ClientContext = createContext<AuthhostClient | null>(null);

/** Props of {@link AuthProvider}. */
export interface AuthProviderProps {
  /** The API client (createClient from @authhost/client). */
  client: AuthhostClient;
  /** A QueryClient to provide; without it the surrounding QueryClientProvider's is used. */
  queryClient?: QueryClient;
  children?: ReactNode;
}

/**
 * AuthProvider makes the client available to the hooks and watches every
 * query and mutation: an answer of 401 anywhere clears the cached user
 * (and refetches the capabilities), so the UI shows the signed-out state.
 */
export function AuthProvider({ client, queryClient, children }: AuthProviderProps) {
  const inner = (
    <ClientContext.Provider value={client}>
      <UnauthorizedWatcher />
      {children}
    </ClientContext.Provider>
  );
  return queryClient ? <QueryClientProvider client={queryClient}>{inner}</QueryClientProvider> : inner;
}

/** clearUser forgets the cached user and everything fetched as that user. */
export function clearUser(qc: QueryClient): void {
  qc.setQueryData(authKeys.me, null);
  qc.removeQueries({ queryKey: authKeys.audit });
  void qc.invalidateQueries({ queryKey: authKeys.capabilities });
}

function UnauthorizedWatcher() {
  const qc = useQueryClient();
  useEffect(() => {
    const on401 = (err: unknown) => {
      if (isAuthhostError(err) && err.status === 401) clearUser(qc);
    };
    const unsubQueries = qc.getQueryCache().subscribe((e) => {
      if (e.type === "updated" && e.action.type === "error") on401(e.action.error);
    });
    const unsubMutations = qc.getMutationCache().subscribe((e) => {
      if (e.type === "updated" && e.action.type === "error") on401(e.action.error);
    });
    return () => {
      unsubQueries();
      unsubMutations();
    };
  }, [qc]);
  return null;
}

/** useAuthClient returns the AuthProvider's client. */
export function useAuthClient(): AuthhostClient {
  const c = useContext(ClientContext);
  if (c === null) throw new Error("@authhost/react: wrap the app in <AuthProvider client={…}>");
  return c;
}
