# Runs inside the VM box's rootfs (chroot) after mmdebstrap and Galley's Vagrant contract (user
# vagrant, fstab, networkd). Keep it about the machine, not the cluster. Under TCG every second of
# boot counts three times (three nodes on two cores): what a VM does not need is masked.

# Each node gets its own SSH host keys at first boot instead of sharing the image's. No RSA host key:
# generating one takes about 15 s under TCG; ed25519 and ECDSA are enough for every client here.
rm -f /etc/ssh/ssh_host_*
cat > /etc/systemd/system/ssh-host-keys.service <<'UNIT'
[Unit]
Description=Generate SSH host keys for this node
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
ExecStart=/usr/bin/ssh-keygen -q -t ecdsa -N "" -f /etc/ssh/ssh_host_ecdsa_key

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable ssh-host-keys.service ssh.service
# sshd as a service, not socket-activated: the provisioning reloads it (see boxes/debian-12).
systemctl mask ssh.socket

# Modules and checks a VM without GPU, FUSE, device mapper or EFI never uses (seconds each under TCG).
systemctl mask e2scrub_reap.service modprobe@drm.service modprobe@efi_pstore.service \
  modprobe@dm_mod.service modprobe@fuse.service modprobe@loop.service
