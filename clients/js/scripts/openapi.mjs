// Turns authhost's served OpenAPI document into the TypeScript source of
// packages/client/src/schema.ts. Shared by `npm run generate` and the drift
// test, so both produce byte-identical output.
import openapiTS, { astToString } from "openapi-typescript";

/** Path of the generated file, relative to clients/js. */
export const schemaFile = "packages/client/src/schema.ts";

const banner = `/**
 * Generated from authhost's GET /api/openapi.json by openapi-typescript.
 * Do not edit: regenerate with \`AUTHHOST_JS_REGENERATE=1 go test ./e2e/jsclient\`
 * (or \`npm run generate -- <server URL>\` against a running server).
 */
`;

/**
 * Fetches the OpenAPI document from the server at baseURL and returns the
 * generated TypeScript source.
 * @param {string} baseURL
 * @returns {Promise<string>}
 */
export async function generateSchema(baseURL) {
  const res = await fetch(new URL("/api/openapi.json", baseURL));
  if (!res.ok) {
    throw new Error(`openapi: GET ${res.url}: ${res.status}`);
  }
  const doc = await res.json();
  const ast = await openapiTS(doc, { alphabetize: true });
  return banner + astToString(ast);
}
