// The bottom of the engine: imports nothing of it.
export {};
