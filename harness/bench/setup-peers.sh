#!/usr/bin/env bash
# Installs the peers the benchmark compares Galley with (peers.ts), from this machine's configured
# package sources: Debian's vagrant (its docker provider is built in) with apt, and Molecule with its
# docker driver and ansible-core with pip, into a virtualenv of their own in the benchmark's cache
# (never into the project or the system Python). `npm test` needs none of this.
# usage: harness/bench/setup-peers.sh        (idempotent: installs only what is missing)
#   GALLEY_CACHE   cache root (default ~/.cache/galley, as Galley's); the virtualenv is $GALLEY_CACHE/bench/molecule-venv
set -euo pipefail
cache=${GALLEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/galley}
venv=$cache/bench/molecule-venv

if ! command -v vagrant >/dev/null; then
  echo "setup-peers: installing vagrant (apt)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends vagrant
fi

# Molecule's own Python: python3 with venv support (Debian's python3-venv when the system python lacks it).
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "setup-peers: installing python3-venv (apt)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
fi
if ! "$venv/bin/molecule" --version >/dev/null 2>&1 || ! "$venv/bin/python" -c 'import molecule_plugins.docker' 2>/dev/null; then
  echo "setup-peers: installing molecule, molecule-plugins[docker], ansible-core (pip) into $venv" >&2
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q molecule 'molecule-plugins[docker]' ansible-core
fi
# Molecule's docker driver runs community.docker's modules and connection. Ansible Galaxy is not among
# the reachable sources, so the collection comes from PyPI's `ansible` package (ansible-core plus the
# community collections, community.docker among them).
if ! "$venv/bin/ansible-galaxy" collection list community.docker 2>/dev/null | grep -q '^community\.docker '; then
  echo "setup-peers: installing community.docker (pip: ansible, the package that bundles it) into $venv" >&2
  "$venv/bin/pip" install -q ansible
  "$venv/bin/ansible-galaxy" collection list community.docker 2>/dev/null | grep -q '^community\.docker ' \
    || { echo "setup-peers: pip installed ansible, yet ansible-galaxy lists no community.docker in $venv" >&2; exit 1; }
fi

echo "vagrant: $(vagrant --version)"
echo "molecule: $("$venv/bin/molecule" --version 2>&1 | head -n 1)"
echo "ansible-core: $("$venv/bin/ansible" --version 2>&1 | head -n 1)"
echo "molecule virtualenv: $venv"
