// Every container, network and volume Galley makes carries these labels, so a sweep finds them even
// when the state file is gone (a kill -9, a deleted .galley/).
export const LABEL_INSTANCE = "galley.instance";
export const LABEL_NODE = "galley.node";
export const LABEL_SESSION = "galley.session";
export const LABEL_ROLE = "galley.role";
export const LABEL_BOX = "galley.box";

export function labelsFor(instance: string, session: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL_INSTANCE]: instance, [LABEL_SESSION]: session, ...extra };
}

/** Docker API filter for one instance's resources, or for all of Galley's. */
export function instanceFilter(instance?: string) {
  return { label: [instance ? `${LABEL_INSTANCE}=${instance}` : LABEL_INSTANCE] };
}

/** Names Docker accepts and humans can read: galley-<instance>-<node>. */
export function resourceName(instance: string, ...parts: string[]): string {
  return ["galley", instance, ...parts].join("-");
}
