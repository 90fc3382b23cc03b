// The shell steps every box image is built with, whatever its distribution: install packages with the
// package manager the system has (apt, dnf, microdnf or yum), the systemd set-up a box started from a
// registry image needs, and what every image ends with (Galley's container set-up, masks, no machine
// id, no package caches).
import { readFileSync } from "node:fs";
import { unitName, type Box } from "../../boxes/definition.ts";
import { SSH_HOST_KEYS_SETUP } from "../../boxes/ssh-host-keys.ts";

/**
 * POSIX sh functions: galley_pm names the package manager; galley_install installs packages (failing
 * on any it cannot find: yum on EL 7 would otherwise skip them and exit 0); galley_clean drops caches.
 */
export const PACKAGE_FUNCTIONS = String.raw`
galley_pm() {
  if command -v apt-get >/dev/null 2>&1; then echo apt
  elif command -v dnf >/dev/null 2>&1; then echo dnf
  elif command -v microdnf >/dev/null 2>&1; then echo microdnf
  elif command -v yum >/dev/null 2>&1; then echo yum
  else echo none; fi
}
galley_install() {
  [ $# -gt 0 ] || return 0
  case $(galley_pm) in
    apt) DEBIAN_FRONTEND=noninteractive; export DEBIAN_FRONTEND; apt-get update && apt-get install -y --no-install-recommends "$@" ;;
    dnf) dnf install -y --setopt=install_weak_deps=False "$@" ;;
    microdnf) microdnf install -y "$@" ;;
    yum) yum install -y --setopt=skip_missing_names_on_install=False "$@" ;;
    *) echo "galley: this image has no apt-get, dnf, microdnf or yum: cannot install $*" >&2; return 1 ;;
  esac
}
galley_clean() {
  case $(galley_pm) in
    apt) apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin ;;
    dnf) dnf clean all; rm -rf /var/cache/dnf/* ;;
    microdnf) microdnf clean all ;;
    yum) yum clean all; rm -rf /var/cache/yum/* ;;
  esac
}
`;

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Installs the box's own packages (none: nothing, not even a package index update). */
export function installStep(packages: string[]): string {
  return packages.length ? `galley_install ${packages.map(quote).join(" ")}` : "";
}

/** The box's customize.sh, after its build_env exported with the host's values (nothing without a script). */
export function customizeStep(box: Box): string {
  if (!box.customizeScript) return "";
  const exports = Object.entries(box.buildEnv).map(([variable, value]) => `export ${variable}=${quote(value)}`);
  return [...exports, readFileSync(box.customizeScript, "utf8")].join("\n");
}

/**
 * What a box started from a registry image needs before its packages: systemd itself (and bash, which
 * Galley runs every command with) when the image lacks them, as distribution images usually do.
 */
export const SYSTEMD_PACKAGES = String.raw`
need=""
[ -x /lib/systemd/systemd ] || case $(galley_pm) in apt) need="systemd systemd-sysv dbus" ;; *) need="systemd" ;; esac
command -v bash >/dev/null 2>&1 || need="$need bash"
command -v timeout >/dev/null 2>&1 || need="$need coreutils"
[ -z "$need" ] || galley_install $need
`;

/**
 * Galley's container set-up, part of every box's finish (base, layer or registry image): systemd must be
 * PID 1, units that cannot work in a container are masked (they would only mark the boot "degraded";
 * systemd-firstboot would wait for input on a box without a machine id; networkd would make
 * network-online.target wait, while Docker configures the network), sshd (if installed) starts at boot
 * with host keys made per node at first boot rather than shared through the image.
 */
export const CONTAINER_SYSTEMD_SETUP = String.raw`
[ -x /lib/systemd/systemd ] || { echo "galley: /lib/systemd/systemd is missing after installing systemd: this image cannot boot systemd" >&2; exit 1; }
for unit in systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
  systemd-modules-load.service getty@tty1.service console-getty.service systemd-firstboot.service \
  systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service; do
  systemctl mask "$unit"
done
` + SSH_HOST_KEYS_SETUP;

/**
 * What every image ends with, after the box's own customize.sh: Galley's container set-up, the box's
 * masks, no machine id (each node gets its own), no package caches.
 */
export function finishingSteps(box: Box): string[] {
  return [
    CONTAINER_SYSTEMD_SETUP,
    ...box.definition.masked.map((u) => `systemctl mask ${quote(unitName(u))}`),
    // Every node must get its own machine id at first boot, or fleet sees one machine.
    "rm -f /etc/machine-id /var/lib/dbus/machine-id",
    "galley_clean",
    "rm -rf /tmp/* /var/log/*.log",
  ];
}
