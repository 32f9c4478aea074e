// @vitest-environment jsdom
// @authhost/react against the live server, rendered in jsdom with
// @testing-library/react: sign-in, permission gating (owner vs a signed-up
// viewer), audit paging, logout, and a 401 anywhere clearing the user.
import {
  AuthProvider, Can, useAuditLog, useCapabilities, useCurrentUser, useLogout, usePermission, useSignIn, useSignUp, useSSOLogin,
} from "@authhost/react";
import { QueryClient } from "@tanstack/react-query";
import { act, cleanup, configure, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { Browser, owner, serverURL, uniqueEmail } from "./server.js";

const base = serverURL();

// Sign-in hashes a password (argon2id): allow for a slow, shared machine.
configure({ asyncUtilTimeout: 15_000 });

afterEach(cleanup);

function newQueryClient() {
  return new QueryClient({ defaultOptions: { queries: { staleTime: 0, gcTime: Infinity } } });
}

function Status() {
  const user = useCurrentUser();
  const caps = useCapabilities();
  if (user.isPending || caps.isPending) return <p>loading</p>;
  return (
    <div>
      <p data-testid="who">{user.data ? user.data.email : "signed out"}</p>
      <p data-testid="login-type">{caps.data?.login?.type}</p>
    </div>
  );
}

function SignInForm({ email = owner.email, password = owner.password }) {
  const signIn = useSignIn();
  return (
    <div>
      <button onClick={() => signIn.mutate({ email, password })}>sign in</button>
      {signIn.error && <p role="alert">{`${signIn.error.code}: ${signIn.error.message}`}</p>}
    </div>
  );
}

function SignUpForm({ email }: { email: string }) {
  const signUp = useSignUp();
  return <button onClick={() => signUp.mutate({ email, password: "viewer-pass-1", name: "Hook Viewer" })}>sign up</button>;
}

function LogoutButton() {
  const logout = useLogout();
  return <button onClick={() => logout.mutate()}>sign out</button>;
}

function Gate() {
  const perm = usePermission("audit:read");
  return (
    <div>
      <p data-testid="perm">{perm.isLoading ? "…" : String(perm.allowed)}</p>
      <Can permission="audit:read" fallback={<p>no audit for you</p>}>
        <p>audit link</p>
      </Can>
      <Can permission="plugins:read">
        <p>plugins link</p>
      </Can>
    </div>
  );
}

function AuditView() {
  const log = useAuditLog({ filter: { actionPrefix: "auth." }, perPage: 2 });
  if (log.isPending) return <p>loading audit</p>;
  if (log.isError) return <p role="alert">{log.error.code}</p>;
  return (
    <div>
      <ul data-testid="events">{log.data.events.map((e) => <li key={e.id}>{e.id}</li>)}</ul>
      <p data-testid="page">{`${log.page + 1}/${log.pageCount}`}</p>
      <button disabled={!log.hasPreviousPage} onClick={log.previousPage}>prev</button>
      <button disabled={!log.hasNextPage} onClick={log.nextPage}>next</button>
      <button onClick={() => log.refetch()}>reload audit</button>
      <a href={log.exportUrl("csv")}>export</a>
    </div>
  );
}

function renderApp(browser: Browser, ui: React.ReactNode) {
  const qc = newQueryClient();
  render(<AuthProvider client={browser.client()} queryClient={qc}>{ui}</AuthProvider>);
  return qc;
}

const who = () => screen.getByTestId("who").textContent;

describe("@authhost/react", () => {
  it("signs in and out, refetching the user and the capabilities", async () => {
    const browser = new Browser(base);
    renderApp(browser, <><Status /><SignInForm /><LogoutButton /></>);
    await waitFor(() => expect(who()).toBe("signed out"));
    expect(screen.getByTestId("login-type").textContent).toBe("credentials");

    fireEvent.click(screen.getByText("sign in"));
    await waitFor(() => expect(who()).toBe(owner.email));
    expect(browser.session).toBeTruthy();

    fireEvent.click(screen.getByText("sign out"));
    await waitFor(() => expect(who()).toBe("signed out"));
    expect(browser.session).toBeUndefined();
  });

  it("shows the typed error of a wrong password", async () => {
    renderApp(new Browser(base), <><Status /><SignInForm email={uniqueEmail("nobody")} password="wrong-password" /></>);
    await waitFor(() => expect(who()).toBe("signed out"));
    fireEvent.click(screen.getByText("sign in"));
    expect((await screen.findByRole("alert")).textContent).toBe("invalid_credentials: Invalid email or password");
    expect(who()).toBe("signed out");
  });

  it("gates by permission: owner sees the audit link, a signed-up viewer does not", async () => {
    const ownerBrowser = new Browser(base);
    renderApp(ownerBrowser, <><Status /><SignInForm /><Gate /></>);
    await waitFor(() => expect(screen.getByTestId("perm").textContent).toBe("false"));
    expect(screen.queryByText("audit link")).toBeNull();
    fireEvent.click(screen.getByText("sign in"));
    await waitFor(() => expect(screen.getByTestId("perm").textContent).toBe("true"));
    expect(screen.getByText("audit link")).toBeTruthy();
    expect(screen.getByText("plugins link")).toBeTruthy();
    cleanup();

    renderApp(new Browser(base), <><Status /><SignUpForm email={uniqueEmail("hooks")} /><Gate /></>);
    await waitFor(() => expect(who()).toBe("signed out"));
    fireEvent.click(screen.getByText("sign up"));
    await waitFor(() => expect(who()).toMatch(/^hooks-/));
    expect(screen.getByTestId("perm").textContent).toBe("false");
    expect(screen.getByText("no audit for you")).toBeTruthy();
    expect(screen.queryByText("plugins link")).toBeNull();
  });

  it("pages through the audit log and links the export", async () => {
    const browser = new Browser(base);
    await browser.client().signIn(owner);
    renderApp(browser, <AuditView />);
    const ids = async () => {
      await waitFor(() => expect(screen.getByTestId("events").children.length).toBeGreaterThan(0));
      return [...screen.getByTestId("events").children].map((li) => li.textContent);
    };
    const first = await ids();
    expect(first).toHaveLength(2);
    expect(screen.getByTestId("page").textContent).toMatch(/^1\//);
    expect((screen.getByText("prev") as HTMLButtonElement).disabled).toBe(true);

    fireEvent.click(screen.getByText("next"));
    await waitFor(() => expect(screen.getByTestId("page").textContent).toMatch(/^2\//));
    await waitFor(async () => expect((await ids())[0]).not.toBe(first[0]));
    const second = await ids();
    for (const id of second) expect(first).not.toContain(id);

    fireEvent.click(screen.getByText("prev"));
    await waitFor(async () => expect(await ids()).toEqual(first));
    expect(screen.getByText("export").getAttribute("href")).toBe(`${base}/api/audit/export?actionPrefix=auth.&format=csv`);
  });

  it("clears the cached user when any call answers 401", async () => {
    const browser = new Browser(base);
    await browser.client().signIn(owner);
    renderApp(browser, <><Status /><AuditView /></>);
    await waitFor(() => expect(who()).toBe(owner.email));
    await screen.findByTestId("events");

    // The session ends behind the app's back (another tab signed out).
    const other = new Browser(base);
    other.cookies.set("authhost_session", browser.session!);
    await other.client().logout();

    // Only the audit query is refetched; its 401 must clear the user.
    await act(async () => fireEvent.click(screen.getByText("reload audit")));
    await waitFor(() => expect(who()).toBe("signed out"));
  });

  it("reports that SSO is not configured", async () => {
    const navigated: string[] = [];
    function SSO() {
      const sso = useSSOLogin({ navigate: (u) => navigated.push(u) });
      const [clicked, setClicked] = useState(false);
      return (
        <div>
          <button onClick={() => { setClicked(true); sso.mutate("/after"); }}>sso</button>
          {clicked && sso.isError && <p role="alert">{`${sso.error.status} ${sso.error.code}`}</p>}
        </div>
      );
    }
    renderApp(new Browser(base), <SSO />);
    fireEvent.click(screen.getByText("sso"));
    expect((await screen.findByRole("alert")).textContent).toBe("404 not_found");
    expect(navigated).toEqual([]);
  });

  it("explains a missing AuthProvider", () => {
    function Orphan() {
      useCurrentUser();
      return null;
    }
    const spy = console.error;
    console.error = () => {};
    try {
      expect(() => render(<Orphan />)).toThrow(/AuthProvider|QueryClient/);
    } finally {
      console.error = spy;
    }
  });
});
