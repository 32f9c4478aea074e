/** The JSON body of every authhost error response. */
export interface ErrorBody {
  /** Machine-readable code, e.g. `invalid_credentials`, `rate_limited`. */
  error: string;
  /** Human-readable message, safe to show. */
  message: string;
  /** The offending request field, for `invalid_request`. */
  field?: string;
}

/**
 * AuthhostError is thrown by every client call that gets a non-2xx answer
 * (or no answer). It carries the API's error code and, for 429 and 503,
 * how long to wait.
 */
export class AuthhostError extends Error {
  /** HTTP status; 0 when the request never got an answer. */
  readonly status: number;
  /** The API's error code (`error` in the body), or `network_error` / `http_<status>`. */
  readonly code: string;
  /** The request field the server complained about, if any. */
  readonly field?: string;
  /** Seconds to wait before retrying, from the Retry-After header. */
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, opts: { field?: string; retryAfter?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "AuthhostError";
    this.status = status;
    this.code = code;
    this.field = opts.field;
    this.retryAfter = opts.retryAfter;
  }
}

/** Reports whether err is an AuthhostError, optionally with the given code. */
export function isAuthhostError(err: unknown, code?: string): err is AuthhostError {
  return err instanceof AuthhostError && (code === undefined || err.code === code);
}

/**
 * parseRetryAfter reads a Retry-After header: delta-seconds or an HTTP
 * date. It returns seconds (never negative), or undefined when absent or
 * unreadable.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at) || !/[a-z]/i.test(v)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** errorFromResponse builds the AuthhostError for a non-2xx response. */
export async function errorFromResponse(res: Response): Promise<AuthhostError> {
  const retryAfter = parseRetryAfter(res.headers.get("Retry-After"));
  let body: Partial<ErrorBody> | undefined;
  try {
    const parsed: unknown = await res.json();
    if (parsed !== null && typeof parsed === "object") body = parsed as Partial<ErrorBody>;
  } catch {
    // not JSON (a proxy's error page): keep the status only
  }
  const code = typeof body?.error === "string" && body.error !== "" ? body.error : `http_${res.status}`;
  const message = typeof body?.message === "string" && body.message !== "" ? body.message : `${res.status} ${res.statusText}`.trim();
  return new AuthhostError(res.status, code, message, {
    field: typeof body?.field === "string" ? body.field : undefined,
    retryAfter,
  });
}
