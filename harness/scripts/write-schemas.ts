// Writes harness/schema/*.schema.json from the zod schemas (npm run schema; also part of the build).
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { SCHEMA_FILES, schemaText } from "../src/config/json-schema.ts";

const dir = path.resolve(import.meta.dirname, "..", "schema");
mkdirSync(dir, { recursive: true });
for (const [file, make] of Object.entries(SCHEMA_FILES)) {
  writeFileSync(path.join(dir, file), schemaText(make()));
  process.stdout.write(`wrote ${path.join("schema", file)}\n`);
}
