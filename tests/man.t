#!/bin/sh
# Every built tool has a man page that formats without warnings, and every
# option its -h text shows is documented there.
. "$(dirname "$0")/lib.sh"
need groff untar tok numz lmbatch awdtrain encsave clastrain infer
for p in man/man1/*.1 man/man5/*.5 man/man7/*.7; do
	[ -f "$p" ] || continue
	w=$(groff -mdoc -ww -z "$p" 2>&1)
	is "$w" "" "$p formats without warnings"
done
for t in untar tok numz lmbatch awdtrain encsave clastrain infer; do
	page=man/man1/$t.1
	check "$t has a man page" test -f $page
	[ -f $page ] || continue
	missing=
	for f in $($t -h | grep -oE '(^|[ [])-[A-Za-z0-9]' | tr -d ' [' | sort -u); do
		# a letter counts when some "Fl word" has it (".Op Fl hq" too)
		grep -qE "Fl [A-Za-z0-9]*${f#-}[A-Za-z0-9]*( |$)" $page ||
			missing="$missing $f"
	done
	is "$missing" "" "$t: every short option of -h is in $page"
done
done_testing
