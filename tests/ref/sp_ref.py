#!/usr/bin/python3
"""Python's sentencepiece (Debian's python3-sentencepiece) the way fastai's
SubwordTokenizer (SentencePieceTokenizer) drives it, as a reference for
tok --sp and tok --sp-train.  Documents are read one per line (as tok -l);
fastai's default pre-rules (written out again here with Python's re and
html, as tests/ref/tok_ref.py does) run first.

  sp_ref.py encode MODEL < docs.txt   pieces per document, .tok-escaped,
                                      space-separated (tok --sp's 3rd field)
  sp_ref.py train OUT N < docs.txt    setup(): the texts after the rules,
                                      a line each; N pieces (0: fastai's
                                      _get_vocab_sz rule); trained twice:
                                      OUT through a sentence iterator (the
                                      bytes tok --sp-train writes), OUT.file
                                      exactly as fastai does (--input=a text
                                      file, --model_prefix); prints N used
  sp_ref.py vocab MODEL               piece TAB score, one per id
  sp_ref.py bench MODEL RULED < docs.txt   (bench/sp.sh) writes the texts
                                      after the rules to RULED, a line each,
                                      then times EncodeAsPieces over them
                                      (best of 3): prints wall and CPU
                                      seconds
  sp_ref.py flips MODEL N             N one-bit flips in the first 3000
                                      bytes of MODEL (the pieces; the
                                      charsmap follows) and N cuts; runs
                                      tok --sp on each, prints "refused
                                      loaded bad", bad: a signal, another
                                      status, or a refusal without
                                      "tok: FILE: " (listed on stderr)
"""
import html
import io
import os
import random
import re
import sys
import tempfile
import time

import sentencepiece as spm

SPEC = "xxunk xxpad xxbos xxeos xxfld xxrep xxwrep xxup xxmaj".split()

_re_rep = re.compile(r"(\S)(\1{2,})")
_re_wrep = re.compile(r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)")
_re_spec = re.compile(r"([/#\\])")
_re_space = re.compile(" {2,}")
_re_caps = re.compile(r"(\s|^)([A-Z]+[^a-z\s]*)(?=(\s|$))")
_re_maj = re.compile(r"(\s|^)([A-Z][^A-Z\s]*)(?=(\s|$))")


def rules(t):
    for a, b in (("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "),
                 ("#36;", "$"), ("\\n", "\n"), ("quot;", "'"), ("<br />", "\n"),
                 ('\\"', '"'), ("<unk>", "xxunk"), (" @.@ ", "."),
                 (" @-@ ", "-"), ("...", " \u2026")):
        t = t.replace(a, b)
    t = html.unescape(t)
    t = _re_rep.sub(lambda m: " xxrep %d %s " % (len(m.group(2)) + 1, m.group(1)), t)
    t = _re_wrep.sub(lambda m: " xxwrep %d %s %s" % (len(m.group(2).split()) + 2,
                                                   m.group(1), m.group(3)), t)
    t = _re_spec.sub(r" \1 ", t)
    t = _re_space.sub(" ", t)
    t = _re_caps.sub(lambda m: m.group(1) + ("xxup " if len(m.group(2)) > 1 else "")
                     + m.group(2).lower(), t)
    t = _re_maj.sub(lambda m: m.group(1) + ("xxmaj " if len(m.group(2)) > 1 else "")
                    + m.group(2).lower(), t)
    return "xxbos " + t.lower().strip()


def docs():
    inp = sys.stdin.buffer.read().decode("utf-8", "replace")
    for line in inp.split("\n")[:-1] if inp.endswith("\n") else inp.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        yield line.replace("\0", "\ufffd")


def esc(t):
    return (t.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
            .replace("\r", "\\r").replace(" ", "\u2581"))


def vocab_size(path, max_vocab_sz=30000):
    # SentencePieceTokenizer._get_vocab_sz: distinct str.split() words
    # // 4, up to a multiple of 8, at least 29; the cap once passed
    seen = set()
    with open(path, "r", encoding="utf-8") as f:
        for line in f.readlines():
            seen.update(line.split())
            if len(seen) // 4 > max_vocab_sz:
                return max_vocab_sz
    res = len(seen) // 4
    res += -res % 8
    return max(res, 29)


def options(n):
    return dict(vocab_size=n, character_coverage=0.99999, model_type="unigram",
                unk_id=len(SPEC), pad_id=-1, bos_id=-1, eos_id=-1,
                minloglevel=2,
                user_defined_symbols=",".join("\u2581" + s for s in SPEC),
                hard_vocab_limit="false")


cmd = sys.argv[1]
if cmd == "encode":
    sp = spm.SentencePieceProcessor()
    sp.Load(sys.argv[2])
    out = sys.stdout
    for d in docs():
        out.write(" ".join(esc(p) for p in sp.EncodeAsPieces(rules(d))) + "\n")
elif cmd == "vocab":
    sp = spm.SentencePieceProcessor()
    sp.Load(sys.argv[2])
    for i in range(sp.GetPieceSize()):
        print("%s\t%r" % (esc(sp.IdToPiece(i)), sp.GetScore(i)))
elif cmd == "train":
    out, n = sys.argv[2], int(sys.argv[3])
    tmp = tempfile.mkdtemp()
    raw = os.path.join(tmp, "texts.out")
    with open(raw, "w", encoding="utf-8") as f:    # setup()'s file
        for d in docs():
            f.write(f"{rules(d)}\n")
    if n == 0:
        n = vocab_size(raw)
    with open(raw, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    m = io.BytesIO()
    spm.SentencePieceTrainer.Train(sentence_iterator=iter(lines),
                                   model_writer=m, **options(n))
    with open(out, "wb") as f:
        f.write(m.getvalue())
    # fastai's own call: one string, a file, a model prefix
    prefix = os.path.join(tmp, "spm")
    spm.SentencePieceTrainer.Train(" ".join(
        [f"--input={raw} --model_prefix={prefix}"] +
        [f"--{k}={v}" for k, v in options(n).items()]))
    os.replace(prefix + ".model", out + ".file")
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    print(n)
elif cmd == "bench":
    sp = spm.SentencePieceProcessor()
    sp.Load(sys.argv[2])
    texts = [rules(d) for d in docs()]
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        for t in texts:
            f.write(t.replace("\n", " ") + "\n")
    best = bcpu = None
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        for t in texts:
            sp.EncodeAsPieces(t)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        best = dt if best is None else min(best, dt)
        bcpu = dc if bcpu is None else min(bcpu, dc)
    print("%.3f %.3f" % (best, bcpu))
elif cmd == "flips":
    import subprocess
    b = open(sys.argv[2], "rb").read()
    n = int(sys.argv[3])
    rng = random.Random(1)
    mut = os.path.join(os.path.dirname(os.path.abspath(sys.argv[2])), "mut.model")
    cases = [("flip", i, 1 << rng.randrange(8))
             for i in (rng.randrange(min(3000, len(b))) for _ in range(n))]
    cases += [("cut", rng.randrange(len(b)), 0) for _ in range(n)]
    count = {"refused": 0, "loaded": 0, "bad": 0}
    for kind, i, bit in cases:
        c = bytearray(b)
        if kind == "flip":
            c[i] ^= bit
        else:
            c = c[:i]
        with open(mut, "wb") as f:
            f.write(c)
        r = subprocess.run(["tok", "-q", "--sp", mut],
                           input=b"Hello World, a TEST of the pieces.\n",
                           capture_output=True)
        if r.returncode == 0:
            count["loaded"] += 1
        elif r.returncode == 1 and r.stderr.startswith(b"tok: " + mut.encode() + b": "):
            count["refused"] += 1
        else:
            count["bad"] += 1
            sys.stderr.write("%s %d %d: exit %d %r\n" % (kind, i, bit, r.returncode, r.stderr[-200:]))
    os.unlink(mut)
    print(count["refused"], count["loaded"], count["bad"])
else:
    sys.exit("usage: sp_ref.py encode MODEL | train OUT N | vocab MODEL")
