// Data shared with the suite API.
export {};
