// A helper.
export {};
