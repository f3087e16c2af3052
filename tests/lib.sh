# lib.sh: TAP helpers for tool tests.  Source it, call the checks, end
# with done_testing.  Tools are on PATH (the Makefile puts $(B)/bin first).
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/ulmfit-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
n=0 bad=0
# Debian's python3 (with python3-torch), not whatever python3 is on PATH.
PY=/usr/bin/python3
# A hang guard, not a deadline: `timeout $HANG cmd` only stops a command
# that would never end, so it is far beyond any machine's time for one
# tool run (a loaded CI machine under ASan is many times slower than ours).
HANG=${ULMFIT_HANG:-600}
SHARED=${ULMFIT_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}

# diag: stdin as TAP comments on stderr, where prove shows them without
# -v (a failure's reason must reach a CI log, not only a verbose run)
diag() { sed 's/^/#   /' >&2; }
ok() {      # ok COND-EXIT-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"; bad=$((bad + 1)); fi
}
check() {   # check DESCRIPTION CMD...: passes when CMD exits 0
	d=$1; shift
	if "$@" >"$T/.out" 2>"$T/.err"; then ok 0 "$d"; else
		ok 1 "$d"; head -20 "$T/.err" | diag; fi
}
is() {      # is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; printf 'got:  %s\nwant: %s\n' "$1" "$2" | diag; fi
}
exits() {   # exits STATUS DESCRIPTION CMD...: CMD exits with STATUS
	want=$1 d=$2; shift 2
	"$@" >"$T/.out" 2>"$T/.err"; got=$?
	if [ "$got" -eq "$want" ]; then ok 0 "$d"; else
		ok 1 "$d"; { echo "exit $got, want $want"
		head -5 "$T/.err"; } | diag; fi
}
errmatch() { # errmatch REGEX DESCRIPTION: last stderr matches
	if grep -Eq "$1" "$T/.err"; then ok 0 "$2"; else ok 1 "$2";
		head -5 "$T/.err" | sed 's/^/stderr: /' | diag; fi
}
# bg 'FIFOS' CMD...: start CMD in the background, its pid in $p, with
# SIGINT and SIGTERM at their defaults (a script's background job starts
# with SIGINT ignored; a terminal's does not).  When CMD ends, its exit
# status goes to an event pipe (rc_bg reads it into $rc) and the line
# "ended" into each of FIFOS still there, so a test that waits for CMD to
# open one of them, or for a line in one, never waits past CMD's end.
# Tests wait for such signs, never for a time.
bg() {
	[ -p "$T/.ev" ] || { mkfifo "$T/.ev" && exec 7<>"$T/.ev"; }
	_fifos=$1; shift
	# a background job's stdin is /dev/null unless redirected: pass ours
	{ ( env --default-signal=INT,TERM "$@" <&8 7>&- 8<&- & echo $! >&7
	    wait $!; echo $? >&7
	    for _f in $_fifos; do [ -p "$_f" ] && echo ended 1<>"$_f"; done
	  ) 3>&- 4>&- 5>&- 6>&- 9>&- & } 8<&0
	_bgp=$!
	read -r p <&7
}
rc_bg() { read -r rc <&7; wait $_bgp; }
# missing WHAT: a test dependency is missing.  That is a failure, never a
# skip: a suite that skips can pass having tested nothing.
missing() { ok 1 "$*: missing; run scripts/deps.sh (make deps)"; done_testing; }
skip_all() { missing "$@"; }    # the old name: it fails too
need() {    # need CMD...: each CMD is on PATH, or the test fails
	for _c in "$@"; do command -v "$_c" >/dev/null 2>&1 || missing "$_c"; done; }
# npm_fetch PACKAGE NAME: the npm package unpacked once in
# $ULMFIT_BUILD/npm/NAME (its files under .../NAME/package), shared by the
# test files that need it; flock'd, so test files run in parallel fetch it
# once and never see it half unpacked.  0, or 1 when npm cannot get it.
npm_fetch() {
	_d=${ULMFIT_BUILD:?run under make test}/npm/$2
	mkdir -p "${_d%/*}" || return 1
	( flock 9 || exit 1
	  [ -f "$_d/.done" ] && exit 0
	  rm -rf "$_d" && mkdir -p "$_d" &&
	  (cd "$_d" && npm pack --silent "$1" >/dev/null 2>&1) &&
	  tar xzf "$_d"/*.tgz -C "$_d" && touch "$_d/.done"
	) 9>"$_d.lock"
}
done_testing() { echo "1..$n"; [ "$bad" -eq 0 ]; exit $?; }
