#!/usr/bin/env bash
# The install layout and the Debian packages: `cmake --install` puts the programs and the
# dashboard where an installed fedra-master finds it, and `cpack -G DEB` builds fedra-site with its
# hardened systemd unit, its user-creating postinst and its library dependencies.
# Usage: packaging_test.sh BUILD_DIR
set -euo pipefail

build=$(cd "${1:?usage: packaging_test.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
checks=0
fail() { echo "packaging_test: FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" || fail "cmake --install: $(cat "$tmp/install.log")"
for f in bin/fedra-site bin/fedra-master bin/fedra-provision lib/systemd/system/fedra-site.service; do
  [[ -e $tmp/prefix/$f ]] || fail "cmake --install did not install $f"
  ok
done
if [[ -e $build/dashboard/index.html ]]; then
  [[ -e $tmp/prefix/share/fedra/dashboard/index.html ]] || fail "the dashboard was not installed"
  # An installed fedra-master serves the installed dashboard by default.
  "$tmp/prefix/bin/fedra-master" serve --help | grep -q -- "$tmp/prefix/share/fedra/dashboard" ||
    fail "fedra-master serve --help does not default --web to the installed dashboard"
  ok
fi

(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/packages" >"$tmp/cpack.log" 2>&1) ||
  fail "cpack: $(tail -20 "$tmp/cpack.log")"
deb=$(ls "$tmp"/packages/fedra-site_*.deb) || fail "no fedra-site package"
contents=$(dpkg-deb -c "$deb")
grep -q '\./usr/bin/fedra-site$' <<<"$contents" || fail "fedra-site package lacks usr/bin/fedra-site"
grep -q '\./usr/lib/systemd/system/fedra-site.service$' <<<"$contents" || fail "fedra-site package lacks its unit"
ok
depends=$(dpkg-deb -f "$deb" Depends)
grep -q 'libssl3' <<<"$depends" || fail "fedra-site depends on '$depends', not libssl3"
grep -q 'adduser' <<<"$depends" || fail "fedra-site does not depend on adduser, which its postinst runs"
ok
dpkg-deb -e "$deb" "$tmp/control"
grep -q 'adduser --system' "$tmp/control/postinst" || fail "the postinst does not create the fedra user"
ok
dpkg-deb -x "$deb" "$tmp/root"
unit=$tmp/root/usr/lib/systemd/system/fedra-site.service
for line in 'User=fedra' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ReadOnlyPaths=/etc/fedra' 'StateDirectory=fedra' \
  'ExecStart=/usr/bin/fedra-site --config /etc/fedra/site.json'; do
  grep -qx -- "$line" "$unit" || fail "the unit lacks '$line'"
  ok
done
[[ -n $(ls "$tmp"/packages/fedra-master_*.deb) ]] || fail "no fedra-master package"
ok
echo "packaging_test: $checks checks passed"
