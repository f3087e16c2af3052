#!/usr/bin/python3
"""Write N lines of movie-review-like text full of the cases the tokenizer
must get right (contractions, HTML, entities, URLs, emoticons, numbers,
abbreviations, quotes, dashes, repeats, caps, Unicode).  Deterministic.

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
