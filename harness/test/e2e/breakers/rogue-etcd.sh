# Run on one node (as root): replace its etcd member by a member of ANOTHER cluster that carries the same
# member names and URLs. The node takes its peers' addresses on loopback, so from this node every URL
# of the instance leads to a private 3-member cluster with quorum; the real members keep their cluster.
# Undo with rogue-etcd-undo.sh. Reads the real member's settings from its unit.
set -eu
env=$(systemctl show etcd.service -p Environment --value | tr ' ' '\n')
get() { echo "$env" | sed -n "s/^$1=//p"; }
initial=$(get ETCD_INITIAL_CLUSTER)
self=$(get ETCD_NAME)
systemctl stop etcd.service
for member in ${initial//,/ }; do
  name=${member%%=*} peer=${member#*=}
  host=${peer#http://}; host=${host%%:*}
  [ "$name" = "$self" ] || ip addr add "$host/32" dev lo
  clients="http://$host:2379"
  [ "$name" = "$self" ] && clients="$clients,http://127.0.0.1:2379"
  systemd-run --unit "rogue-etcd-$name" --property User=etcd /usr/bin/etcd --name "$name" \
    --data-dir "/var/lib/etcd/rogue-$name" --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --listen-client-urls "$clients" --advertise-client-urls "http://$host:2379" --enable-v2 \
    --initial-cluster "$initial" --initial-cluster-token rogue --initial-cluster-state new >/dev/null
done
# Wait until the rogue cluster has quorum and answers like the real one would.
for _ in $(seq 1 100); do ETCDCTL_API=3 etcdctl endpoint health >/dev/null 2>&1 && exit 0; sleep 0.2; done
echo "the rogue cluster did not become healthy" >&2; exit 1
