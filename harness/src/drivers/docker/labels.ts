// Every container, network and volume Galley makes carries these labels, so a sweep finds them even
// when the state file is gone (a kill -9, a deleted .galley/). The project label (a hash of the folder
// holding galley.yml) keeps two checkouts testing the same instance from touching each other's nodes.
import { createHash } from "node:crypto";

export const LABEL_INSTANCE = "galley.instance";
export const LABEL_PROJECT = "galley.project";
export const LABEL_NODE = "galley.node";
export const LABEL_SESSION = "galley.session";
/** node or service */
export const LABEL_ROLE = "galley.role";
export const LABEL_BOX = "galley.box";
/** On snapshot images and volumes: the snapshot's name (see snapshot.ts). */
export const LABEL_SNAPSHOT = "galley.snapshot";

export interface Owner {
  instance: string;
  /** Folder of the config file. */
  root: string;
}

export function projectId(root: string): string {
  return createHash("sha256").update(root).digest("hex").slice(0, 6);
}

export function labelsFor(owner: Owner, session: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL_INSTANCE]: owner.instance, [LABEL_PROJECT]: projectId(owner.root), [LABEL_SESSION]: session, ...extra };
}

/** Whose resources: one instance (an Owner), one project (the folder of its config), or all of Galley's. */
export type Scope = Owner | { project: string } | undefined;

/** Docker API filter for a scope's resources. */
export function ownerFilter(scope?: Scope) {
  if (!scope) return { label: [LABEL_INSTANCE] };
  if ("project" in scope) return { label: [LABEL_INSTANCE, `${LABEL_PROJECT}=${scope.project}`] };
  return { label: [`${LABEL_INSTANCE}=${scope.instance}`, `${LABEL_PROJECT}=${projectId(scope.root)}`] };
}

/** Names Docker accepts and humans can read: galley-<instance>-<node>-<project>. */
export function resourceName(owner: Owner, ...parts: string[]): string {
  return ["galley", owner.instance, ...parts, projectId(owner.root)].join("-");
}
