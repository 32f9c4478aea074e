import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The tests run against a live authhost (AUTHHOST_URL), started by the Go
// test package e2e/jsclient. Files run one at a time: they share the
// server's per-IP limits, and the machine is small.
export default defineConfig({
  resolve: {
    alias: {
      "@authhost/client": fileURLToPath(new URL("./packages/client/src/index.ts", import.meta.url)),
      "@authhost/react": fileURLToPath(new URL("./packages/react/src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.{ts,tsx}", "test/**/*.test.{ts,tsx}"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
