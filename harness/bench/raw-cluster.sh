#!/usr/bin/env bash
# The baseline Galley is measured against: a hand-written script doing the same cluster work with the
# docker CLI and nothing else — no state, no retries, no checks beyond exit codes. It does what
# `galley test` does up to the end of the first converge, then tears down:
#   destroy-first  remove anything a killed run left (containers, network, volumes of this script)
#   boot           network; a fresh SSH key pair; per node a /var/lib/docker volume and a container
#                  from the box image with the same docker settings as Galley's (this host's recipe:
#                  capabilities, cgroup v1); wait for every node's systemd, in parallel (60 s each, as
#                  galley.yml's boot_timeout); install the key as root's authorized key
#   provision      per node, in parallel: copy the provisioning, the key pair and the fleet build,
#                  run provision.sh with the node's attributes (the same ATTR_* Galley would pass)
#   cluster        cluster.sh once, on the first node, with that node's environment
#   teardown       remove containers, network and volumes
# What it leaves out (Galley does it, the benchmark subtracts it for the "same work" ratio): the
# idempotence converge and the verification suites.
#
# usage: raw-cluster.sh BOX_IMAGE FLEET_DIR ENV_DIR NODE...
#   ENV_DIR/<node>.env   the node's attributes, one ATTR_X=value a line (warm-run.ts writes them from
#                        galley.yml), plus GALLEY_ARTIFACTS
#   RAW_CAP_DROP         capabilities the host cannot grant, comma-separated (default SYS_RESOURCE)
#   RAW_BREAK_NODE=NODE  gives NODE a bad attribute (etcd.cluster=bogus), to prove a failing node
#                        fails the script naming it; RAW_BREAK_NODE=cluster gives the cluster phase a
#                        wrong etcd client port instead, to prove the same of the cluster phase
# stderr: "@phase NAME EPOCH_SECONDS" when each phase starts, "@phase end EPOCH_SECONDS" at the end.
# exit: 0, or 1 after naming the node (or the cluster phase) that failed, with its exit code and output.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: raw-cluster.sh BOX_IMAGE FLEET_DIR ENV_DIR NODE..." >&2; exit 2; }
image=$1 fleet=$2 envdir=$3
shift 3
nodes=("$@")
repo=$(cd "$(dirname "$0")/../.." && pwd)
# One name per checkout (two worktrees may benchmark at once), and a label of its own so that
# `galley prune` elsewhere does not take these containers away mid-run.
name=galley-bench-raw-$(printf %s "$repo" | sha256sum | cut -c1-6)
label=galley.bench=$name
remote=/var/lib/galley
work=$(mktemp -d)

phase() { echo "@phase $1 $(date +%s.%N)" >&2; }
cleanup() {
  docker rm -f -v $(docker ps -aq --filter label=$label) >/dev/null 2>&1 || true
  docker network rm $name >/dev/null 2>&1 || true
  docker volume rm $(docker volume ls -q --filter label=$label) >/dev/null 2>&1 || true
}
trap 'cleanup; rm -rf "$work"' EXIT

# Waits for every background job in pids[] (one per node, same order as nodes[]); fails naming each
# node whose job failed, with its exit code and the last lines it printed ($work/<node>.<what>.log).
wait_nodes() {
  local what=$1 i code failed=0
  for i in "${!nodes[@]}"; do
    if wait "${pids[$i]}"; then continue; else code=$?; fi
    failed=1
    echo "raw-cluster: $what failed on node ${nodes[$i]} (exit $code); last output:" >&2
    tail -n 15 "$work/${nodes[$i]}.$what.log" | sed 's/^/  /' >&2
  done
  [ $failed = 0 ] || exit 1
}

for n in "${nodes[@]}"; do
  [ -f "$envdir/$n.env" ] || { echo "raw-cluster: no attributes for node $n ($envdir/$n.env)" >&2; exit 2; }
  if [ "$n" = "${RAW_BREAK_NODE:-}" ]; then
    { grep -v '^ATTR_ETCD_CLUSTER=' "$envdir/$n.env"; echo ATTR_ETCD_CLUSTER=bogus; } > "$work/$n.env"
  else
    cp "$envdir/$n.env" "$work/$n.env"
  fi
done
if [ "${RAW_BREAK_NODE:-}" = cluster ]; then
  { grep -v '^ATTR_ETCD_CLIENT_PORT=' "$work/${nodes[0]}.env"; echo ATTR_ETCD_CLIENT_PORT=1; } > "$work/cluster.env"
else
  cp "$work/${nodes[0]}.env" "$work/cluster.env"
fi

phase destroy-first
cleanup

phase boot
docker network create --label $label $name >/dev/null
mkdir "$work/ssh" && ssh-keygen -q -t rsa -b 2048 -N '' -C "$name" -f "$work/ssh/id_rsa"
for n in "${nodes[@]}"; do
  docker volume create --label $label $name-$n-docker >/dev/null
  caps=(); IFS=, read -ra drop <<< "${RAW_CAP_DROP-SYS_RESOURCE}"; for c in "${drop[@]}"; do caps+=(--cap-drop="$c"); done
  docker run -d --name $name-$n --hostname $n --network $name --network-alias $n --label $label \
    --cap-add=ALL "${caps[@]}" --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v $name-$n-docker:/var/lib/docker \
    --tmpfs /run:rw,exec,mode=755 --tmpfs /run/lock:rw,mode=1777 --tmpfs /tmp:rw,exec,mode=1777 \
    -e container=docker --stop-signal SIGRTMIN+3 --stop-timeout 20 "$image" >/dev/null
done
pids=()
for n in "${nodes[@]}"; do
  (
    status=$(timeout 60 docker exec $name-$n bash -c 'while :; do s=$(systemctl is-system-running --wait 2>/dev/null || true); case "$s" in running|degraded|maintenance) echo "$s"; exit 0;; esac; sleep 0.1; done') || {
      echo "did not finish booting within 60 s"; exit 1; }
    [ "$status" = running ] || { echo "booted $status"; docker exec $name-$n systemctl list-units --failed --plain --no-legend; exit 1; }
    docker exec -i $name-$n bash -c 'install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys' < "$work/ssh/id_rsa.pub"
  ) > "$work/$n.boot.log" 2>&1 &
  pids+=($!)
done
wait_nodes boot

peers=$(for n in "${nodes[@]}"; do echo -n "$n=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $name-$n) "; done)
peers=${peers% }
# The environment Galley's shell provisioner gives a node: its attributes, then the GALLEY_* facts.
# Printed as docker exec options, one a line (for mapfile).
node_env() {
  local n=$1 i=$2 envfile=${3:-$work/$1.env} kv ip=
  for kv in $peers; do [ "${kv%%=*}" = "$n" ] && ip=${kv#*=}; done
  printf '%s\n' --env-file "$envfile" -e GALLEY_INSTANCE=$name -e GALLEY_NODE_NAME=$n -e GALLEY_NODE_INDEX=$i \
    -e GALLEY_NODE_IP=$ip -e GALLEY_NODE_COUNT=${#nodes[@]} -e "GALLEY_NODES=$peers" -e GALLEY_DIR=$remote
}

phase provision
pids=()
for i in "${!nodes[@]}"; do
  n=${nodes[$i]}
  mapfile -t env < <(node_env $n $i)
  (
    set -x
    docker exec $name-$n mkdir -p $remote/artifacts
    docker cp -q "$repo/fixtures/fleet-cluster" $name-$n:$remote/provision
    docker cp -q "$work/ssh" $name-$n:$remote/ssh
    docker cp -q "$fleet" $name-$n:$remote/artifacts/fleet
    docker exec "${env[@]}" -e GALLEY_CHANGES=$remote/changes $name-$n bash -c ": > $remote/changes && bash $remote/provision/provision.sh"
  ) > "$work/$n.provision.log" 2>&1 &
  pids+=($!)
done
wait_nodes provision

phase cluster
mapfile -t env < <(node_env ${nodes[0]} 0 "$work/cluster.env")
if docker exec "${env[@]}" -e GALLEY_CHANGES=$remote/cluster-changes $name-${nodes[0]} \
  bash -c ": > $remote/cluster-changes && bash $remote/provision/cluster.sh" > "$work/cluster.log" 2>&1; then :; else
  code=$?
  echo "raw-cluster: cluster phase failed on node ${nodes[0]} (exit $code); last output:" >&2
  tail -n 15 "$work/cluster.log" | sed 's/^/  /' >&2
  exit 1
fi

phase teardown
cleanup
phase end
