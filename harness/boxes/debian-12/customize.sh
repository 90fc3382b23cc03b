# Runs inside the box's rootfs (chroot) after debootstrap. Keep it about the box, not the cluster.

# Each node gets its own SSH host keys at first boot instead of sharing the image's.
rm -f /etc/ssh/ssh_host_*
cat > /etc/systemd/system/ssh-host-keys.service <<'UNIT'
[Unit]
Description=Generate SSH host keys for this node
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable ssh-host-keys.service ssh.service
# sshd as a service, not socket-activated: ssh.socket would hold port 22, and sshd could not rebind
# after a reload (the provisioning reloads it to accept fleetctl's keys).
systemctl mask ssh.socket

# Units that cannot work in a container and would only mark the boot "degraded".
systemctl mask systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
  sys-kernel-tracing.mount systemd-modules-load.service getty@tty1.service console-getty.service \
  systemd-firstboot.service || true

# Docker configures the network; networkd would only make network-online.target wait two minutes.
systemctl mask systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service
