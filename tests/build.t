#!/bin/sh
# Every tool obeys the common contract: -h exits 0 on stdout, a bad flag
# exits 2, a missing input file exits 1 with "tool: file: reason".
. "$(dirname "$0")/lib.sh"
need untar tok numz lmbatch awdtrain encsave clastrain infer
for t in untar tok numz lmbatch awdtrain encsave clastrain infer; do
	exits 0 "$t -h exits 0" $t -h
	cp "$T/.out" "$T/help"   # check's own redirection truncates .out
	check "$t -h prints usage on stdout" grep -q "usage: $t" "$T/help"
	exits 2 "$t with a bad flag exits 2" $t --no-such-flag-at-all
done
done_testing
