// Drift check: the committed schema.ts must be what openapi-typescript
// makes of the live server's /api/openapi.json.
import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { generateSchema, schemaFile } from "../scripts/openapi.mjs";
import { serverURL } from "./server.js";

it("has types generated from the server's current OpenAPI document", async () => {
  const fresh = await generateSchema(serverURL());
  const committed = await readFile(new URL(`../${schemaFile}`, import.meta.url), "utf8");
  expect(committed === fresh,
    `${schemaFile} is stale: regenerate it with \`AUTHHOST_JS_REGENERATE=1 go test ./e2e/jsclient\``).toBe(true);
});
