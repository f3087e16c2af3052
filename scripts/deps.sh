#!/bin/sh
# Install what the build, the tests and the demo need, when it is missing.
# Does nothing (and needs no network) when everything is there.
set -eu
pkgs="gcc make pkg-config libarchive-dev libxxhash-dev libopenblas-dev
libutf8proc-dev libcurl4-openssl-dev libpcre2-dev zlib1g-dev python3-torch python3-numpy
perl jq curl npm gnuplot-nox groff-base clang libclang-rt-14-dev valgrind libcjson-dev strace zstd procps
g++ libsentencepiece-dev python3-sentencepiece libopenmpi-dev openmpi-bin"
missing=
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case $st in *" installed") ;; *) missing="$missing $p" ;; esac
done
# npm may come with node from elsewhere (nvm, a tarball): that one will do.
case " $missing " in *" npm "*) command -v npm >/dev/null 2>&1 &&
	missing=$(echo "$missing" | sed 's/ npm//') ;; esac
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
