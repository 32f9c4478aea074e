// Permission matching, the same rules as the server's auth.Matches, so a
// UI can hide what the API would refuse. The server stays the authority.

/**
 * matchesPermission reports whether the granted permission covers the
 * required one. Permissions have the form resource:action[:id]; on the
 * granted side `*` is everything, `*:action` that action on any resource,
 * `res:*` any action on res, `res:*:id` any action on that id, `res:action`
 * also covers every id, `res:action:id` only that id. Strings with fewer
 * than two parts compare exactly; an empty string never matches.
 */
export function matchesPermission(granted: string, required: string): boolean {
  if (required === "" || granted === "") return false;
  if (granted === "*") return true;
  const g = splitN(granted, 3);
  const r = splitN(required, 3);
  if (g.length < 2 || r.length < 2) return granted === required;
  if (g[0] !== "*" && g[0] !== r[0]) return false;
  if (g[1] !== "*" && g[1] !== r[1]) return false;
  if (g.length === 3) return r.length === 3 && (g[2] === "*" || g[2] === r[2]);
  return true;
}

/** hasPermission reports whether any granted permission covers required. */
export function hasPermission(granted: readonly string[] | null | undefined, required: string): boolean {
  return (granted ?? []).some((g) => matchesPermission(g, required));
}

/** splitN splits s at ":" into at most n parts, like Go's strings.SplitN. */
function splitN(s: string, n: number): string[] {
  const parts: string[] = [];
  let rest = s;
  while (parts.length < n - 1) {
    const i = rest.indexOf(":");
    if (i < 0) break;
    parts.push(rest.slice(0, i));
    rest = rest.slice(i + 1);
  }
  parts.push(rest);
  return parts;
}
