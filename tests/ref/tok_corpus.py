#!/usr/bin/python3
"""Write N lines of movie-review-like text full of the cases the tokenizer
must get right (contractions, HTML, entities, URLs, emoticons, numbers,
abbreviations, quotes, dashes, repeats, caps, Unicode), then N/3 lines of
random characters from many scripts and symbol blocks.  Deterministic.

  tok_corpus.py N SEED > docs.txt
"""
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
words = """the a movie film was is it this that I I'm I've I'd you're we'll they'd
don't can't won't isn't ain't shan't cannot gonna gotta let's y'all ma'am
o'clock rock'n'roll James' kids' boy's John's it's It's IT'S DON'T Don't
good bad GREAT terrible TERRIBLE awesome boring Mr. Mrs. Dr. St. Jr. U.S. U.K.
L.A.P.D. e.g. i.e. vs. etc. a.k.a. Ph.D. No.1 #1 @user C++ A+ B- 10/10 7/10
1/2 5pm 5 p.m. 10:30 a.m. 3:30 1,000 $5.99 10% 1990's 80s 2nd 3rd 5km 3.5mm
20°C 98.6°F km/h 100$ US$50 €20 £5 ¥100 e-mail ten-year-old well-known
self-aware co-star re-watch --- -- — – ... …. !!! ??? ?! !? !!!! ???? ... ..
:) :-) :( ;) <3 :D :P :/ ^_^ (: XD xD =) :'( 8) 8-) (-: :-D
"quoted" 'single' ``fancy'' “curly” ‘curly’ «guillemets» (parens) [brackets]
{braces} <i>italic</i> <b>bold</b> *SPOILER* **spoiler** _under_ ~tilde~
http://www.imdb.com/title/tt0123456/ www.example.com me@example.com
https://t.co/xYz?ref=1&a=2 example.org/page.html ftp://x.y.z/a.b
café naïve résumé ÉCOLE Beyoncé Ωmega ΟΔΥΣΣΕΥΣ İstanbul Straße ﬁne
😀 🎬👍 ♥ ★★★★☆ ™ © ® ° § ¶ • · … ‼ ⁉
sooooo noooo YESSSS hmmmm zzz aaaah ahhh wow!!! really??? what?!?!
&amp; &lt; &gt; &quot; &#39; &#8217; &eacute; &hellip; &nbsp; &copy &amp
<br /> <br /><br /> \\n \\" <unk> @-@ @.@ w/o and/or TV/DVD 24/7 9/11
very very very good ha ha ha ha no no no NO NO NO bla bla bla the the the
OK OK. Ok. A. B. C. I. X-Men X-MEN Spider-Man R2-D2 C-3PO WALL-E
""".split()
seps = [" ", " ", " ", " ", " ", "  ", "\t", " \u00a0", ", ", ". ", "! ", "? ",
        "; ", ": ", " - ", "-", "/", "", "...", " (", ") ", '"', "'", " &amp; "]
for _ in range(n):
    k = rng.randint(3, 40)
    parts = []
    for i in range(k):
        w = rng.choice(words)
        r = rng.random()
        if r < 0.08:
            w = w.upper()
        elif r < 0.16:
            w = w.capitalize()
        elif r < 0.2:
            w = w + rng.choice([".", ",", "!", "?", "'s", "s", ")", ":", ";", "'", '"', "..."])
        elif r < 0.24:
            w = rng.choice(["(", '"', "'", "[", "*", "#", "$"]) + w
        parts.append(w)
        parts.append(rng.choice(seps))
    sys.stdout.write("".join(parts).rstrip("\n") + "\n")

pools = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    ".,;:!?'\"`()[]{}<>-_/#\\*&%$@^~+=|",
    "\u00e9\u00e8\u00e0\u00e7\u00f1\u00fc\u00f6\u00e4\u00df\u00c9\u00c0\u00c7\u00d1\u00dc",
    "\u0430\u0431\u0432\u0433\u0434\u0435\u0451\u0410\u0411\u0412\u0401",
    "\u03b1\u03b2\u03b3\u03b4\u0391\u0392\u03a3\u03c3\u03c2",
    "\u4e00\u4e8c\u4e09\u4e2d\u6587\u5b57\u65e5\u672c",
    "\u0627\u0628\u062a\u062b\u062c",
    "\u2026\u2018\u2019\u201c\u201d\u00ab\u00bb\u201e\u201a\u2013\u2014\u00b7\u2022\u20ac\u00a3\u00a5\u20b9\u00b0\u00b2\u00b5",
    "\U0001F600\U0001F602\U0001F44D\U0001F3AC\u2764\ufe0f\u2728",
    "\u0301\u0308\u200b\u00ad\ufeff",
    "  \t\u00a0\u2009\u3000",
    "\uff21\uff22\uff41\uff42\uff11\uff12",
    "\u24d0\u24d1\u24b6\u24b7\u0130\u0131\u0141\u0142\u0152\u0153",
]
for _ in range(n // 3):
    out = []
    for i in range(rng.randint(1, 60)):
        out.append(rng.choice(rng.choice(pools) if rng.random() < 0.5 else pools[0]))
        if rng.random() < 0.15:
            out.append(" ")
    sys.stdout.write("".join(out) + "\n")
