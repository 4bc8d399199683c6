#!/usr/bin/env bash
# Makes the web page's screenshots in docs/img from real data: the bundled Loghub-2k samples
# (Linux as syslog, HDFS, OpenStack) sent to a fresh logsieve serve with the bundled SigmaHQ
# Linux rules (--mapping linux), in six slices 50 s apart so the charts have a shape.
#
#   bash scripts/web/screenshots.sh [path/to/logsieve]    # default: cargo build, target/debug/logsieve
#
# None of the 2,000 Loghub Linux lines matches a bundled rule, so three lines written like
# Loghub's (same host, syslog format) are added to show alerts: a useradd of a UID 0 user
# ("Privileged User Has Been Created") and two sshd "Corrupted MAC on input" errors
# ("Suspicious OpenSSH Daemon Error"). Writes docs/img/web-overview.png, web-templates.png,
# web-template.png, web-alerts.png. Takes about 5 minutes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bash "$here/setup.sh" >/dev/null
bin=${1:-}
if [[ -z $bin ]]; then
  (cd "$root" && cargo build -q -p logsieve)
  bin=$root/target/debug/logsieve
fi
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
# A copy, so that a rebuild meanwhile cannot pull the binary from under the running service.
cp "$bin" "$work/logsieve"
"$work/logsieve" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
  --rules "$root/testdata/sigma-rules/rules/linux" --mapping linux 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q 'listening: http' "$work/log" && break; sleep 0.1; done
addr=$(grep -o 'listening: http [0-9.:]*' "$work/log" | awk '{print $3}')
[[ -n $addr ]] || { cat "$work/log"; echo "screenshots.sh: serve did not start" >&2; exit 1; }
url=http://$addr
lh=$root/testdata/loghub-2k
cat >"$work/extra.log" <<'LINES'
Jul 27 14:41:57 combo useradd[31337]: new user: name=backup, UID=0, GID=0, home=/root, shell=/bin/bash
Jul 27 14:42:03 combo sshd(pam_unix)[31340]: Corrupted MAC on input.
Jul 27 14:42:04 combo sshd[31341]: Corrupted MAC on input.
LINES
send() { # file source [query] first_line count
  local code
  code=$(sed -n "$4,$(($4 + $5 - 1))p" "$1" | curl -s -o "$work/answer" -w '%{http_code}' --data-binary @- "$url/v1/ingest?source=$2$3") || true
  if [[ $code != 200 ]]; then
    echo "screenshots.sh: sending lines $4.. of $1 to $url: HTTP $code $(cat "$work/answer" 2>/dev/null)" >&2
    tail -5 "$work/log" >&2
    exit 1
  fi
}
# Lines per slice and source: each source its own shape (a burst in linux, a ramp in hdfs,
# openstack steady), 2,000 lines each.
linux_n=(150 150 250 900 400 150)
hdfs_n=(100 200 300 400 450 550)
openstack_n=(330 340 330 330 340 330)
lstart=1 hstart=1 ostart=1
for k in 0 1 2 3 4 5; do
  send "$lh/Linux/Linux_2k.log" linux '&preset=syslog' "$lstart" "${linux_n[k]}"
  send "$lh/HDFS/HDFS_2k.log" hdfs '' "$hstart" "${hdfs_n[k]}"
  send "$lh/OpenStack/OpenStack_2k.log" openstack '' "$ostart" "${openstack_n[k]}"
  lstart=$((lstart + linux_n[k])) hstart=$((hstart + hdfs_n[k])) ostart=$((ostart + openstack_n[k]))
  [[ $k == 3 ]] && send "$work/extra.log" linux '&preset=syslog' 1 1
  [[ $k == 5 ]] && send "$work/extra.log" linux '&preset=syslog' 2 2
  echo "screenshots.sh: slice $((k + 1))/6 sent"
  [[ $k == 5 ]] || sleep 50
done
# The detail shown: the Linux template with the most variables among the frequent ones.
detail=$(curl -sf "$url/v1/templates?source=linux&limit=5&series=false" | node -e '
  const t = JSON.parse(require("fs").readFileSync(0, "utf8")).templates;
  const best = t.reduce((a, b) => ((b.template.match(/<\*>/g) ?? []).length > (a.template.match(/<\*>/g) ?? []).length ? b : a));
  console.log(best.template_id)')
cd "$here"
LOGSIEVE_URL=$url E2E_OUT=$root/docs/img E2E_EXPECT="{\"detail\":{\"source\":\"linux\",\"id\":\"$detail\"},\"range\":\"15m\"}" \
  node e2e.mjs --mode screenshots
