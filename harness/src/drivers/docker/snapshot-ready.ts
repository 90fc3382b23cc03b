// After a restore, a box is ready when systemd has booted and every enabled service that ran on it at
// the snapshot runs again (etcd, fleet, Docker: what the provisioning left running). Polled, no fixed
// sleep; a service that failed ends the wait at once, naming box, unit and its last journal lines.
import type { BoxAddress } from "../../contracts/attach.ts";
import { ActionFailed } from "../../errors.ts";
import { DockerExecTransport } from "../../transports/docker-exec.ts";
import { shellQuote } from "../../transports/transport.ts";

export async function waitForServices(box: BoxAddress, units: string[], timeoutMs: number): Promise<void> {
  if (!units.length) return;
  const conn = await new DockerExecTransport(timeoutMs).connect(box);
  try {
    const list = units.map(shellQuote).join(" ");
    // Exit 0: all active; 3: one failed (named on stdout); 124: time is up (the states on stdout).
    const script = `end=$(( $(date +%s) + ${Math.ceil(timeoutMs / 1000)} ))
while :; do
  states=$(systemctl is-active ${list} 2>/dev/null | paste -sd' ')
  case " $states " in *" failed "*) for u in ${list}; do [ "$(systemctl is-active "$u")" = failed ] && { echo "$u failed"; journalctl -u "$u" -n 10 --no-pager; }; done; exit 3;; esac
  bad=0; for s in $states; do [ "$s" = active ] || bad=1; done
  [ $bad = 0 ] && exit 0
  [ $(date +%s) -ge $end ] && { echo "$states"; exit 124; }
  sleep 0.2
done`;
    const r = await conn.exec(script, { timeoutMs: timeoutMs + 10_000 });
    if (r.exitCode === 0) return;
    if (r.exitCode === 3) throw new ActionFailed(`restore: on ${box.name}, ${r.stdout.trim()}`);
    throw new ActionFailed(`restore: on ${box.name}, the services that ran at the snapshot did not all run again within ${Math.round(timeoutMs / 1000)} s: ${units.join(" ")} are ${r.stdout.trim() || "(no answer)"}`);
  } finally {
    await conn.close();
  }
}
