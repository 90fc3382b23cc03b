// useCluster(): the before/after pair every spec needs, as one call. It returns the cluster itself (a
// stand-in until mocha's before hook attached it), so a spec reads:
//
//   describe("etcd", () => {
//     const cluster = useCluster<FleetAttributes>();
//     it("…", async () => { for (const n of cluster.nodes) … });
//   });
//
// useCluster({ leader: findLeader }) tells faults aimed at the `leader` role how to find it.
import { attach, type AttachOptions, type Cluster } from "./cluster.ts";

export function useCluster<A extends object = Record<string, any>>(options?: string | AttachOptions<A>): Cluster<A> {
  let attached: Cluster<A> | undefined;
  before(async function () {
    attached = await attach<A>(options);
  });
  after(async () => {
    await attached?.close();
  });
  return new Proxy({} as Cluster<A>, {
    get(_, prop) {
      if (!attached) throw new Error(`useCluster(): the cluster is attached in mocha's before hook; use it inside it/before/after, not while the suite is defined (asked for ${String(prop)})`);
      const value = Reflect.get(attached, prop, attached);
      return typeof value === "function" ? value.bind(attached) : value;
    },
  });
}
