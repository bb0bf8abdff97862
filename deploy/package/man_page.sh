#!/usr/bin/env bash
# Writes the manual page of one program, made from its --help and --version, gzipped as Debian
# wants it (no name or time stamp in the gzip header, so the package builds alike every time).
#
#   man_page.sh PROGRAM NAME DESCRIPTION OUTPUT.1.gz
set -euo pipefail
program="$1" name="$2" description="$3" output="$4"
help2man --no-info --name="$description" --version-string="$("$program" --version | head -n 1 | awk '{print $2}')" \
  --output="${output%.gz}" "$program"
# help2man names the page after the path it ran; the page is the installed program's.
sed -i "s|$(dirname "$program")/||g" "${output%.gz}"
gzip -9nf "${output%.gz}"
test -s "$output"
grep -q "$name" <(zcat "$output")
