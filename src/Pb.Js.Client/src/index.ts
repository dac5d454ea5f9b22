// The TypeScript client arrives with its own issue; this workspace only reserves its place.
export {};
