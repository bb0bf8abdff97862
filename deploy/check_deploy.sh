#!/usr/bin/env bash
# CTest's deploy.files: the files of deploy/ are valid for the tools that read them and for this
# build of opsync-server. (The client end-to-end suites run through the nginx front as well:
# client_e2e_tests.nginx.*.)
#
#   check_deploy.sh OPSYNC_SERVER NGINX WORK_DIR
#
# 1. The production nginx files (site, http part, proxy snippet) pass `nginx -t`, with only the
#    paths that name the host's files (certificates, logs, snippets) pointed into WORK_DIR.
# 2. The systemd unit passes `systemd-analyze verify`, and `systemd-analyze security` rates its
#    exposure at most 2.0 ("OK"), with ExecStart pointed at this build's binary.
# 3. The unit's ExecStart arguments start this build's opsync-server, which then serves /v1/info.
set -euo pipefail
server="$1" nginx="$2" work="$3"
deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rm -rf "$work" && mkdir -p "$work/snippets" "$work/conf.d" "$work/tmp" "$work/logs"

# 1. nginx
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=sync.example.com \
  -keyout "$work/privkey.pem" -out "$work/fullchain.pem" 2>/dev/null
cp "$deploy/nginx/opsync-proxy.conf" "$work/snippets/"
cp "$deploy/nginx/opsync-http.conf" "$work/conf.d/"
sed -e "s|/etc/letsencrypt/live/sync.example.com/|$work/|g" \
    -e "s|/etc/nginx/snippets/|$work/snippets/|g" \
    -e "s|/var/log/nginx/|$work/logs/|g" "$deploy/nginx/opsync-site.conf" > "$work/opsync-site.conf"
cat > "$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log $work/logs/error.log;
events {}
http {
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  fastcgi_temp_path $work/tmp/fastcgi;
  uwsgi_temp_path $work/tmp/uwsgi;
  scgi_temp_path $work/tmp/scgi;
  include $work/conf.d/opsync-http.conf;
  include $work/opsync-site.conf;
}
CONF
"$nginx" -t -q -p "$work" -c "$work/nginx.conf" -e "$work/logs/error.log"
echo "nginx -t: the production site, http part and proxy snippet are valid"

# 2. systemd
unit="$work/opsync-server.service"
sed "s|/usr/local/bin/opsync-server|$server|" "$deploy/systemd/opsync-server.service" > "$unit"
if command -v systemd-analyze >/dev/null; then
  verify_output="$(systemd-analyze verify "$unit" 2>&1)" || { echo "$verify_output"; exit 1; }
  if [ -n "$verify_output" ]; then echo "$verify_output"; echo "systemd-analyze verify reported the above"; exit 1; fi
  systemd-analyze security --offline=true --threshold=20 "$unit" | tail -n 1
  # The check can fail: the same unit without its own user, private /tmp and read-only system
  # rates worse than 2.0.
  sed -e 's/^DynamicUser=yes/DynamicUser=no/' -e 's/^PrivateTmp=yes/PrivateTmp=no/' \
      -e 's/^ProtectSystem=strict/ProtectSystem=no/' "$unit" > "$work/weakened.service"
  if systemd-analyze security --offline=true --threshold=20 "$work/weakened.service" >/dev/null 2>&1; then
    echo "the exposure check passed a unit without DynamicUser, PrivateTmp and ProtectSystem"; exit 1
  fi
  echo "systemd-analyze: the unit verifies and its exposure is at most 2.0 (a weakened copy's is not)"
else
  echo "SKIPPED the systemd checks only: systemd-analyze is not installed here"
fi

# 3. The unit's arguments, on this build, with a data directory and port of the test's.
exec_start="$(sed -n '/^ExecStart=/,/[^\\]$/p' "$deploy/systemd/opsync-server.service" | tr -d '\\\n' | sed 's/^ExecStart=//')"
read -r -a args <<< "$exec_start"
args=("${args[@]:1}")  # without the binary
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    /var/lib/opsync) args[$i]="$work/data" ;;
    8420) args[$i]=0 ;;
  esac
done
"$server" "${args[@]}" --port-file "$work/port" > "$work/logs/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 500); do [ -s "$work/port" ] && break; sleep 0.01; done
[ -s "$work/port" ] || { cat "$work/logs/server.log"; echo "the unit's ExecStart did not start the server"; exit 1; }
python3 - "$(cat "$work/port")" <<'PY'
import json, sys, urllib.request
info = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/info", timeout=10))
assert info["protocol"] == "opsync", info
PY
kill -TERM "$pid"
wait "$pid"
trap - EXIT
echo "ExecStart: the unit's arguments start this build's server, which answers /v1/info and stops on SIGTERM"
