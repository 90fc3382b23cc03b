# Undoes rogue-etcd.sh: stop the rogue members, give back the peers' addresses, start the real member.
set -eu
for u in $(systemctl list-units --plain --no-legend 'rogue-etcd-*' | awk '{print $1}'); do systemctl stop "$u"; done
for a in $(ip -4 -o addr show dev lo | awk '$4 ~ /\/32$/ {print $4}'); do ip addr del "$a" dev lo; done
rm -rf /var/lib/etcd/rogue-*
systemctl start etcd.service
