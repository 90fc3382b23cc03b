// Reports.
export {};
