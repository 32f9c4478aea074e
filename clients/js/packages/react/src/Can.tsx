import type { ReactNode } from "react";
import { usePermission } from "./hooks.js";

/** Props of {@link Can}. */
export interface CanProps {
  /** The permission required, e.g. `audit:read`. */
  permission: string;
  /** Shown when the permission is missing (default nothing). */
  fallback?: ReactNode;
  /** Shown while the user is loading (default nothing). */
  loading?: ReactNode;
  children?: ReactNode;
}

/** Can renders its children only when the signed-in user holds permission. */
export function Can({ permission, fallback = null, loading = null, children }: CanProps) {
  const { allowed, isLoading } = usePermission(permission);
  if (isLoading) return <>{loading}</>;
  return <>{allowed ? children : fallback}</>;
}
