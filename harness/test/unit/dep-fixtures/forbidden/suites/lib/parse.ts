// What a suite knows of its system.
export {};
