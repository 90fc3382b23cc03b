# galley.sh: the helpers every shell provisioning needs, shipped with Galley and uploaded to every node
# as $GALLEY_DIR/lib/galley.sh ($GALLEY_LIB). Source it at the top of a provisioning script:
#
#   set -euo pipefail
#   . "$GALLEY_LIB"
#   report_unhandled_errors
#   step web                       # "--- web": Galley names this step when the script fails in it
#   ensure_packages lighttpd
#   restart=
#   if put_file /etc/lighttpd/conf-enabled/90-port.conf 644 root:root <<< 'server.port = 8080'; then restart=yes; fi
#   ensure_service lighttpd $restart
#
# They do two jobs:
# - report every change they make (`changed`), so Galley can tell a converge that did work from one
#   that found everything in place (its idempotence check fails on any change);
# - make every failure fatal, naming the node and the step (`die`).
# Bash switches errexit off inside a function called from `if`, `&&` or `||` (and inside `{ …; }`
# after `||`), so nothing here relies on it: every command whose failure matters is checked, and a
# failure ends the whole script through `die`. Never call die (or a helper that may die) inside
# `$( … )`: there `exit` would only leave the subshell.

GALLEY_CHANGES=${GALLEY_CHANGES:-/dev/null}

# die MESSAGE: ends the provisioning with "<node>: <step>: MESSAGE" on stderr.
die() {
  echo "${GALLEY_NODE_NAME:-?}: ${GALLEY_STEP:-?}: $*" >&2
  exit 1
}

# report_unhandled_errors: a safety net for commands a step runs without a check. Without it errexit
# would still stop the script, but the message would not say which node and step.
report_unhandled_errors() {
  trap 'echo "${GALLEY_NODE_NAME:-?}: ${GALLEY_STEP:-?}: \`$BASH_COMMAND\` failed (exit $?)" >&2' ERR
}

# changed WHAT: records one change ("<step>: WHAT") in $GALLEY_CHANGES. Call it only after the change
# really happened.
changed() {
  echo "${GALLEY_STEP:-?}: $*" >> "$GALLEY_CHANGES" || die "cannot record the change \"$*\" in $GALLEY_CHANGES"
  echo "changed: $*"
}

# brief OUTPUT: the last three non-empty lines of a command's output on one line, for messages.
brief() {
  local line lines=() i
  while IFS= read -r line; do
    line=${line//$'\r'/}
    [[ $line =~ [^[:space:]] ]] && lines+=("$line")
  done <<< "$1"
  local n=${#lines[@]} from=$(( ${#lines[@]} > 3 ? ${#lines[@]} - 3 : 0 )) out=""
  for ((i = from; i < n; i++)); do out+="${out:+; }${lines[i]}"; done
  printf '%s' "${out:-no output}"
}

# must WHAT COMMAND...: runs COMMAND; when it fails, dies with "cannot WHAT: <its output> (COMMAND exited N)".
must() {
  local what=$1 out status
  shift
  out=$("$@" 2>&1) && return 0
  status=$?
  die "cannot $what: $(brief "$out") ($1 exited $status)"
}

# octal MODE: a mode as stat prints it (0644 → 644).
octal() { printf '%o' "$((8#$1))"; }

# package_manager: apt, dnf or yum, whichever this node has (apt first); PACKAGE_MANAGER forces one.
# Prints "none" when there is none: callers decide (never die inside `$( … )`).
package_manager() {
  if [ -n "${PACKAGE_MANAGER:-}" ]; then echo "$PACKAGE_MANAGER"; return 0; fi
  if command -v apt-get >/dev/null 2>&1; then echo apt
  elif command -v dnf >/dev/null 2>&1; then echo dnf
  elif command -v yum >/dev/null 2>&1; then echo yum
  else echo none; fi
}

# package_installed PKG: whether the package database (dpkg, or rpm on dnf/yum nodes) lists PKG.
package_installed() {
  if [ "$(package_manager)" = apt ]; then
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
  else
    rpm -q --quiet --whatprovides "$1" >/dev/null 2>&1
  fi
}

# ensure_packages PKG...: installs only what is missing (the box usually has everything baked in).
ensure_packages() {
  local missing=() still=() p pm db
  pm=$(package_manager)
  for p in "$@"; do package_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  case $pm in
    apt)
      local -x DEBIAN_FRONTEND=noninteractive
      must "install packages ${missing[*]} (apt-get update)" apt-get update -qq
      must "install packages ${missing[*]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
      pm=apt-get db=dpkg ;;
    dnf) must "install packages ${missing[*]}" dnf install -y -q "${missing[@]}"; db=rpm ;;
    # yum (EL 7) skips unknown packages and exits 0 unless told not to.
    yum) must "install packages ${missing[*]}" yum install -y -q --setopt=skip_missing_names_on_install=False "${missing[@]}"; db=rpm ;;
    *) die "cannot install packages ${missing[*]}: this node has no apt-get, dnf or yum" ;;
  esac
  for p in "${missing[@]}"; do package_installed "$p" || still+=("$p"); done
  [ ${#still[@]} -eq 0 ] || die "cannot install packages ${missing[*]}: $pm succeeded, but $db does not list ${still[*]} as installed"
  changed "installed packages ${missing[*]}"
}

# put_file DEST MODE OWNER < CONTENT: writes DEST (and its parent folders) only when its content, mode
# or owner differ. Returns 0 when it wrote DEST, 1 when DEST was already right; any failure dies, so
# `put_file … || :` ignores only "already right".
put_file() {
  local dest=$1 mode=$2 owner=$3 tmp out
  tmp=$(mktemp) || die "cannot write $dest: mktemp failed"
  if ! cat > "$tmp"; then rm -f "$tmp"; die "cannot write $dest: could not read its content"; fi
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s "$tmp" "$dest" && [ "$(stat -c '%a %U:%G' "$dest")" = "$(octal "$mode") $owner" ]; then
    rm -f "$tmp"
    return 1
  fi
  # A masked unit is a symlink to /dev/null: replace the link, never write through it.
  if [ -L "$dest" ] && ! out=$(rm -f "$dest" 2>&1); then rm -f "$tmp"; die "cannot write $dest: cannot remove the link there: $(brief "$out")"; fi
  if ! out=$(install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$dest" 2>&1); then
    rm -f "$tmp"
    die "cannot write $dest: $(brief "$out")"
  fi
  rm -f "$tmp"
  changed "wrote $dest"
}

# install_binary SRC DEST: copies an executable when DEST differs. Returns 0 when it installed, 1 when
# DEST was already right; any failure dies.
install_binary() {
  local src=$1 dest=$2 out
  [ -f "$src" ] || die "cannot install $dest: $src does not exist"
  if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c '%a' "$dest")" = 755 ]; then return 1; fi
  out=$(install -D -m 0755 "$src" "$dest" 2>&1) || die "cannot install $dest: $(brief "$out")"
  changed "installed $dest"
}

# remove_file PATH WHY: removes a file that must not be there. Returns 1 when it was already absent.
remove_file() {
  local file=$1 why=$2 out
  [ -e "$file" ] || [ -L "$file" ] || return 1
  out=$(rm -f "$file" 2>&1) || die "cannot remove $file ($why): $(brief "$out")"
  changed "removed $file ($why)"
}

# ensure_dir DIR MODE OWNER: a folder with that mode and owner (parents as root). Returns 1 when it was already right.
ensure_dir() {
  local dir=$1 mode=$2 owner=$3 out existed=false
  if [ -d "$dir" ] && [ ! -L "$dir" ]; then
    existed=true
    [ "$(stat -c '%a %U:%G' "$dir")" = "$(octal "$mode") $owner" ] && return 1
  fi
  out=$(install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir" 2>&1) || die "cannot create $dir: $(brief "$out")"
  if $existed; then changed "set $dir to mode $mode, owner $owner"; else changed "created $dir"; fi
}

# ensure_in_group USER GROUP: adds USER to GROUP unless it is a member.
ensure_in_group() {
  local user=$1 group=$2 groups
  groups=$(id -nG "$user" 2>&1) || die "cannot read the groups of $user: $(brief "$groups")"
  [[ " $groups " == *" $group "* ]] && return 0
  must "add $user to group $group" usermod -aG "$group" "$user"
  changed "added $user to $group"
}

# ensure_enabled UNIT: enables UNIT unless systemd already says it is enabled.
ensure_enabled() {
  systemctl is-enabled --quiet "$1" && return 0
  must "enable $1" systemctl enable "$1"
  changed "enabled $1"
}

# ensure_started UNIT [SYSTEMCTL-OPTION...]: starts UNIT unless it is active (--no-block: only queue the start).
ensure_started() {
  local unit=$1
  shift
  systemctl is-active --quiet "$unit" && return 0
  must "start $unit" systemctl start "$@" "$unit"
  changed "started $unit"
}

# restart_unit UNIT [SYSTEMCTL-OPTION...]: restarts UNIT (after its unit file or configuration changed).
restart_unit() {
  local unit=$1
  shift
  must "restart $unit" systemctl restart "$@" "$unit"
  changed "restarted $unit"
}

# daemon_reload: makes systemd read changed unit files.
daemon_reload() {
  must "reload systemd's unit files (daemon-reload)" systemctl daemon-reload
}

# artifact_configured NAME: whether the instance configured artifact NAME (GALLEY_ARTIFACTS lists them).
artifact_configured() {
  [[ " ${GALLEY_ARTIFACTS:-} " == *" $1 "* ]]
}

# require_artifact NAME BINARY...: dies unless artifact NAME is configured and holds every BINARY.
require_artifact() {
  local name=$1 dir=$GALLEY_DIR/artifacts/$1 missing=() b
  shift
  artifact_configured "$name" || die "artifact $name is not configured (configured: ${GALLEY_ARTIFACTS:-none}); this provisioning needs its $*"
  for b in "$@"; do [ -f "$dir/$b" ] && [ -x "$dir/$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local list
  printf -v list '%s, ' "${missing[@]}"
  die "artifact $name has no ${list%, } in $dir (configured: $GALLEY_ARTIFACTS)"
}

# duration_seconds DURATION: a Go-style duration (30s, 1m, 1m30s, 500ms, or bare seconds) in whole
# seconds, rounded up. Returns 1 (after saying so) for anything else; callers check it.
duration_seconds() {
  local rest=$1 total_ms=0 n unit
  [[ $rest =~ ^[0-9]+$ ]] && { echo "$rest"; return 0; }
  while [[ $rest =~ ^([0-9]+)(ms|s|m|h)(.*)$ ]]; do
    n=$((10#${BASH_REMATCH[1]})) unit=${BASH_REMATCH[2]} rest=${BASH_REMATCH[3]}
    case $unit in ms) total_ms=$((total_ms + n)) ;; s) total_ms=$((total_ms + n * 1000)) ;; m) total_ms=$((total_ms + n * 60000)) ;; h) total_ms=$((total_ms + n * 3600000)) ;; esac
  done
  if [ -n "$rest" ] || [ -z "$1" ]; then
    echo "${GALLEY_NODE_NAME:-?}: ${GALLEY_STEP:-?}: \"$1\" is not a duration (like 30s, 1m or 500ms)" >&2
    return 1
  fi
  echo $(((total_ms + 999) / 1000))
}

# step NAME: starts a step. Messages (die, changed) name it, and Galley reads the "--- NAME" line to say
# which step a failed converge was in.
step() {
  GALLEY_STEP=$1
  export GALLEY_STEP
  echo "--- $GALLEY_STEP"
}

# ensure_unmasked UNIT: unmasks UNIT when it is masked (boxes mask what a package installs but only the
# provisioning configures: `masked:` in box.yml).
ensure_unmasked() {
  [ "$(systemctl is-enabled "$1" 2>/dev/null)" = masked ] || return 0
  must "unmask $1" systemctl unmask "$1"
  changed "unmasked $1"
}

# install_unit NAME < UNIT-FILE: writes /etc/systemd/system/NAME (replacing a mask) and makes systemd
# read it. Returns 0 when it wrote the unit (restart the service), 1 when it was already right.
install_unit() {
  local name=$1
  put_file "/etc/systemd/system/$name" 644 root:root || return 1
  daemon_reload
}

# ensure_service UNIT [RESTART]: UNIT unmasked, enabled and running. With a non-empty second argument
# (its configuration changed) a running UNIT is restarted; otherwise a running UNIT is left alone. When the
# unit fails, the message names it; Galley adds its status and last journal lines.
ensure_service() {
  local unit=$1 restart=${2:-}
  ensure_unmasked "$unit"
  ensure_enabled "$unit"
  if [ -n "$restart" ] && systemctl is-active --quiet "$unit"; then
    restart_unit "$unit"
  else
    ensure_started "$unit"
  fi
}

# now_ms: the clock in milliseconds (for the timing lines below).
now_ms() { date +%s%3N; }

# seconds_since START_MS: seconds since START_MS (from now_ms), with two decimals.
seconds_since() {
  local ms=$(( $(now_ms) - $1 ))
  printf '%d.%02d' $((ms / 1000)) $(((ms % 1000) / 10))
}

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: polls until COMMAND succeeds, then prints
# "waited N s for DESCRIPTION" (Galley's converge timings count it as waiting). On timeout prints its
# last output and returns 1: the caller decides whether that is fatal (`|| die …`).
wait_for() {
  local what=$1 timeout=$2 out start
  shift 2
  local deadline=$((SECONDS + timeout))
  start=$(now_ms)
  until out=$("$@" 2>&1); do
    if [ $SECONDS -ge $deadline ]; then
      echo "timed out after ${timeout}s waiting for $what; last output:" >&2
      echo "$out" | tail -n 20 >&2
      return 1
    fi
    sleep 0.5
  done
  echo "waited $(seconds_since "$start") s for $what"
}

# timed WHAT COMMAND...: runs COMMAND (a helper or a function: it may die), then prints
# "took N s to WHAT" for Galley's converge timings; returns COMMAND's status.
timed() {
  local what=$1 start status=0
  shift
  start=$(now_ms)
  "$@" || status=$?
  echo "took $(seconds_since "$start") s to $what"
  return $status
}
