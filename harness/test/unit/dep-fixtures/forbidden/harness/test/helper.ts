// A test helper.
export {};
