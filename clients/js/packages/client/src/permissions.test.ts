import { describe, expect, it } from "vitest";
import { hasPermission, matchesPermission } from "./permissions.js";

// The same table as the server's auth.TestMatches, plus encodings.
const cases: Array<[string, string, boolean]> = [
  ["*", "agents:read", true],
  ["*", "agents:read:123", true],
  ["*", "anything", true],
  ["agents:read", "agents:read", true],
  ["agents:read", "agents:write", false],
  ["agents:*", "agents:read", true],
  ["agents:*", "agents:delete:42", true],
  ["agents:*", "workflows:read", false],
  ["agents:*", "agentsx:read", false],
  ["*:read", "agents:read", true],
  ["*:read", "workflows:read:7", true],
  ["*:read", "agents:write", false],
  ["*:*", "agents:read", true],
  ["*:*", "agents:read:1", true],
  ["*:*:1", "agents:read:1", true],
  ["*:*:1", "agents:read:2", false],
  ["*:*:1", "agents:read", false],
  ["agents:read", "agents:read:123", true],
  ["agents:read:123", "agents:read:123", true],
  ["agents:read:123", "agents:read:456", false],
  ["agents:read:123", "agents:read", false],
  ["agents:*:123", "agents:delete:123", true],
  ["agents:*:123", "agents:delete:124", false],
  ["agents:*:123", "agents:delete", false],
  ["agents:*:123", "workflows:read:123", false],
  ["files:read:a:b", "files:read:a:b", true],
  ["files:read:a", "files:read:a:b", false],
  ["admin", "admin", true],
  ["admin", "admin:read", false],
  ["agents:read", "agents", false],
  ["", "agents:read", false],
  ["*", "", false],
  ["agents:read", "", false],
  // Look-alikes and control characters never match the real thing.
  ["audit:read", "audit\u2236read", false], // RATIO
  ["audit:read", "audit\uff1aread", false], // fullwidth colon
  ["audit\uff1a*", "audit:read", false],
  ["\uff0a", "audit:read", false], // fullwidth asterisk
  ["audit:*", "\u0430udit:read", false], // Cyrillic a
  ["audit:read", "audit:read\u0000", false],
  ["audit:read\u0000", "audit:read", false],
  ["audit:read", "audit:read\n", false],
  ["null", "audit:read", false],
  ["audit:read", "null", false],
  ["127.0.0.1:*", "127.0.0.1:read", true],
  ["127.0.0.1:*", "127.0.0.2:read", false],
];

describe("matchesPermission", () => {
  it.each(cases)("granted %j, required %j → %s", (granted, required, want) => {
    expect(matchesPermission(granted, required)).toBe(want);
  });
});

describe("hasPermission", () => {
  it("needs one matching grant", () => {
    expect(hasPermission(["agents:read", "audit:*"], "audit:export")).toBe(true);
    expect(hasPermission(["agents:read"], "audit:export")).toBe(false);
    expect(hasPermission([], "audit:read")).toBe(false);
    expect(hasPermission(null, "audit:read")).toBe(false);
    expect(hasPermission(undefined, "")).toBe(false);
  });
});
