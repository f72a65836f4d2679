#!/usr/bin/env bash
# Builds the Debian package the way docs/operations.md says, in its plain Release form (a build
# tree configured for /usr, only the crd-server target, `cpack -G DEB`; the profile-guided form
# differs only in how the binary is optimised, and CI tests that build separately), checks it
# with lintian against the accepted list, installs it with dpkg into a throw-away root and runs
# the installed binary's --check-config on the installed configuration (its relative rules path
# resolves inside that root, so the check reads the installed rules.json too).
#
#   package_test.sh SOURCE_DIR WORK_DIR BUILD_TYPE VERSION REVISION
set -euo pipefail
source_dir=$1 work=$2 build_type=$3 version=$4 revision=$5
# The build tree is WORK_DIR itself: at the depth of the main build tree, ccache (base_dir) shares its objects.
build=$work root=$work/root accepted=$source_dir/tests/package/lintian-accepted.txt

fail() {
    echo "package_test: FAIL: $*" >&2
    exit 1
}
step() { echo "package_test: $*" >&2; }

for tool in cpack dpkg dpkg-deb dpkg-shlibdeps lintian fakeroot; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh installs it)"
done

mkdir -p "$work"
step "configure and build crd-server ($build_type, prefix /usr) in $build"
cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_INSTALL_PREFIX=/usr \
    -DBUILD_TESTING=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON -DCMAKE_EXE_LINKER_FLAGS="-Wl,-z,relro,-z,now" \
    >"$work/configure.log" ||
    { cat "$work/configure.log" >&2; fail "configure"; }
cmake --build "$build" --target crd-server -j"${CRD_JOBS:-2}" >"$work/build.log" 2>&1 ||
    { tail -50 "$work/build.log" >&2; fail "build"; }

step "cpack -G DEB"
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack"; }
arch=$(dpkg --print-architecture)
deb=$build/crd-server_${version}-${revision}_${arch}.deb
[ -f "$deb" ] || { ls "$build" >&2; fail "expected $deb"; }

step "control fields"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends" >&2
# libjemalloc2: the package's binary runs on jemalloc (CRD_ALLOCATOR's default outside sanitizers).
for lib in libc6 libssl3 libstdc++6 libjemalloc2; do
    [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib (dpkg-shlibdeps did not run?): $depends"
done
[ "$(dpkg-deb -f "$deb" Version)" = "${version}-${revision}" ] || fail "Version is $(dpkg-deb -f "$deb" Version)"

step "lintian"
lintian_out=$work/lintian.txt
# Exit status is ignored: the tags are judged here, against the accepted list.
lintian --display-info --tag-display-limit 0 --allow-root "$deb" >"$lintian_out" 2>&1 || true
cat "$lintian_out" >&2
grep -q '^E: ' "$lintian_out" && fail "lintian reports errors"
unexpected=()
while read -r level _pkg tag _rest; do
    [[ $level =~ ^[WIPX]:$ ]] || continue
    grep -Eq "^${tag}[[:space:]]+[^[:space:]]" "$accepted" || unexpected+=("$level $tag")
done < <(grep -E '^[EWIPX]: ' "$lintian_out")
[ ${#unexpected[@]} -eq 0 ] || fail "lintian tags not in tests/package/lintian-accepted.txt (with a reason): ${unexpected[*]}"
grep -Ev '^(#|$)' "$accepted" | while read -r tag reason; do
    [ -n "$reason" ] || fail "lintian-accepted.txt: $tag has no reason"
done

step "dpkg --install into $root"
rm -rf "$root"
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg_in_root=(dpkg --root="$root" --admindir="$root/var/lib/dpkg" --log=/dev/null
    --force-script-chrootless --force-depends --force-not-root --force-bad-path)
"${dpkg_in_root[@]}" --install "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --install"; }
status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Status}' crd-server)
[ "$status" = installed ] || fail "dpkg status is '$status'"

conffiles=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' crd-server)
for f in /etc/crd-server/crd-server.json /etc/crd-server/rules.json /etc/logrotate.d/crd-server; do
    [[ $conffiles == *" $f "* ]] || fail "$f is not a conffile: $conffiles"
done
for f in /usr/sbin/crd-server /usr/lib/systemd/system/crd-server.service /usr/share/crd-server/rules.json \
    /usr/share/man/man8/crd-server.8.gz /usr/share/doc/crd-server/copyright /usr/share/doc/crd-server/changelog.Debian.gz; do
    [ -e "$root$f" ] || fail "$f is not installed"
done
unit=$root/usr/lib/systemd/system/crd-server.service
grep -qx 'ExecStart=/usr/sbin/crd-server --config /etc/crd-server/crd-server.json' "$unit" || fail "the unit does not start /usr/sbin/crd-server on /etc/crd-server"
grep -qx 'DynamicUser=yes' "$unit" || fail "the unit lost DynamicUser"
grep -qx 'StateDirectory=crd-server' "$unit" || fail "the unit lost its StateDirectory"

step "the installed binary checks the installed configuration"
binary=$root/usr/sbin/crd-server
version_out=$("$binary" --version)
[ "$(sed -n 1p <<<"$version_out")" = "crd-server $version" ] && grep -Eqx 'allocator: jemalloc [0-9][0-9.]*' <<<"$(sed -n 2p <<<"$version_out")" ||
    fail "--version says $version_out"
check=$("$binary" --check-config "$root/etc/crd-server/crd-server.json") || fail "--check-config refused the installed configuration"
[ "$check" = "configuration OK: $root/etc/crd-server/crd-server.json" ] || fail "--check-config said: $check"
# A broken rules file next to it must be refused: the check really reads the installed rules.
cp "$root/etc/crd-server/rules.json" "$work/rules.json.orig"
echo '{"rules": [' >"$root/etc/crd-server/rules.json"
if "$binary" --check-config "$root/etc/crd-server/crd-server.json" >/dev/null 2>&1; then
    fail "--check-config accepted a broken installed rules.json"
fi
cp "$work/rules.json.orig" "$root/etc/crd-server/rules.json"

step "the man page lists every option of --help"
man_text=$(zcat "$root/usr/share/man/man8/crd-server.8.gz" | sed 's/\\-/-/g')
mapfile -t options < <("$binary" --help | grep -oE '(^|[ |])--?[a-z][a-z-]*' | sed 's/^[ |]//' | sort -u)
[ ${#options[@]} -ge 5 ] || fail "--help lists too few options: ${options[*]}"
for option in "${options[@]}"; do
    grep -qF -- "$option" <<<"$man_text" || fail "the man page does not mention $option"
done

if command -v logrotate >/dev/null; then
    step "logrotate reads the installed file"
    logrotate --debug --state "$work/logrotate.state" "$root/etc/logrotate.d/crd-server" >"$work/logrotate.log" 2>&1 ||
        { cat "$work/logrotate.log" >&2; fail "logrotate refused /etc/logrotate.d/crd-server"; }
fi

step "dpkg --purge"
"${dpkg_in_root[@]}" --purge crd-server >>"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
[ ! -e "$root/usr/sbin/crd-server" ] || fail "purge left /usr/sbin/crd-server"
[ ! -e "$root/etc/crd-server/crd-server.json" ] || fail "purge left the configuration"

step "OK: $deb"
