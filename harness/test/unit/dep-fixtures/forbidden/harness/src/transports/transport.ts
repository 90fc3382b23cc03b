// The Transport interface.
export {};
