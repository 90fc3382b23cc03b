#!/usr/bin/env bash
# Runs as root on every node at every converge. Galley's helpers ($GALLEY_LIB) report what each step
# changed (a second converge must change nothing) and end the run naming node and step on any failure.
set -euo pipefail
. "$GALLEY_LIB"
report_unhandled_errors

step packages
ensure_packages busybox-static curl

step page
port=${ATTR_HELLO_PORT:-8080}
put_file /srv/hello/index.html 644 root:root <<< "hello from $GALLEY_NODE_NAME" || :

step service
unit="[Unit]
Description=Serves /srv/hello on port $port
After=network.target

[Service]
ExecStart=/bin/busybox httpd -f -p $port -h /srv/hello
Restart=on-failure

[Install]
WantedBy=multi-user.target"
restart=
if install_unit hello.service <<< "$unit"; then restart=yes; fi
ensure_service hello.service $restart
