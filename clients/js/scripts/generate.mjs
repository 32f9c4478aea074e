// npm run generate -- [server URL]: rewrites packages/client/src/schema.ts
// from a running authhost (default $AUTHHOST_URL, else http://localhost:8080).
import { writeFile } from "node:fs/promises";
import { generateSchema, schemaFile } from "./openapi.mjs";

const base = process.argv[2] ?? process.env.AUTHHOST_URL ?? "http://localhost:8080";
const src = await generateSchema(base);
await writeFile(new URL(`../${schemaFile}`, import.meta.url), src);
console.log(`wrote ${schemaFile} from ${base}`);
