#!/usr/bin/python3
"""An independent reference for tok: fastai's default rules written with
Python's re and html modules, and spaCy's blank("en") tokenizer algorithm
(whitespace split, special cases, affix loop, URL, infixes, merge pass) in
plain Python over the spec's data file, also with Python's re.  Reads one
document per line (as tok -l) and prints the .tok token field per line.

  tok_ref.py spacy_en_tokenizer.json < docs.txt > tokens.txt
"""
import html
import json
import re
import sys

d = json.load(open(sys.argv[1], encoding="utf-8"))

# ---- fastai rules (spec §1.3) ----
_re_rep = re.compile(r"(\S)(\1{2,})")
_re_wrep = re.compile(r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)")
_re_spec = re.compile(r"([/#\\])")
_re_space = re.compile(" {2,}")
_re_caps = re.compile(r"(\s|^)([A-Z]+[^a-z\s]*)(?=(\s|$))")
_re_maj = re.compile(r"(\s|^)([A-Z][^A-Z\s]*)(?=(\s|$))")


def fix_html(x):
    for a, b in (("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "),
                 ("#36;", "$"), ("\\n", "\n"), ("quot;", "'"), ("<br />", "\n"),
                 ('\\"', '"'), ("<unk>", "xxunk"), (" @.@ ", "."),
                 (" @-@ ", "-"), ("...", " \u2026")):
        x = x.replace(a, b)
    return html.unescape(x)


def rules(t):
    t = fix_html(t)
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


# ---- spaCy (spec §1.4) ----
pre = re.compile("|".join("^" + p for p in d["prefix_alternatives_anchored_at_start"] if p.strip()))
suf = re.compile("|".join(p + "$" for p in d["suffix_alternatives_anchored_at_end"] if p.strip()))
inf = re.compile("|".join(p for p in d["infix_alternatives"] if p.strip()))
url = re.compile("(?u)" + d["url_pattern_fullmatch"])
specials = dict(d["exceptions"])
for w in d["fastai_special_cases"]:
    specials[w] = [w]


def find_prefix(s):
    m = pre.search(s)
    return m.end() - m.start() if m else 0


def find_suffix(s):
    m = suf.search(s)
    return m.end() - m.start() if m else 0


def tokenize_span(s, sp):
    if sp and s in specials:
        return list(specials[s])
    prefixes, suffixes = [], []
    last = -1
    while s and len(s) != last:
        if sp and s in specials:
            break
        last = len(s)
        p = find_prefix(s)
        if p and sp and s[p:] and s[p:] in specials:
            prefixes.append(s[:p])
            s = s[p:]
            break
        q = find_suffix(s[p:])
        if q and sp and s[:-q] and s[:-q] in specials:
            suffixes.append(s[-q:])
            s = s[:-q]
            break
        if p and q and p + q <= len(s):
            prefixes.append(s[:p]); suffixes.append(s[-q:]); s = s[p:-q]
        elif p:
            prefixes.append(s[:p]); s = s[p:]
        elif q:
            suffixes.append(s[-q:]); s = s[:-q]
    out = list(prefixes)
    if s:
        if sp and s in specials:
            out += specials[s]
        elif url.match(s):
            out.append(s)
        else:
            start = 0
            for m in inf.finditer(s):
                if m.start() == 0:
                    continue
                if m.start() != start:
                    out.append(s[start:m.start()])
                if m.start() != m.end():
                    out.append(s[m.start():m.end()])
                start = m.end()
            if s[start:]:
                out.append(s[start:])
    return out + suffixes[::-1]


def split(text, sp):
    """tokens and their trailing-space flags"""
    toks, spc = [], []
    if not text:
        return toks, spc
    start, in_ws = 0, text[0].isspace()
    for i, c in enumerate(text):
        if c.isspace() != in_ws:
            if start < i:
                t = tokenize_span(text[start:i], sp)
                toks += t; spc += [False] * len(t)
            if c == " ":
                spc[-1] = True
                start = i + 1
            else:
                start = i
            in_ws = not in_ws
    if start < len(text):
        t = tokenize_span(text[start:], sp)
        toks += t; spc += [False] * len(t)
        spc[-1] = text[-1] == " " and not in_ws
    return toks, spc


patterns = {}
for k in d["matcher_pass_keys"]:
    pt = split(k, False)[0]
    patterns.setdefault(pt[0], []).append((k, pt))


def spacy(text):
    toks, spc = split(text, True)
    matches = []
    for i in range(len(toks)):
        for k, pt in patterns.get(toks[i], ()):
            if toks[i:i + len(pt)] == pt:
                matches.append((i, i + len(pt), k))
    if not matches:
        return toks
    matches.sort(key=lambda m: (-(m[1] - m[0]), m[0]))
    seen, kept = set(), []
    for m in matches:
        if m[0] not in seen and m[1] - 1 not in seen:
            kept.append(m)
        seen.update(range(m[0], m[1]))
    kept.sort()
    out, i, j = [], 0, 0
    while i < len(toks):
        if j < len(kept) and kept[j][0] == i:
            a, b, k = kept[j]
            text = "".join(toks[x] + (" " if spc[x] and x < b - 1 else "") for x in range(a, b))
            out += specials[text] if text in specials else toks[a:b]
            i, j = b, j + 1
        else:
            out.append(toks[i]); i += 1
    return out


def esc(t):
    return (t.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
            .replace("\r", "\\r").replace(" ", "\u2581"))


inp = sys.stdin.buffer.read().decode("utf-8", "replace")
for line in inp.split("\n")[:-1] if inp.endswith("\n") else inp.split("\n"):
    if line.endswith("\r"):
        line = line[:-1]
    line = line.replace("\0", "\ufffd")
    sys.stdout.write(" ".join(esc(t) for t in spacy(rules(line))) + "\n")
