#!/usr/bin/env bash
# Packs the built gpt2lab into dist/gpt2lab-linux-x86_64.tar.xz, a folder that runs on an x86-64
# Linux machine with glibc >= this machine's and nothing else installed (no Swift, no Debian
# packages): a GPU node, a cluster.
#
#   gpt2lab/gpt2lab            launcher: points fontconfig at the bundled fonts, execs bin/gpt2lab
#   gpt2lab/bin/gpt2lab        the binary, RUNPATH $ORIGIN/../lib
#   gpt2lab/bin/*.resources    SwiftPM resource bundles (Bundle.module looks beside the executable)
#   gpt2lab/lib/               every library ldd lists that is not glibc's, under its soname, RUNPATH $ORIGIN
#   gpt2lab/share/fonts/       DejaVu (fonts-dejavu-core) for the charts
#   gpt2lab/etc/fonts/         a fonts.conf that finds them relative to itself
#   gpt2lab/share/licenses/    the copyright files of everything bundled
#
# glibc (libc, libm, libpthread, libdl, librt, libresolv, libutil, the loader …) stays out: it must
# be the host's. Libraries the binary dlopens at run time (CUDA's) are not in ldd's list and come
# from the host too. Usage: scripts/bundle.sh [PATH/TO/gpt2lab] (default .build/release/gpt2lab).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/gpt2lab}
OUT=dist/gpt2lab-linux-x86_64.tar.xz
. scripts/glibc-libs.sh

die() { echo "bundle.sh: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN: no built binary (run make build)"
command -v patchelf >/dev/null || die "patchelf is not installed (make setup installs it)"
command -v xz >/dev/null || die "xz is not installed (make setup installs xz-utils)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is bundled (this is $(uname -m))"

mkdir -p dist
stage=$(mktemp -d dist/.stage.XXXXXX)
trap 'rm -rf "$stage" "$OUT.part"' EXIT
root=$stage/gpt2lab
mkdir -p "$root/bin" "$root/lib" "$root/share/fonts" "$root/share/licenses" "$root/etc/fonts"

# --- binary and resource bundles -------------------------------------------------------------
cp "$BIN" "$root/bin/gpt2lab"
strip --strip-debug "$root/bin/gpt2lab"   # debug info is 2/3 of the file; the symbol table stays
resources=("$(dirname "$BIN")"/*.resources)
[ -e "${resources[0]}" ] || die "$(dirname "$BIN"): no *.resources bundle beside the binary"
cp -R "${resources[@]}" "$root/bin/"

# --- libraries: ldd's list is already the transitive closure ---------------------------------
licenses() {  # $1: a library's real path; copies its package's copyright file once
    local real pkg
    real=$(readlink -f "$1")
    case "$real" in
        */lib/swift/*)
            local lic; lic=$(dirname "$real")/../../../share/swift/LICENSE.txt
            [ -f "$lic" ] && cp "$lic" "$root/share/licenses/swift.LICENSE.txt"; return 0 ;;
    esac
    pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null) || {
        echo "bundle.sh: note: no package owns $real; no licence file copied" >&2; return 0; }
    pkg=${pkg%%:*}
    [ -f "/usr/share/doc/$pkg/copyright" ] && cp "/usr/share/doc/$pkg/copyright" "$root/share/licenses/$pkg.copyright"
    return 0
}
count=0
while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue                     # linux-vdso, the loader's own line
    [ "$path" = "not" ] && die "ldd $BIN: $name not found"
    [[ $name =~ $GLIBC_RE ]] && continue
    cp -L "$path" "$root/lib/$name"                     # the real file (update-alternatives' too) under its soname
    chmod 0755 "$root/lib/$name"
    patchelf --set-rpath '$ORIGIN' "$root/lib/$name"
    licenses "$path"
    count=$((count + 1))
done < <(LD_LIBRARY_PATH='' ldd "$BIN")
patchelf --set-rpath '$ORIGIN/../lib' "$root/bin/gpt2lab"

# --- fonts and a fontconfig set-up relative to the bundle ------------------------------------
fonts=$(dpkg -L fonts-dejavu-core 2>/dev/null | grep '\.ttf$') || die "fonts-dejavu-core is not installed"
cp $fonts "$root/share/fonts/"
cp /usr/share/doc/fonts-dejavu-core/copyright "$root/share/licenses/fonts-dejavu-core.copyright"
cat > "$root/etc/fonts/fonts.conf" <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<!-- gpt2lab's bundle: only the fonts beside this file (the charts draw with DejaVu Sans), no cache
     written anywhere (scanning six fonts takes milliseconds). The gpt2lab launcher sets FONTCONFIG_FILE. -->
<fontconfig>
  <dir prefix="relative">../../share/fonts</dir>
  <alias><family>sans-serif</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias><family>monospace</family><prefer><family>DejaVu Sans Mono</family></prefer></alias>
  <alias><family>serif</family><prefer><family>DejaVu Serif</family></prefer></alias>
</fontconfig>
EOF

cat > "$root/gpt2lab" <<'EOF'
#!/bin/sh
# gpt2lab's launcher: the charts' fonts come from this bundle, not the host; then the binary.
self=$0
[ -L "$self" ] && self=$(readlink -f "$self")
case $self in */*) here=${self%/*} ;; *) here=. ;; esac
FONTCONFIG_FILE=$here/etc/fonts/fonts.conf
export FONTCONFIG_FILE
exec "$here/bin/gpt2lab" "$@"
EOF
chmod 0755 "$root/gpt2lab"

glibc_needed=$(objdump -T "$root"/bin/gpt2lab "$root"/lib/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)
version=$("$BIN" --version 2>/dev/null || echo unknown)
cat > "$root/README.txt" <<EOF
gpt2lab $version, built on $(. /etc/os-release && echo "$PRETTY_NAME") for Linux x86-64.

Run:  gpt2lab/gpt2lab COMMAND ...        (e.g. gpt2lab/gpt2lab doctor)

The launcher sets FONTCONFIG_FILE to etc/fonts/fonts.conf (the bundled DejaVu fonts the report's
charts use) and runs bin/gpt2lab, which also runs directly (charts then use the host's fontconfig).

Needs on the host: an x86-64 CPU (AVX2 + FMA: 2013 or later) and glibc with $glibc_needed or later
(this build: glibc $(ldd --version | head -1 | grep -o '[0-9.]*$')). Nothing else: the Swift runtime,
OpenBLAS, oneDNN, HDF5, Cairo and their dependencies are in lib/ and found through the binary's
\$ORIGIN run path (no LD_LIBRARY_PATH needed; one that names folders with libraries of the same
names takes precedence). CUDA libraries, where used, come from the host.

Licences of the bundled libraries and fonts: share/licenses/.
EOF

tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name -cf - gpt2lab | xz -T2 -6 > "$OUT.part"
mv "$OUT.part" "$OUT"
echo "$OUT: $count libraries, $(du -sh "$root" | cut -f1) unpacked, $(du -h "$OUT" | cut -f1) packed"
