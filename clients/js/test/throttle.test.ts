// The sign-in throttle seen through the client: a typed 429 with the
// server's code and Retry-After. Runs against its own server
// (AUTHHOST_THROTTLE_URL) so its failures do not count against the IP
// that the other tests sign in from.
import { AuthhostError, createClient } from "@authhost/client";
import { expect, it } from "vitest";
import { serverURL, uniqueEmail } from "./server.js";

it("answers repeated wrong passwords with a typed 429 carrying Retry-After", async () => {
  const base = serverURL("AUTHHOST_THROTTLE_URL");
  const client = createClient({ baseUrl: base, credentials: "omit" });
  const email = uniqueEmail("throttle");
  let throttled: AuthhostError | undefined;
  let tries = 0;
  // Bounded: the server's limits may change, the shape of the answer may not.
  while (!throttled && tries < 200) {
    tries++;
    try {
      await client.signIn({ email, password: `wrong-${tries}` });
      throw new Error("a wrong password signed in");
    } catch (err) {
      if (!(err instanceof AuthhostError)) throw err;
      if (err.status === 429) throttled = err;
      else expect(err).toMatchObject({ status: 401, code: "invalid_credentials" });
    }
  }
  expect(throttled, `no 429 after ${tries} wrong passwords`).toBeDefined();
  expect(tries).toBeGreaterThan(1);
  expect(throttled!.code).toBe("rate_limited");
  expect(throttled!.retryAfter).toBeGreaterThan(0);
  expect(throttled!.message).not.toBe("");
});
