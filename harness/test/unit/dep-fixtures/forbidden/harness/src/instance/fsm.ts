// The lifecycle.
export {};
