#!/usr/bin/env bash
# The baseline Galley is measured against: a hand-written script doing the same raw work with the
# docker CLI — boot 3 nodes from the cached box, provision them with the same fixture, start
# test.service with fleetctl, wait until it runs, tear down. No checks, no state, no retries.
# usage: raw-cluster.sh BOX_IMAGE FLEET_DIR   (prints the seconds it took)
set -euo pipefail
image=$1 fleet=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
name=galley-bench-raw
start=$(date +%s.%N)
cleanup() {
  docker rm -f -v $(docker ps -aq --filter label=galley.instance=$name) >/dev/null 2>&1 || true
  docker network rm $name >/dev/null 2>&1 || true
  docker volume rm $(docker volume ls -q --filter label=galley.instance=$name) >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
docker network create --label galley.instance=$name $name >/dev/null
keys=$(mktemp -d); ssh-keygen -q -t rsa -b 2048 -N '' -f "$keys/id_rsa"
for n in infra0 infra1 infra2; do
  docker volume create --label galley.instance=$name $name-$n >/dev/null
  docker run -d --name $name-$n --hostname $n --network $name --label galley.instance=$name \
    --cap-add=ALL --cap-drop=SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v $name-$n:/var/lib/docker --tmpfs /run --tmpfs /run/lock \
    -e container=docker --stop-signal SIGRTMIN+3 "$image" >/dev/null
done
nodes=$(for n in infra0 infra1 infra2; do echo -n "$n=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $name-$n) "; done)
i=0
for kv in $nodes; do
  n=${kv%%=*} ip=${kv#*=}
  (
    until docker exec $name-$n systemctl is-system-running --wait 2>/dev/null | grep -qE 'running|degraded'; do sleep 0.1; done
    docker exec $name-$n mkdir -p /var/lib/galley/artifacts
    docker cp -q "$repo/fixtures/fleet-cluster" $name-$n:/var/lib/galley/provision
    docker cp -q "$keys" $name-$n:/var/lib/galley/ssh
    docker cp -q "$fleet" $name-$n:/var/lib/galley/artifacts/fleet
    docker exec -e GALLEY_NODE_NAME=$n -e GALLEY_NODE_INDEX=$i -e GALLEY_NODE_IP=$ip -e GALLEY_NODE_COUNT=3 \
      -e GALLEY_NODES="$nodes" -e GALLEY_INSTANCE=$name -e GALLEY_DIR=/var/lib/galley -e GALLEY_ARTIFACTS=fleet -e ATTR_ETCD_ENABLE_V2=true \
      $name-$n bash /var/lib/galley/provision/provision.sh >/dev/null
  ) &
  i=$((i + 1))
done
wait
docker exec -e GALLEY_NODE_COUNT=3 -e GALLEY_NODES="$nodes" $name-infra0 bash -lc 'bash /var/lib/galley/provision/cluster.sh' >/dev/null
cleanup
trap - EXIT
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }'
