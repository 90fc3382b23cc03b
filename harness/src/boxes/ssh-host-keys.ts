// SSH host keys per node, for every driver that builds boxes: an image must not carry keys (every node
// made from it would share them), so they are removed and a unit makes fresh ones at a node's first
// boot. sshd runs as a service (not socket-activated, so a reload with new settings works).
/**
 * POSIX sh for a box's build (root, in the box's system): does nothing where no sshd is installed.
 * The unit is galley-ssh-host-keys.service; a driver may add a drop-in (a VM makes fewer key types).
 */
export const SSH_HOST_KEYS_SETUP = String.raw`
if command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]; then
  rm -f /etc/ssh/ssh_host_*
  cat > /etc/systemd/system/galley-ssh-host-keys.service <<'UNIT'
[Unit]
Description=Generate SSH host keys for this node
Before=ssh.service sshd.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
  systemctl enable galley-ssh-host-keys.service
  # Debian names the unit ssh.service (sshd.service is an alias), Red Hat sshd.service. On Debian sshd
  # runs as a service, not socket-activated: ssh.socket would hold port 22, and sshd could not rebind
  # after a reload (a provisioning reloads it to accept new keys).
  if [ -e /lib/systemd/system/ssh.service ] || [ -e /usr/lib/systemd/system/ssh.service ]; then
    systemctl enable ssh.service
    systemctl mask ssh.socket
  else
    systemctl enable sshd.service
  fi
fi
`;
