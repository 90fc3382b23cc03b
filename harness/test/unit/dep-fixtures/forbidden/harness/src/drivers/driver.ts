// The Driver interface.
export {};
