# Runs inside the box's rootfs (chroot) after debootstrap. Keep it about the box, not the cluster.

# Galley's own container set-up (SSH host keys made per node at first boot, sshd as a service, these
# masks and more) applies to every box after this script; the masks stay here for the Vagrant driver,
# whose VM layer unmasks what a machine needs.

# Units that cannot work in a container and would only mark the boot "degraded".
systemctl mask systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
  sys-kernel-tracing.mount systemd-modules-load.service getty@tty1.service console-getty.service \
  systemd-firstboot.service || true

# Docker configures the network; networkd would only make network-online.target wait two minutes.
systemctl mask systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service
