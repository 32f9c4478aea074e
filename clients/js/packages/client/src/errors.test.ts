import { describe, expect, it } from "vitest";
import { AuthhostError, errorFromResponse, isAuthhostError, parseRetryAfter } from "./errors.js";

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  it.each<[string | null, number | undefined]>([
    [null, undefined],
    ["", undefined],
    ["0", 0],
    ["120", 120],
    [" 7 ", 7],
    ["-5", undefined],
    ["1.5", undefined],
    ["\u0661\u0662", undefined], // Arabic-Indic digits
    ["\uff11\uff12", undefined], // fullwidth digits
    ["12\u0000", undefined],
    ["null", undefined],
    ["Sun, 06 Dec 2026 12:01:00 GMT", 60],
    ["Sun, 06 Dec 2026 11:59:00 GMT", 0],
    ["not a date", undefined],
  ])("%j → %j", (header, want) => {
    expect(parseRetryAfter(header, now)).toBe(want);
  });
});

describe("errorFromResponse", () => {
  it("reads code, message, field and Retry-After", async () => {
    const res = new Response(JSON.stringify({ error: "rate_limited", message: "slow down", field: "email" }), {
      status: 429, headers: { "Retry-After": "30" },
    });
    const err = await errorFromResponse(res);
    expect(err).toBeInstanceOf(AuthhostError);
    expect(err).toMatchObject({ status: 429, code: "rate_limited", message: "slow down", field: "email", retryAfter: 30 });
    expect(isAuthhostError(err, "rate_limited")).toBe(true);
    expect(isAuthhostError(err, "forbidden")).toBe(false);
  });

  it.each([
    ["an HTML page", "<html>bad gateway</html>"],
    ["JSON null", "null"],
    ["a JSON string", '"oops"'],
    ["a non-string code", '{"error": 5, "message": null}'],
  ])("falls back to the status for %s", async (_name, body) => {
    const err = await errorFromResponse(new Response(body, { status: 502, statusText: "Bad Gateway" }));
    expect(err).toMatchObject({ status: 502, code: "http_502", message: "502 Bad Gateway", retryAfter: undefined });
  });

  it("is not confused with other errors", () => {
    expect(isAuthhostError(new Error("x"))).toBe(false);
    expect(isAuthhostError({ status: 401, code: "unauthenticated" })).toBe(false);
  });
});
