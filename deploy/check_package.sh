#!/usr/bin/env bash
# CTest's deploy.package: the Debian package an operator installs.
#
#   check_package.sh BUILD_DIR WORK_DIR
#
# 1. cpack builds it from BUILD_DIR (its programs and deploy/package's files built); lintian finds
#    no error in it; it installs under 40 MB with every program stripped.
# 2. dpkg installs it into a scratch root: every program answers --version and has a manual page,
#    and the unit, nginx files, copyright, changelog and schemas are where the docs say.
# 3. The unit's exact command line, run with the installed server (only the data directory, the
#    port and systemd's credentials directory pointed into WORK_DIR), starts a server that the
#    installed opsync-conformance certifies through the operator's registration credential.
set -euo pipefail
build="$1" work="$2"
deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$deploy/../scripts/lib.sh"
rm -rf "$work" && mkdir -p "$work"

# 1. The package.
cmake --build "$build" --target $OPSYNC_PACKAGE_TARGETS > "$work/build.log" 2>&1 || { tail -n 30 "$work/build.log"; exit 1; }
deb="$(opsync_make_package "$build" "$work/package")"
lintian_output="$(lintian --fail-on error "$deb" 2>&1)" || { echo "$lintian_output"; echo "lintian found errors in $deb"; exit 1; }
# Warnings are shown, not fatal; lintian's note about running as root is about the run, not the package.
grep -v "running with root privileges" <<< "$lintian_output" || true
echo "lintian: no errors"
installed_kib="$(dpkg-deb -f "$deb" Installed-Size)"
[ "$installed_kib" -lt 40960 ] || { echo "installed size $installed_kib KiB is not under 40 MB"; exit 1; }
echo "installed size: $installed_kib KiB"
depends="$(dpkg-deb -f "$deb" Depends)"
for needed in sqlite3 libsqlite3-0 libssl3 libcpp-httplib0.11; do
  grep -q "\b$needed\b" <<< "$depends" || { echo "Depends lacks $needed: $depends"; exit 1; }
done

# 2. Installed into a scratch root.
root="$work/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status"
# --force-depends: the scratch root holds no other package; the host has the libraries.
dpkg --root="$root" --force-depends --force-not-root --log=/dev/null -i "$deb" > "$work/dpkg.log" 2>&1 ||
  { cat "$work/dpkg.log"; echo "dpkg could not install $deb"; exit 1; }
for program in opsync-server opsync-client opsync-conformance opsync-sim opsync-client-adapter; do
  binary="$root/usr/bin/$program"
  version="$("$binary" --version)" || { echo "$program --version failed"; exit 1; }
  grep -q "^$program [0-9]" <<< "$version" || { echo "$program --version printed: $version"; exit 1; }
  if readelf -S "$binary" | grep -q -e '\.symtab' -e '\.debug_'; then echo "$program is not stripped"; exit 1; fi
  zcat "$root/usr/share/man/man1/$program.1.gz" | grep -q "^\.TH \"\?${program^^}" ||
    { echo "no manual page for $program"; exit 1; }
done
for file in doc/opsync/copyright doc/opsync/changelog.gz doc/opsync/deploy/README.md \
            doc/opsync/examples/systemd/opsync-server.service doc/opsync/examples/nginx/opsync-site.conf \
            doc/opsync/examples/nginx/opsync-http.conf doc/opsync/examples/nginx/opsync-proxy.conf \
            doc/opsync/spec/opsync-v1.md doc/opsync/spec/client-adapter.md \
            opsync/schema/spec/InfoResponse.schema.json opsync/schema/conformance/report.schema.json \
            opsync/schema/simulator/opsync-bug-1.schema.json; do
  [ -s "$root/usr/share/$file" ] || { echo "the package lacks /usr/share/$file"; exit 1; }
done
echo "dpkg --root: installed; five programs with --version, stripped, with manual pages; docs, examples, schemas"

# 3. The installed unit's command line.
unit="$root/usr/share/doc/opsync/examples/systemd/opsync-server.service"
exec_start="$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | tr -d '\\\n' | sed 's/^ExecStart=//')"
read -r -a args <<< "$exec_start"
[ "${args[0]}" = /usr/bin/opsync-server ] || { echo "the unit runs ${args[0]}, which the package does not install"; exit 1; }
[ -x "$root${args[0]}" ] || { echo "the package lacks ${args[0]}"; exit 1; }
openssl rand -base64 32 > "$work/registration"
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    /var/lib/opsync) args[$i]="$work/data" ;;
    8420) args[$i]=0 ;;
    %d/registration) args[$i]="$work/registration" ;;
  esac
done
args[0]="$root/usr/bin/opsync-server"
"${args[@]}" --port-file "$work/port" > "$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 500); do [ -s "$work/port" ] && break; sleep 0.01; done
[ -s "$work/port" ] || { cat "$work/server.log"; echo "the unit's command line did not start the server"; exit 1; }
url="http://127.0.0.1:$(cat "$work/port")"
if ! "$root/usr/bin/opsync-conformance" --server "$url" --registration-token "$(cat "$work/registration")" \
     --json "$work/report.json" > "$work/conformance.log" 2>&1; then
  tail -n 40 "$work/conformance.log"; echo "the installed suite did not certify the installed server"; exit 1
fi
tail -n 3 "$work/conformance.log"
kill -TERM "$pid"
wait "$pid"
trap - EXIT
echo "the unit's command line starts the installed server, and the installed opsync-conformance certifies it"
