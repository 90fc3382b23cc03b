// no-unresolvable-imports.
// @ts-expect-error the file is missing on purpose
import { gone } from "./missing.ts";
export const probe = gone;
