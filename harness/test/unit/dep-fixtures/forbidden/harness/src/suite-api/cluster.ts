// suite-api-not-into-the-engine, through a type-only import (those count too). Transports are fine.
import type { LoadedConfig } from "../config/load.ts";
import "../transports/transport.ts";
export type Attached = LoadedConfig;
