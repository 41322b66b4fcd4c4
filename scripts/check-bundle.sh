#!/usr/bin/env bash
# Checks dist/gpt2lab-linux-x86_64.tar.xz (scripts/bundle.sh) as a machine without Swift or the
# Debian packages would run it. Unpacks it into a temporary folder, then:
#  1. layout: launcher, binary, resource bundle, fonts, README; no glibc library in lib/; every
#     library named by its soname; RUNPATH $ORIGIN/../lib on the binary and $ORIGIN on the libraries;
#  2. with an empty environment (no LD_LIBRARY_PATH), ldd of the binary and of every library resolves
#     each dependency inside the bundle or to a glibc library of this machine;
#  3. runs the bundled gpt2lab in a chroot holding only glibc, /bin/sh and the bundle (no Swift, no
#     /usr/lib libraries, no /etc/fonts, no build folder, so Bundle.module's fallback to the build
#     path cannot hide a missing resource bundle): --version, doctor, tokenize, score and report,
#     each compared with the build's binary run here: the same output, the loss equal to the bit,
#     and the charts byte-identical (without a font the charts still render, without text: they differ).
# The chroot needs root or unprivileged user namespaces; without them step 3 runs the bundle on
# this machine instead and says so.
# Usage: scripts/check-bundle.sh [TARBALL] [BUILD_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
TARBALL=$(readlink -f "${1:-dist/gpt2lab-linux-x86_64.tar.xz}")
BUILD_BIN=$(readlink -f "${2:-.build/release/gpt2lab}")
. scripts/glibc-libs.sh

fail() { echo "check-bundle: FAIL: $*" >&2; exit 1; }
ok() { echo "check-bundle: ok: $*"; }
[ -f "$TARBALL" ] || fail "$TARBALL: no tarball (run make bundle)"
[ -x "$BUILD_BIN" ] || fail "$BUILD_BIN: no built binary to compare with"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root                      # the chroot; the bundle is unpacked at its top
mkdir -p "$root"
tar -xJf "$TARBALL" -C "$root"
B=$root/gpt2lab

# --- 1. layout ----------------------------------------------------------------------------
for f in gpt2lab bin/gpt2lab README.txt etc/fonts/fonts.conf share/fonts/DejaVuSans.ttf \
         share/fonts/DejaVuSans-Bold.ttf bin/gpt2lab_Tokenizer.resources/gpt2.tiktoken \
         bin/gpt2lab_Report.resources/report.html.mustache; do
    [ -e "$B/$f" ] || fail "the bundle has no gpt2lab/$f"
done
rpath() { readelf -d "$1" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p'; }
[ "$(rpath "$B/bin/gpt2lab")" = '$ORIGIN/../lib' ] || fail "bin/gpt2lab: RUNPATH is '$(rpath "$B/bin/gpt2lab")'"
nlibs=0
for lib in "$B"/lib/*; do
    name=${lib##*/}
    [[ $name =~ $GLIBC_RE ]] && fail "lib/$name is glibc's: the host's must be used"
    soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "$name" ] || fail "lib/$name: soname is '$soname'"
    [ "$(rpath "$lib")" = '$ORIGIN' ] || fail "lib/$name: RUNPATH is '$(rpath "$lib")'"
    nlibs=$((nlibs + 1))
done
ok "layout, sonames and run paths ($nlibs libraries)"

# --- 2. every dependency resolves inside the bundle or to glibc ---------------------------
for elf in "$B/bin/gpt2lab" "$B"/lib/*; do
    while read -r name arrow path _; do
        [ "$arrow" = "=>" ] || continue
        [ "$path" = not ] || path=$(readlink -f "$path")     # ldd writes $ORIGIN/../lib unnormalised
        case $path in
            "$B"/lib/*) ;;
            not) fail "${elf#"$root"/}: $name not found" ;;
            *) [[ $name =~ $GLIBC_RE ]] || fail "${elf#"$root"/}: $name resolves outside the bundle, to $path" ;;
        esac
    done < <(env -i ldd "$elf")
done
ok "ldd of the binary and every library: inside the bundle or glibc (empty environment)"

# --- 3. run it where nothing but glibc exists ---------------------------------------------
# The same data for both: the baseline and stacked runs, the first 30,000 bytes of Persuasion.
data() {
    mkdir -p "$1/runs"
    cp -R examples/runs/baseline examples/runs/stacked "$1/runs/"
    head -c 30000 examples/test-persuasion.txt > "$1/slice.txt"
    printf '%s\n' 'title = "bundle check"' 'test_set = "slice.txt"' 'baseline = "baseline"' '' \
        '[[run]]' 'name = "baseline"' 'checkpoint = "runs/baseline/model.safetensors"' '' \
        '[[run]]' 'name = "stacked"' 'checkpoint = "runs/stacked/model.safetensors"' > "$1/tiny.toml"
}
data "$root/data"
data "$tmp/host"
ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${OPENBLAS_NUM_THREADS:+OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS})

# glibc as the bundle's ldd lists it, and /bin/sh for the launcher, at their own paths.
mkdir -p "$root/bin" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
cp -L "$(readlink -f /bin/sh)" "$root/bin/sh"
{ env -i ldd "$B/bin/gpt2lab"; env -i ldd /bin/sh; } | while read -r name arrow path _; do
    if [[ $name == /* ]]; then path=$name                        # the loader
    elif [ "$arrow" != "=>" ] || ! [[ $name =~ $GLIBC_RE ]]; then continue; fi
    mkdir -p "$root$(dirname "$path")"
    cp -L "$path" "$root$path"
done
if [ "$(id -u)" = 0 ]; then UNSHARE=(unshare -m); else UNSHARE=(unshare -rm); fi
inside() {  # CMD ARGS…: run in the chroot, in /data
    "${ENV[@]}" HOME=/tmp "${UNSHARE[@]}" sh -c 'r=$1; shift
        for d in proc sys dev; do mount --rbind "/$d" "$r/$d" || exit 125; done
        exec chroot "$r" /bin/sh -c "cd /data && exec \"\$@\"" sh "$@"' sh "$root" "$@"
}
mkdir -p "$tmp/home"
here() { (cd "$tmp/host" && "${ENV[@]}" HOME="$tmp/home" "$@"); }
if inside /bin/sh -c true 2>/dev/null; then
    RUN=inside; where="in a chroot with only glibc and /bin/sh"
else
    echo "check-bundle: note: no chroot here (needs root or user namespaces): the bundle runs on this machine, where the Debian packages and the build folder exist" >&2
    RUN=bundled_here; where="on this machine (not isolated)"
    bundled_here() { (cd "$root/data" && "${ENV[@]}" HOME="$tmp/home" "$@"); }
fi
L=/gpt2lab/gpt2lab; [ $RUN = inside ] || L=$B/gpt2lab

# both LABEL BUNDLED_EXE ARGS…: run the bundle (in $where) and the build's binary (here) on the same
# data, each output to $tmp/{b,h}.LABEL; fails when either fails or the outputs differ.
both() {
    local label=$1 exe=$2; shift 2
    $RUN "$exe" "$@" > "$tmp/b.$label" 2> "$tmp/b.$label.err" || { cat "$tmp/b.$label.err" >&2; fail "$label: the bundle failed $where"; }
    here "$BUILD_BIN" "$@" > "$tmp/h.$label" 2> "$tmp/h.$label.err" || { cat "$tmp/h.$label.err" >&2; fail "$label: $BUILD_BIN failed"; }
    # Timings aside (score --json's "seconds", "tokens_per_second"), the outputs are equal to the byte.
    diff <(grep -vE '"(seconds|tokens_per_second)"' "$tmp/h.$label") <(grep -vE '"(seconds|tokens_per_second)"' "$tmp/b.$label") > "$tmp/diff" ||
        { head -20 "$tmp/diff" >&2; fail "$label: the bundle's output differs from the build's"; }
}
# --version straight through bin/gpt2lab (the run path alone), the rest through the launcher.
both version "${L%/gpt2lab}/bin/gpt2lab" --version
both doctor $L doctor
both tokens $L tokenize --text "Every effort moves you"
# tiktoken's gpt2 encoding of the sentence (independent of gpt2lab).
[ "$(cat "$tmp/b.tokens")" = "6109 3626 6100 345" ] || fail "tokenize gave '$(cat "$tmp/b.tokens")', tiktoken gives 6109 3626 6100 345"
both score $L score runs/baseline/model.safetensors --test-set slice.txt --json
loss=$(grep -E '"(loss|tokens_scored)"' "$tmp/b.score" | tr -d ' \n')
both report $L report tiny.toml --out out
charts=0
for png in "$tmp/host/out"/*.png; do
    [ -s "$root/data/out/${png##*/}" ] || fail "the bundle's report has no ${png##*/}"
    cmp -s "$png" "$root/data/out/${png##*/}" || fail "${png##*/}: the bundle's chart differs from the build's (fonts?)"
    charts=$((charts + 1))
done
[ $charts -gt 0 ] || fail "the report wrote no charts"
# HDF5 (libhdf5 and its filters) where the shared fixtures are at hand: a KerasHub checkpoint.
H5=../shared/fixtures/layouts/weight-tying-keras-hub.weights.h5
if [ -f "$H5" ]; then
    cp "$H5" "$root/data/w.h5"; cp "$H5" "$tmp/host/w.h5"
    both hdf5 $L inspect w.h5; hdf5=", inspect of an HDF5 checkpoint"
else
    hdf5=""; echo "check-bundle: note: $H5 absent: HDF5 reading not run" >&2
fi
ok "$where: --version $(cat "$tmp/b.version"), doctor, tokenize, score (${loss%,}), $charts report charts$hdf5: equal to the build's"
