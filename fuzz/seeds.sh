#!/bin/sh
# seeds.sh BIN OUT: seed corpora for the fuzz harnesses, OUT/HARNESS/*,
# made by the tools in BIN from a small generated corpus (and by Debian's
# python3 for the formats only Python writes: pickles, pre-1.6 .pth,
# zip), plus the tokenizer test vectors.  Nothing third-party is needed.
# Harnesses whose byte 0 picks a mode get each seed once per mode.
set -eu
BIN=$(cd "$1" && pwd)
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-seeds.XXXXXX")
trap 'rm -rf "$T"' EXIT
for h in tok docsrc tokfile vocab counts ids lmb pickle pth extract; do
	mkdir -p "$OUT/$h"
done
# put HARNESS NAME MODE-BYTES... < data: one seed per mode byte (octal)
put() {
	h=$1 name=$2; shift 2
	cat >"$T/put"
	if [ $# -eq 0 ]; then cp "$T/put" "$OUT/$h/$name"; return; fi
	for m; do
		{ printf "\\$m"; cat "$T/put"; } >"$OUT/$h/$name-$m"
	done
}

# a corpus: fastai's from_folder layout, words that exercise the rules
cd "$T"
words="the a movie film plot was great awful good bad i liked hated it
and but so very really actors story THE Movie don't isn't #1 <br /> &amp;
héllo naïve 東京 café !!!! ... www.fast.ai co-op 3.14 :-) (yes) \"quoted\""
mkdir -p d/train/pos d/train/neg d/valid/pos d/valid/neg
i=0
for s in train valid; do for l in pos neg; do for k in 1 2 3 4 5 6; do
	i=$((i + 1))
	echo "$words" | tr ' ' '\n' | awk -v s=$i 'BEGIN { srand(s) }
	  { w[NR] = $0 }
	  END { for (j = 0; j < 30; j++)
	          printf "%s%s", w[int(rand() * NR) + 1], j % 7 == 6 ? ". " : " "
	        print "The END!" }' >d/$s/$l/$k.txt
done; done; done
"$BIN/tok" -q -j1 -o all.tok d
"$BIN/numz" -q -f 1 -w vocab -o all.ids all.tok
"$BIN/lmbatch" -q -b 4 -l 8 -o lm.lmb --valid-out va.lmb all.ids
"$BIN/lmbatch" -q -b 3 -l 5 -e 2 -o both.lmb all.ids
"$BIN/awdtrain" -q -v vocab --emb 2 --hid 3 --layers 2 -j 1 -o lm.pth \
	lm.lmb va.lmb >/dev/null
"$BIN/encsave" -q -o enc.pth lm.pth
"$BIN/clastrain" -q -v vocab -e enc.pth -b 4 -j 1 -o clas.pth all.ids \
	>/dev/null

# tok: every document and every test vector's input, rules all / none
for f in d/*/*/*.txt; do
	put tok "$(echo "$f" | tr / _)" 377001 000000 <"$f"
done
jq -r '.input // .text // empty' "$HERE/../tests/data/tokenizer_vectors.jsonl" |
	head -300 | awk '{ f = sprintf("'"$T"'/vec%03d", NR); print > f; close(f) }'
for f in vec*; do put tok "$f" 377001 <"$f"; done
printf 'bad \377\376 utf8 \300\200 \355\240\200 \0 nul\r\n' | put tok badutf8 377017

# docsrc: CSV (default columns; text,title + label + is_valid), plain
{ echo 'text,label'; echo '"a ""quoted"" text, with comma",pos'
  echo 'plain text,neg'; echo '"multi'; echo 'line",pos'; echo ',NA'; } |
	put docsrc csv 000
{ printf '\357\273\277label,text,title,is_valid\r\n'
  printf 'pos,"the movie",A title,True\r\nneg,bad,,false\r\n\r\nnan,x\r\n'; } |
	put docsrc csv2 001
put docsrc plain 002 003 <d/train/pos/1.txt
printf 'one\r\ntwo\rthree\n\nfour' | put docsrc lines 002 003
# folders: "path TAB content" lines (fuzz/docsrc.c), the corpus above
# plus hidden entries, other extensions, links (one dangling, one a loop)
{ for f in d/*/*/*.txt; do printf '%s\t%s\n' "${f#d/}" "$(tr '\n' ' ' <"$f")"; done
  printf 'A.TXT\troot file\n.hidden/x.txt\tno\ntrain/pos/n.md\tno\n'
  printf 'train/lnk\t@pos\ntrain/pos/dang.txt\t@nowhere\nloop/up\t@.\n'
  printf 'test/neg/z.TxT\tcase\n'; } | put docsrc folder 004 011

# .tok, vocab (text and pickled itos)
put tokfile all.tok <all.tok
printf 'train\tl\\tab\txxbos a\\nb c\\\\d e\342\226\201f\n\t\t\nx\n' |
	put tokfile escapes
put vocab vocab <vocab
"$PY" -c '
import pickle, sys
itos = [l.rstrip("\n") for l in open("vocab")]
sys.stdout.buffer.write(pickle.dumps(itos, protocol=2))' >itos.pkl
put vocab itos.pkl <itos.pkl
"$BIN/numz" -q -c all.counts all.tok
put counts all.counts <all.counts
printf '#numz counts 1\nxxbos\t3\na\\tb\t18446744073709551615\n#end 18446744073709551618 2' |
	put counts edges

# streams: raw (mode 000) and described for the framer (mode 001)
frame() {       # the framer's description of stream $1 (frame.h)
	"$PY" -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
ver, kind, vn, pl, vx, fl = struct.unpack_from("<HHIIQQ", b, 4)
params = b[32:32 + pl]
out = struct.pack("<BBIQH", ver & 255, kind & 255, vn, vx, len(params)) + params
o = 32 + pl + 8
while b[o] != ord("E"):
    n, = struct.unpack_from("<I", b, o + 1)
    out += struct.pack("<BH", b[o], n) + b[o + 5:o + 5 + n]
    o += 5 + n + 4
sys.stdout.buffer.write(out)' "$1"
}
put ids all.ids 000 <all.ids
frame all.ids | put ids all.ids.frame 001
for f in lm.lmb va.lmb both.lmb; do
	put lmb $f 000 <$f
	frame $f | put lmb $f.frame 001
done

# checkpoints: ours (zip), and pre-1.6 legacy files made by torch
for f in lm.pth enc.pth clas.pth; do put pth $f 000 001 <$f; done
"$PY" -c '
import collections, torch
sd = collections.OrderedDict()
sd["0.encoder.weight"] = torch.randn(5, 3)
sd["0.encoder_dp.emb.weight"] = sd["0.encoder.weight"]
sd["1.decoder.bias"] = torch.zeros(5)
sd["n"] = torch.tensor(3)
torch.save(sd, "legacy.pth", _use_new_zipfile_serialization=False)
torch.save({"model": sd, "opt": {"hypers": [{"lr": 0.1}]}},
           "legacy2.pth", _use_new_zipfile_serialization=False)
' 2>/dev/null
for f in legacy.pth legacy2.pth; do put pth $f 000 <$f; done

# pickles: the checkpoints' data.pkl and plain values
"$PY" -c '
import pickle, zipfile, collections
for f in ["lm.pth", "clas.pth"]:
    z = zipfile.ZipFile(f)
    for n in z.namelist():
        if n.endswith("data.pkl"):
            open("pk-" + f, "wb").write(z.read(n))
vals = {"itos": open("vocab").read().split("\n"),
        "mixed": [None, True, False, 0, -1, 255, 65536, -2**31, 2**63, 2**70,
                  -2**100, 1.5, float("inf"), "s", "\u00e9\u6771", b"by",
                  (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), {}, {"k": [1, {}]}],
        "odict": collections.OrderedDict([("a", 1), ("b", [2, 3])]),
        "shared": [[1]] * 3}
for k, v in vals.items():
    for p in (2, 3, 4):
        open("pk-%s-%d" % (k, p), "wb").write(pickle.dumps(v, protocol=p))
'
for f in pk-*; do put pickle $f <$f; done
put pickle legacy.pth <legacy.pth

# archives: tar (plain, gz, bz2, xz) and zip, with a link inside
mkdir -p arch/top/sub && echo hello >arch/top/a.txt &&
	echo world >arch/top/sub/b.txt && ln -s a.txt arch/top/link
tar -C arch -cf a.tar top && put extract a.tar <a.tar
tar -C arch -czf a.tgz top && put extract a.tgz <a.tgz
tar -C arch -cjf a.tbz top && put extract a.tbz <a.tbz
tar -C arch -cJf a.txz top && put extract a.txz <a.txz
"$PY" -c '
import zipfile
with zipfile.ZipFile("a.zip", "w") as z:
    z.writestr("top/a.txt", "hello\n")
    z.writestr("top/sub/b.txt", "world\n", compress_type=zipfile.ZIP_DEFLATED)
'
put extract a.zip <a.zip
n=0
for h in "$OUT"/*; do n=$((n + $(ls "$h" | wc -l))); done
echo "seeds.sh: $n seeds in $OUT"
