// The config loader.
export type LoadedConfig = { file: string };
