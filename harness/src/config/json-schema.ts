// JSON Schemas of galley.yml and box.yml for editors (a `# yaml-language-server: $schema=…` line gives
// completion and checks as you type), generated from the same zod schemas Galley validates with, so
// they cannot disagree. Written to harness/schema/ by `npm run schema` (and the build); a unit test
// fails when the committed files differ from what this generates.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { BoxYml } from "../boxes/definition.ts";
import { GalleyConfig, SHORTHAND } from "./schema.ts";

type JsonSchema = Record<string, unknown>;

function generate(schema: z.ZodType, title: string, description: string): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io: "input", // what a user writes: defaults are optional, shorthands allowed
    // Draft 7: the newest draft the YAML language server (VS Code's YAML extension and the editors
    // using it) documents as supported ("JSON Schema 7 and below").
    target: "draft-7",
    unrepresentable: "any",
    override: (ctx) => {
      // `driver: docker` as well as `driver: { name: docker, … }`.
      if (SHORTHAND.has(ctx.zodSchema as unknown as z.ZodType)) {
        const object = { ...ctx.jsonSchema };
        const name = (object.properties as Record<string, JsonSchema> | undefined)?.name;
        for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as JsonSchema)[k];
        Object.assign(ctx.jsonSchema, { anyOf: [name, object] });
      }
    },
  }) as JsonSchema;
  const { $schema, ...rest } = json;
  return { $schema, title, description, ...rest };
}

export const galleyJsonSchema = (): JsonSchema =>
  generate(GalleyConfig, "galley.yml", "Galley's configuration: driver, transport, provisioner, verifier, platforms, suites (see Galley's README)");

export const boxJsonSchema = (): JsonSchema =>
  generate(BoxYml, "box.yml", "A Galley box: a base box (distribution) or one that extends another (see Galley's README: Boxes)");

/** The files under harness/schema/ and their content. */
export const SCHEMA_FILES: Record<string, () => JsonSchema> = {
  "galley.schema.json": galleyJsonSchema,
  "box.schema.json": boxJsonSchema,
};

export const schemaText = (schema: JsonSchema): string => `${JSON.stringify(schema, null, 2)}\n`;

/**
 * The files in `dir` that differ from what `files` generates (missing ones included), each with the
 * command that rewrites them. Empty when the committed schemas are current.
 */
export function staleSchemaFiles(dir: string, files: Record<string, () => JsonSchema> = SCHEMA_FILES): string[] {
  return Object.entries(files)
    .filter(([file, make]) => {
      const at = path.join(dir, file);
      return !existsSync(at) || readFileSync(at, "utf8") !== schemaText(make());
    })
    .map(([file]) => `${path.join(dir, file)} is not what the zod schemas generate: run \`npm run schema -w harness\``);
}
