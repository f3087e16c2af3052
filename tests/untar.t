#!/bin/sh
# untar: local archives in every format, the cache, downloads from a
# loopback server (resume, 404, checksums, fastai's checks), hostile
# archives, offline failure, locking.  No internet: only 127.0.0.1.
. "$(dirname "$0")/lib.sh"
REF=$(cd "$(dirname "$0")/ref" && pwd)
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
unset ULMFIT_URL_BASE http_proxy https_proxy HTTP_PROXY HTTPS_PROXY \
	ALL_PROXY all_proxy ftp_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
export ULMFIT_HOME="$T/home"
H=$ULMFIT_HOME
A=$T/arch
mkdir -p "$T/outside"
need zstd
$PY "$REF/untar_archives.py" "$A" "$T/outside" || missing "the test archives (tests/ref/untar_archives.py failed)"

# nothing half-made: no temp tree, no data dir, nothing outside
clean() {   # clean NAME DESCRIPTION
	left=$(ls -A "$H/data" 2>/dev/null | grep -c "^\.$1\.untar-\|^$1\$")
	out=$(ls -A "$T/outside" | wc -l)
	is "$left/$out" "0/0" "$2: nothing left behind"
}

# ---- usage -----------------------------------------------------------------
exits 0 "-h exits 0" untar -h
cp "$T/.out" "$T/help"
check "usage on stdout" grep -q "^usage: untar" "$T/help"
exits 2 "bad flag exits 2" untar --no-such-flag
exits 2 "no source exits 2" untar
exits 2 "-c junk exits 2" untar -c sha1:abcd "$A/good.tar.gz"
exits 2 "-c short hex exits 2" untar -c xxh64:abc "$A/good.tar.gz"
exits 2 "--max-size junk exits 2" untar --max-size 12X "$A/good.tar.gz"
exits 2 "-r junk exits 2" untar -r many "$A/good.tar.gz"
exits 2 "stdin (-) is refused" untar -
errmatch "save it to a file first" "... saying why"
exits 0 "-l exits 0" untar -l
cp "$T/.out" "$T/list"
for name in imdb imdb_sample wikitext-103 wikitext-2 wt103-fwd wt103-bwd; do
	check "-l lists $name" grep -q "^$name	" "$T/list"
done
is "$(grep '^imdb	' "$T/list" | cut -f2,3)" \
	"data	https://s3.amazonaws.com/fast-ai-nlp/imdb.tgz" "imdb's URL is fastai's"
is "$(grep '^wt103-bwd	' "$T/list" | cut -f2,3)" \
	"models	https://s3.amazonaws.com/fast-ai-modelzoo/wt103-bwd.tgz" \
	"wt103-bwd's URL is fastai's, under models/"
exits 1 "a missing file exits 1" untar "$T/nope.tgz"
errmatch "untar: .*nope.tgz: No such file" "... saying so"
exits 1 "a directory exits 1" untar "$A"
errmatch "not an archive file" "... saying so"
exits 1 "an unknown name exits 1" untar imbd
errmatch "imbd: no such name.*untar -l" "... pointing at -l"

# ---- local archives ----------------------------------------------------------
exits 0 "tar.gz extracts" untar "$A/good.tar.gz"
is "$(cat "$T/.out")" "$H/data/good" "prints data/NAME, one folder deep (fastai)"
is "$(cat "$H/data/good/a.txt" "$H/data/good/sub/b.txt")" "alpha
beta" "contents"
is "$(readlink "$H/data/good/link")" "a.txt" "inner symlink kept"
is "$(cat "$H/data/good/hard")" "alpha" "inner hardlink kept"
is "$(stat -c %a "$H/data/good/run.sh")" 755 "setuid bit dropped"
check "record has size and xxh64" grep -q "^xxh64 [0-9a-f]\{16\}$" \
	"$H/archive/good.tar.gz.sum"
is "$(sed -n 's/^size //p' "$H/archive/good.tar.gz.sum")" \
	"$(stat -c %s "$A/good.tar.gz")" "record size"
is "$(sed -n 's/^md5 //p' "$H/archive/good.tar.gz.sum")" \
	"$(md5sum < "$A/good.tar.gz" | cut -d' ' -f1)" "record md5 == md5sum"

# the cache: a second call returns at once, without extracting again
echo mine > "$H/data/good/marker"
ino=$(stat -c %i "$H/data/good")
exits 0 "second call" untar "$A/good.tar.gz"
is "$(cat "$T/.out")" "$H/data/good" "same path"
is "$(stat -c %i "$H/data/good"):$(cat "$H/data/good/marker" 2>&1)" \
	"$ino:mine" "not extracted again"
exits 0 "--force" untar -q --force "$A/good.tar.gz"
is "$(ls "$H/data/good/marker" 2>/dev/null)" "" "--force extracts again"
echo mine > "$H/data/good/marker"
touch -d '2024-01-01 00:00:01' "$A/good.tar.gz"
exits 0 "a changed local archive" untar "$A/good.tar.gz"
is "$(ls "$H/data/good/marker" 2>/dev/null)" "" "is extracted again"
is "$(ls -A "$H/data" | grep -c untar-)" 0 "no temp trees left"

exits 0 "plain tar" untar "$A/multi.tar"
is "$(cat "$T/.out")" "$H/data/multi" "several top entries: data/NAME"
is "$(ls "$H/data/multi" | tr '\n' ' ')" "a.txt b.txt " "... holds them"
exits 0 "tar.bz2" untar "$A/bz.tar.bz2"
is "$(cat "$H/data/bz/c.txt")" "bzip2" "tar.bz2 contents"
exits 0 "tar.xz" untar "$A/xz.tar.xz"
is "$(cat "$H/data/xz/c.txt")" "xz" "tar.xz contents"
exits 0 "zip" untar "$A/zipped.zip"
is "$(cat "$H/data/zipped/c.txt" "$H/data/zipped/d/e.txt")" "zip
deep" "zip contents"
exits 0 "UTF-8 names in a zip, C locale" env LC_ALL=C untar "$A/utf8.zip"
is "$(cat "$H/data/utf8/naïve ☕.txt" 2>&1)" "utf8" "... written as UTF-8"
exits 0 "./-prefixed names" untar "$A/dotslash.tgz"
is "$(cat "$H/data/dotslash/f.txt")" "dot" "./top/f.txt -> data/dotslash/f.txt"
exits 0 "npm pack .tgz" untar "$A/pkg-1.0.0.tgz"
is "$(cat "$T/.out")" "$H/data/pkg-1.0.0" "npm: data/NAME-VERSION"
check "npm: package/ is the tree" test -f "$H/data/pkg-1.0.0/package.json"
mkdir -p "$T/z/zs" && echo zstd > "$T/z/zs/f.txt"
tar -C "$T/z" -cf - zs | zstd -q > "$A/zs.tar.zst"
exits 0 "tar.zst" untar "$A/zs.tar.zst"
is "$(cat "$H/data/zs/f.txt")" "zstd" "tar.zst contents"
exits 0 "-m: under models/" untar -m "$A/xz.tar.xz"
is "$(cat "$T/.out")" "$H/models/xz" "models/NAME"

# ---- damaged and hostile archives ----------------------------------------------
exits 1 "truncated tar.gz" untar "$A/cut.tar.gz"
errmatch "corrupt|truncated" "... is called corrupt or truncated"
clean cut "truncated"
exits 1 "not an archive" untar "$A/text.tgz"
errmatch "not an archive" "... says so"
clean text "not an archive"
exits 1 "../ path" untar "$A/dotdot.tar"
errmatch "\.\./escape.txt: '\.\.' in path" "... refused by name"
clean dotdot "../"
check "... wrote nothing next to the cache" test ! -e "$H/escape.txt"
exits 1 "absolute path" untar "$A/abs.tar"
errmatch "absolute path" "... refused"
clean abs "absolute"
exits 1 "symlink to ../.. then a file through it" untar "$A/symrel.tar"
errmatch "ln: symlink pointing outside" "... refused"
clean symrel "relative symlink escape"
exits 1 "symlink to an absolute dir then a file through it" untar "$A/symabs.tar"
errmatch "ln: symlink to an absolute path" "... refused"
clean symabs "absolute symlink"
exits 1 "a file written through an inner symlink" untar "$A/through.tar"
errmatch "s/x.txt: .*symlink" "... refused"
clean through "write through a symlink"
exits 1 "two links that lead out together" untar "$A/symchain.tar"
errmatch "a: symlink pointing outside" "... refused"
clean symchain "symlink chain"
exits 1 "hardlink to ../" untar "$A/hardout.tar"
errmatch "h: hardlink target outside" "... refused"
clean hardout "hardlink"
exits 1 "hardlink to an absolute path" untar "$A/hardabs.tar"
clean hardabs "absolute hardlink"
exits 1 "device file" untar "$A/dev.tar"
errmatch "null: device file" "... refused"
clean dev "device"
exits 1 "fifo" untar "$A/fifo.tar"
clean fifo "fifo"
exits 1 "tgz bomb over --max-size" untar --max-size 1M "$A/bomb.tgz"
errmatch "expands to more than 1.0 MiB.*--max-size" "... names the limit"
clean bomb "tgz bomb"
exits 1 "zip bomb over --max-size" untar -M 4M "$A/bomb.zip"
clean bomb "zip bomb"
exits 0 "the same within the limit" untar -q -M 64M "$A/bomb.tgz"
is "$(stat -c %s "$H/data/bomb/zeros")" 33554432 "all 32 MiB written"

# ---- downloads from a loopback server -----------------------------------------------
W=$T/www
mkdir -p "$W/f" "$W/fast-ai-sample" "$W/fast-ai-modelzoo"
cp "$A/good.tar.gz" "$A/big.tgz" "$A/zipped.zip" "$W/f/"
cp "$A/big.tgz" "$W/f/big2.tgz"
cp "$A/big.tgz" "$W/f/big3.tgz"
cp "$A/zipped.zip" "$W/f/race.zip"
cp "$A/good.tar.gz" "$W/fast-ai-modelzoo/wt103-fwd.tgz"
cp "$A/good.tar.gz" "$W/fast-ai-sample/imdb_sample.tgz"
# it writes its port into port.tmp, a fifo here: the read waits for that
# line (or for "ended" if the server died first), not for a time
mkfifo "$T/port.tmp"
bg "$T/port.tmp" $PY "$REF/untar_httpd.py" "$W" "$T/port" "$T/log" 2>"$T/srv.err"
SRV=$p
read -r port <"$T/port.tmp"
case $port in ''|*[!0-9]*)
	echo "Bail out! test server did not start: $(cat "$T/srv.err")"; exit 1 ;;
esac
U=http://127.0.0.1:$port
gets() { grep -c "^GET $1 " "$T/log"; }

exits 0 "http download" untar "$U/f/good.tar.gz"
is "$(cat "$T/.out")" "$H/data/good" "prints data/good"
check "archive kept in archive/" cmp "$A/good.tar.gz" "$H/archive/good.tar.gz"
is "$(sed -n 's/^source //p' "$H/archive/good.tar.gz.sum")" "$U/f/good.tar.gz" \
	"record names the URL"
exits 0 "second call" untar "$U/f/good.tar.gz"
is "$(gets /f/good.tar.gz)" 1 "served from the cache: one GET in all"
rm -rf "$H/data/good"
exits 0 "tree removed, archive cached" untar "$U/f/good.tar.gz"
is "$(gets /f/good.tar.gz):$(cat "$H/data/good/a.txt")" "1:alpha" \
	"... extracted again from the cached archive, not downloaded"
rm -rf "$H/data/good"
echo junk >> "$H/archive/good.tar.gz"
exits 0 "cached archive damaged" untar "$U/f/good.tar.gz"
errmatch "does not match its record.*downloading it again" "... noticed"
is "$(gets /f/good.tar.gz)" 2 "... downloaded again"
check "... the good bytes" cmp "$A/good.tar.gz" "$H/archive/good.tar.gz"

exits 1 "404" untar "$U/f/missing.tgz"
errmatch "missing.tgz: HTTP 404" "... says HTTP 404"
is "$(ls "$H/archive" | grep -c missing.tgz)" 0 "... leaves no file"
clean missing "404"

# a download that is not a good archive: nothing extracted, the archive
# stays for a look (--force fetches it again)
cp "$A/cut.tar.gz" "$W/f/cut.tgz"
exits 1 "a corrupt download" untar "$U/f/cut.tgz"
errmatch "nothing extracted; the archive stays in .*--force" "... says what stays"
clean cut "corrupt download"
exits 0 "a file:// URL" untar "file://$A/xz.tar.xz"
is "$(cat "$T/.out")" "$H/data/xz" "... extracted"
check "... and copied to archive/" cmp "$A/xz.tar.xz" "$H/archive/xz.tar.xz"

# resume across calls: a cut connection leaves .part; the next call asks
# for the rest with Range
exits 1 "connection cut, no retries" untar -r 0 "$U/f/big.tgz?cut=300000"
errmatch "300000 bytes kept .*run again to resume" "... keeps the part"
is "$(stat -c %s "$H/archive/big.tgz.part")" 300000 "... 300000 bytes"
clean big "cut download"
exits 0 "second call resumes" untar "$U/f/big.tgz?cut=300000"
check "... with Range: bytes=300000-" grep -q "^GET /f/big.tgz?cut=300000 bytes=300000-$" "$T/log"
check "... to the same bytes" cmp "$A/big.tgz" "$H/archive/big.tgz"
check "... and extracts" test -f "$H/data/big/random.bin"
check "... no .part left" test ! -e "$H/archive/big.tgz.part"
# within one call: retried after 1 s, resumed
exits 0 "cut connection, retried in the same call" untar "$U/f/big2.tgz?cut=500000"
check "... resumed at 500000" grep -q "^GET /f/big2.tgz?cut=500000 bytes=500000-$" "$T/log"
check "... same bytes" cmp "$A/big.tgz" "$H/archive/big2.tgz"
# a server that ignores Range: start again from 0, still the right bytes
exits 1 "cut, server without ranges" untar -r 0 "$U/f/big3.tgz?cut=200000&norange=1"
exits 0 "... next call starts over" untar "$U/f/big3.tgz?cut=200000&norange=1"
check "... same bytes" cmp "$A/big.tgz" "$H/archive/big3.tgz"

# checksums
md5z=$(md5sum < "$A/zipped.zip" | cut -d' ' -f1)
rm -rf "$H/data/zipped"
exits 1 "-c md5 mismatch" untar -c md5:00000000000000000000000000000000 "$U/f/zipped.zip"
errmatch "checksum mismatch: md5 is $md5z" "... says which md5 it got"
is "$(ls "$H/archive" | grep -c '^zipped.zip$')" 0 "... the download is removed"
clean zipped "checksum mismatch"
exits 0 "-c md5 match" untar -c "md5:$md5z" "$U/f/zipped.zip"
xx=$(sed -n 's/^xxh64 //p' "$H/archive/zipped.zip.sum")
exits 0 "-c xxh64 match on a cache hit" untar -c "xxh64:$xx" "$U/f/zipped.zip"
exits 1 "-c xxh64 mismatch" untar -c xxh64:0123456789abcdef "$A/good.tar"
errmatch "xxh64 is [0-9a-f]{16}, -c wants 0123456789abcdef" "... names both"
check "... a local archive is never removed" test -f "$A/good.tar"

# names through a mirror: ULMFIT_URL_BASE
exits 0 "wt103-fwd from the mirror" env ULMFIT_URL_BASE=$U/ untar wt103-fwd
is "$(cat "$T/.out")" "$H/models/wt103-fwd" "models go under models/ (fastai c_key=model)"
exits 1 "imdb_sample failing fastai's size+md5 check" \
	env ULMFIT_URL_BASE=$U untar imdb_sample
errmatch "first-MiB md5 .*fastai's check wants 571827 and 0842e61a9867caa2e6fbdb14fa703d61" \
	"... says which check failed"
clean imdb_sample "fastai check"
is "$(ls "$H/archive" | grep -c '^imdb_sample.tgz$')" 0 "... the download is removed"

# a Hugging Face model is four plain files, not an archive: fetched one by
# one into archive/gpt2/, then models/gpt2 in one rename (ULMFIT_HF_BASE)
G=$W/openai-community/gpt2/resolve/main
mkdir -p "$G"
echo '{"n_layer": 1}' >"$G/config.json"
echo '{"!": 0}' >"$G/vocab.json"
printf '#version: 0.2\n' >"$G/merges.txt"
cp "$A/big.tgz" "$G/model.safetensors"
hf() { gets "/openai-community/$1/resolve/main/$2"; }
exits 0 "gpt2 from a mirror of the hub" env ULMFIT_HF_BASE=$U/ untar -q gpt2
is "$(cat "$T/.out")" "$H/models/gpt2" "... prints models/gpt2"
for f in config.json vocab.json merges.txt model.safetensors; do
	check "... $f, the same bytes" cmp "$G/$f" "$H/models/gpt2/$f"
done
is "$(ls -A "$H/models/gpt2" | tr '\n' ' ')" "config.json merges.txt model.safetensors vocab.json " \
	"... and nothing else"
is "$(sed -n 's/^source //p' "$H/archive/gpt2/model.safetensors.sum")" \
	"$U/openai-community/gpt2/resolve/main/model.safetensors" "... each file recorded"
exits 0 "gpt2 again" env ULMFIT_HF_BASE=$U untar -q gpt2
is "$(hf gpt2 config.json):$(hf gpt2 model.safetensors)" 1:1 "... from the cache: one GET each"
rm -rf "$H/models/gpt2"
exits 0 "gpt2, folder removed" env ULMFIT_HF_BASE=$U/ untar -q gpt2
is "$(hf gpt2 model.safetensors)" 1 "... made again from archive/gpt2/, not downloaded"
check "... the same bytes" cmp "$G/model.safetensors" "$H/models/gpt2/model.safetensors"
exits 0 "gpt2 --force" env ULMFIT_HF_BASE=$U/ untar -q -f gpt2
is "$(hf gpt2 vocab.json):$(hf gpt2 model.safetensors)" 2:2 "... downloads every file again"
exits 2 "-c on a folder of files" env ULMFIT_HF_BASE=$U/ untar -c xxh64:0123456789abcdef gpt2
errmatch "^untar: gpt2: -c checks one archive" "... says why"
# a file missing upstream: no folder, no temp; what came is kept
M=$W/openai-community/gpt2-medium/resolve/main
mkdir -p "$M"
cp "$G/config.json" "$G/vocab.json" "$G/model.safetensors" "$M/"
exits 1 "gpt2-medium, merges.txt missing upstream" \
	env ULMFIT_HF_BASE=$U/ untar -q gpt2-medium
errmatch "merges.txt: HTTP 404" "... says which file"
is "$(ls -A "$H/models" | grep -c gpt2-medium)" 0 "... no folder and no temp folder"
cp "$G/merges.txt" "$M/"
exits 0 "... once it is there" env ULMFIT_HF_BASE=$U/ untar -q gpt2-medium
is "$(hf gpt2-medium config.json):$(hf gpt2-medium merges.txt)" 1:2 \
	"... fetches only what it lacked (config.json once in all)"
check "... the same bytes" cmp "$M/merges.txt" "$H/models/gpt2-medium/merges.txt"
# a model folder put there by hand (curl into the cache) is used as it is
mkdir -p "$H/models/gpt2-large"
echo mine >"$H/models/gpt2-large/config.json"
exits 0 "gpt2-large put there by hand" env ULMFIT_HF_BASE=$U/ untar -q gpt2-large
is "$(cat "$H/models/gpt2-large/config.json"):$(hf gpt2-large config.json)" "mine:0" \
	"... used as it is, nothing fetched"

exits 0 "--force downloads again" untar -f "$U/f/good.tar.gz"
is "$(gets /f/good.tar.gz)" 3 "... one more GET"

# SIGTERM mid-download: dies of it, no tree, no temp; the next call resumes.
# untar_hold.py sends half the body, says "sent", and holds the rest until
# its stdin (fd 5 here) ends: the signal comes mid-download, by a sign.
cp "$A/big.tgz" "$W/f/term.tgz"
mkfifo "$T/hold.in" "$T/hold.out"
exec 5<>"$T/hold.in" 6<>"$T/hold.out"
bg "$T/hold.out" $PY "$REF/untar_hold.py" "$A/big.tgz" <"$T/hold.in" \
	>"$T/hold.out" 2>"$T/hold.err"
hold_bg=$_bgp
read -r hport <&6
bg "$T/hold.out" untar -q "http://127.0.0.1:$hport/f/term.tgz" >/dev/null \
	2>"$T/term.err"
read -r ev <&6
is "$ev" sent "SIGTERM: the server sent half the archive"
kill -TERM $p
rc_bg
is "$rc" 143 "SIGTERM: dies of the signal"
exec 5>&-
read -r _ <&7; wait $hold_bg
exec 6<&-
clean term "SIGTERM"
exits 0 "... the next call completes" untar -q "$U/f/term.tgz"
check "... same bytes" cmp "$A/big.tgz" "$H/archive/term.tgz"

# two processes racing on one name: one downloads, the other waits
untar -q "$U/f/race.zip?slow=1" >"$T/r1" 2>"$T/r1.err" &
p1=$!
untar -q "$U/f/race.zip?slow=1" >"$T/r2" 2>"$T/r2.err"
s2=$?
wait $p1
s1=$?
is "$s1 $s2" "0 0" "race: both succeed"
is "$(cat "$T/r1")|$(cat "$T/r2")" "$H/data/race|$H/data/race" "race: same path"
is "$(gets '/f/race.zip?slow=1')" 1 "race: one download"
is "$(cat "$H/data/race/c.txt")" "zip" "race: tree intact"

# offline: nothing listens on the mirror or the proxy.  Failing fast
# means no retries (each would nap 1, 2, 4 s): judged by their notes on
# stderr, not by the clock.
exits 1 "offline name: fails" env ULMFIT_URL_BASE=http://127.0.0.1:1/ untar imdb
errmatch "Could not connect|Couldn't connect|Failed to connect" "... cannot connect"
errmatch "imdb: not downloaded .*imdb.tgz put in .*/archive/" "... says how to work offline"
is "$(grep -c 'trying again' "$T/.err")" 0 "... at once, no retries"
exits 1 "offline through a dead proxy: fails" env https_proxy=http://127.0.0.1:1 \
	HTTPS_PROXY=http://127.0.0.1:1 NO_PROXY= no_proxy= untar imdb
is "$(grep -c 'trying again' "$T/.err")" 0 "... at once, no retries"
clean imdb "offline"
# fastai's check holds for a hand-put copy, and for fastai's URL in full
cp "$A/good.tar.gz" "$H/archive/imdb.tgz"
exits 1 "a hand-put imdb.tgz failing fastai's check" \
	untar https://s3.amazonaws.com/fast-ai-nlp/imdb.tgz
errmatch "fastai's check wants 144440600 and 90f9b1c4ff43a90d67553c9240dc0249" \
	"... says so (no network needed)"
clean imdb "fastai check, full URL"
# a copy put in the archive folder by hand is used as it is
cp "$A/good.tar.gz" "$H/archive/wikitext-2.tgz"
exits 0 "offline, archive put by hand" \
	env ULMFIT_URL_BASE=http://127.0.0.1:1/ untar wikitext-2
is "$(cat "$T/.out")" "$H/data/wikitext-2" "... extracted from it"

# a disk that fills up mid-file (ulimit -f, 512-byte blocks in sh): the
# failed write is an error, not a tree of zero-filled files (issue 16)
mkdir -p "$T/fill/full/sub"
yes 'abc def' | head -c 300000 >"$T/fill/full/sub/f.txt"
echo hi >"$T/fill/full/a.txt"
tar czf "$T/full.tgz" -C "$T/fill" full
(ulimit -f 100; untar -q "$T/full.tgz") >"$T/.out" 2>"$T/.err"
is $? 1 "a full disk (ulimit -f) mid-file: exit 1"
errmatch "^untar: .*full.tgz: full/sub/f.txt: " "... names the file"
clean full "full disk"
exits 0 "... and with room it extracts" untar -q "$T/full.tgz"
cmp -s "$H/data/full/sub/f.txt" "$T/fill/full/sub/f.txt"
ok $? "... the whole file"

done_testing
