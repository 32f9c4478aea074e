import {
  Can, useAuditLog, useCapabilities, useCurrentUser, useLogout, useSignIn, useSignUp, useSSOLogin,
} from "@authhost/react";
import { useState, type FormEvent } from "react";

export function App() {
  const user = useCurrentUser();
  if (user.isPending) return <p>Loading…</p>;
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", maxWidth: 760, margin: "2rem auto", padding: "0 1rem" }}>
      <h1>authhost React example</h1>
      {user.data ? <SignedIn /> : <SignInPage />}
    </main>
  );
}

function SignInPage() {
  const caps = useCapabilities();
  const signIn = useSignIn();
  const signUp = useSignUp();
  const sso = useSSOLogin();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [mode, setMode] = useState<"in" | "up">("in");
  const login = caps.data?.login;
  const pending = signIn.isPending || signUp.isPending;
  const error = signIn.error ?? signUp.error ?? sso.error;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (mode === "in") signIn.mutate({ email, password });
    else signUp.mutate({ email, password });
  };

  return (
    <section>
      {login?.type !== "sso" && (
        <form onSubmit={submit} aria-label={mode === "in" ? "Sign in" : "Create an account"}>
          <p>
            <label>Email <input name="email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required /></label>
          </p>
          <p>
            <label>Password <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required /></label>
          </p>
          <button type="submit" disabled={pending}>{mode === "in" ? "Sign in" : "Create account"}</button>
          {login?.signUpEnabled && (
            <button type="button" onClick={() => setMode(mode === "in" ? "up" : "in")}>
              {mode === "in" ? "Need an account?" : "Have an account?"}
            </button>
          )}
        </form>
      )}
      {login?.sso && <button onClick={() => sso.mutate(window.location.href)}>{login.sso.text}</button>}
      {error && (
        <p role="alert">
          {error.message}
          {error.retryAfter !== undefined && ` (try again in ${error.retryAfter} s)`}
        </p>
      )}
    </section>
  );
}

function SignedIn() {
  const user = useCurrentUser();
  const logout = useLogout();
  const me = user.data!;
  return (
    <section>
      <p id="whoami">
        Signed in as <strong>{me.email ?? me.id}</strong> ({(me.roles ?? []).join(", ") || "no roles"})
      </p>
      <button id="sign-out" onClick={() => logout.mutate(undefined, { onSuccess: (r) => r.redirectTo && window.location.assign(r.redirectTo) })}>
        Sign out
      </button>
      <Can permission="audit:read" fallback={<p>Your role may not read the audit log.</p>}>
        <AuditLog />
      </Can>
    </section>
  );
}

function AuditLog() {
  const [prefix, setPrefix] = useState("");
  const log = useAuditLog({ filter: { actionPrefix: prefix || undefined }, perPage: 10 });
  return (
    <section aria-label="Audit log">
      <h2>Audit log</h2>
      <label>
        Action prefix{" "}
        <select value={prefix} onChange={(e) => setPrefix(e.target.value)}>
          <option value="">all</option>
          <option value="auth.">auth.</option>
          <option value="admin.">admin.</option>
        </select>
      </label>
      {log.isError && <p role="alert">{log.error.message}</p>}
      <table>
        <thead>
          <tr><th>When</th><th>Actor</th><th>Action</th><th>Outcome</th></tr>
        </thead>
        <tbody>
          {log.data?.events.map((e) => (
            <tr key={e.id}>
              <td>{new Date(e.timestamp).toLocaleString()}</td>
              <td>{e.actor.email ?? e.actor.id}</td>
              <td>{e.action}</td>
              <td>{e.outcome}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <button onClick={log.previousPage} disabled={!log.hasPreviousPage}>Previous</button>{" "}
        Page {log.page + 1} of {log.pageCount}{" "}
        <button onClick={log.nextPage} disabled={!log.hasNextPage}>Next</button>
      </p>
      <Can permission="audit:export">
        <p>
          Export: <a href={log.exportUrl("csv")}>CSV</a> · <a href={log.exportUrl("jsonl")}>JSON lines</a>
        </p>
      </Can>
    </section>
  );
}
