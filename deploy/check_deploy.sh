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

# 1b. The site's plain-HTTP side, served: an ACME challenge file is answered as it is (certbot
#     --webroot needs that before any certificate exists) and everything else is redirected.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port="$(free_port)" https_port="$(free_port)"
mkdir -p "$work/www/.well-known/acme-challenge"
echo "the challenge answer" > "$work/www/.well-known/acme-challenge/token-1"
sed -e "s|listen 80;|listen 127.0.0.1:$http_port;|" -e "s|listen 443 ssl http2;|listen 127.0.0.1:$https_port ssl http2;|" \
    -e '/listen \[::\]:/d' -e "s|root /var/www/html;|root $work/www;|" "$work/opsync-site.conf" > "$work/opsync-site-served.conf"
sed "s|$work/opsync-site.conf|$work/opsync-site-served.conf|" "$work/nginx.conf" > "$work/nginx-served.conf"
"$nginx" -p "$work" -c "$work/nginx-served.conf" -e "$work/logs/error.log" -g 'daemon off;' &
nginx_pid=$!
trap 'kill "$nginx_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$http_port/" && break; sleep 0.02; done
challenge="$(curl -s -w ' %{http_code}' "http://127.0.0.1:$http_port/.well-known/acme-challenge/token-1")"
[ "$challenge" = "$(printf 'the challenge answer\n 200')" ] || { echo "port 80 answered the ACME challenge with: $challenge"; exit 1; }
redirect="$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/v1/info")"
[ "$redirect" = "308 https://127.0.0.1/v1/info" ] || { echo "port 80 answered /v1/info with: $redirect"; exit 1; }
kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true
trap - EXIT
echo "port 80: ACME challenges are served as files, everything else is redirected to HTTPS"

# 2. systemd
unit="$work/opsync-server.service"
sed "s|/usr/bin/opsync-server|$server|" "$deploy/systemd/opsync-server.service" > "$unit"
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
# %d is systemd's credentials directory; LoadCredential puts the operator's credential there.
openssl rand -base64 32 > "$work/registration"
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    /var/lib/opsync) args[$i]="$work/data" ;;
    8420) args[$i]=0 ;;
    %d/registration) args[$i]="$work/registration" ;;
  esac
done
grep -q '^LoadCredential=registration:/etc/opsync/registration-credential$' "$deploy/systemd/opsync-server.service" ||
  { echo "the unit does not load the registration credential its ExecStart reads"; exit 1; }
"$server" "${args[@]}" --port-file "$work/port" > "$work/logs/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 500); do [ -s "$work/port" ] && break; sleep 0.01; done
[ -s "$work/port" ] || { cat "$work/logs/server.log"; echo "the unit's ExecStart did not start the server"; exit 1; }
python3 - "$(cat "$work/port")" "$work/registration" <<'PY'
import json, sys, urllib.error, urllib.request
info = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/info", timeout=10))
assert info["protocol"] == "opsync", info
# Closed registration by default: a stranger is refused, the operator's credential creates a workspace.
assert info["registration"] == "closed", info
def create(credential):
    headers = {"Content-Type": "application/json"}
    if credential: headers["Authorization"] = "Bearer " + credential
    request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/workspaces", data=b"{}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer: return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused: return refused.code, json.load(refused)
status, body = create(None)
assert status == 403 and body["error"]["code"] == "registration_closed", (status, body)
status, body = create(open(sys.argv[2]).read().strip())
assert status == 201 and "owner_token" in body, (status, body)
PY
kill -TERM "$pid"
wait "$pid"
trap - EXIT
echo "ExecStart: the unit's arguments start this build's server, which answers /v1/info, refuses registration without the operator's credential, creates a workspace with it, and stops on SIGTERM"
