#!/usr/bin/python3
"""Build the archives tests/untar.t feeds to untar: good ones in every
format, and hostile ones.  usage: untar_archives.py OUTDIR OUTSIDE

OUTSIDE is an absolute directory the hostile archives try to write into
(the test checks it stays empty)."""
import io
import os
import sys
import tarfile
import zipfile

out, outside = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def entry(name, data=None, kind=tarfile.REGTYPE, link="", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.mtime = kind, link, mode, 1700000000
    if kind == tarfile.DIRTYPE:
        ti.mode = 0o755
    if data is not None:
        ti.size = len(data)
        return ti, io.BytesIO(data)
    return ti, None


def tar(name, entries, mode="w"):
    with tarfile.open(os.path.join(out, name), mode,
                      format=tarfile.GNU_FORMAT) as t:
        for ti, f in entries:
            t.addfile(ti, f)


def good():
    return [entry("good", kind=tarfile.DIRTYPE),
            entry("good/a.txt", b"alpha\n"),
            entry("good/sub", kind=tarfile.DIRTYPE),
            entry("good/sub/b.txt", b"beta\n"),
            entry("good/run.sh", b"#!/bin/sh\n", mode=0o4755),
            entry("good/link", kind=tarfile.SYMTYPE, link="a.txt"),
            entry("good/sub/up", kind=tarfile.SYMTYPE, link="../a.txt"),
            entry("good/hard", kind=tarfile.LNKTYPE, link="good/a.txt")]


tar("good.tar.gz", good(), "w:gz")
tar("good.tar", good())
tar("bz.tar.bz2", [entry("bz/c.txt", b"bzip2\n")], "w:bz2")
tar("xz.tar.xz", [entry("xz/c.txt", b"xz\n")], "w:xz")
tar("multi.tar", [entry("a.txt", b"one\n"), entry("b.txt", b"two\n")])
tar("dotslash.tgz", [entry("./", kind=tarfile.DIRTYPE),
                     entry("./top", kind=tarfile.DIRTYPE),
                     entry("./top/f.txt", b"dot\n")], "w:gz")
# what `npm pack` makes: everything under package/
tar("pkg-1.0.0.tgz", [entry("package/package.json", b'{"name":"pkg"}\n'),
                      entry("package/data/x.txt", b"x\n")], "w:gz")
with zipfile.ZipFile(os.path.join(out, "zipped.zip"), "w",
                     zipfile.ZIP_DEFLATED) as z:
    z.writestr("zipped/c.txt", "zip\n")
    z.writestr("zipped/d/e.txt", "deep\n")
with zipfile.ZipFile(os.path.join(out, "utf8.zip"), "w") as z:
    z.writestr("utf8/na\u00efve \u2615.txt", "utf8\n")

# hostile
tar("dotdot.tar", [entry("ok.txt", b"ok\n"), entry("../escape.txt", b"x\n")])
tar("abs.tar", [entry(outside + "/abs.txt", b"x\n")])
tar("symrel.tar", [entry("ln", kind=tarfile.SYMTYPE, link="../.."),
                   entry("ln/pwned.txt", b"x\n")])
tar("symabs.tar", [entry("ln", kind=tarfile.SYMTYPE, link=outside),
                   entry("ln/pwned.txt", b"x\n")])
# a link that stays inside, then a file written through it
tar("through.tar", [entry("d", kind=tarfile.DIRTYPE),
                    entry("s", kind=tarfile.SYMTYPE, link="d"),
                    entry("s/x.txt", b"x\n")])
# each link stays inside when made; together a leads to the parent
tar("symchain.tar", [entry("a", kind=tarfile.SYMTYPE, link="b/.."),
                     entry("b", kind=tarfile.SYMTYPE, link=".")])
tar("hardout.tar", [entry("h", kind=tarfile.LNKTYPE, link="../outside.txt")])
tar("hardabs.tar", [entry("h", kind=tarfile.LNKTYPE,
                          link=outside + "/target.txt")])
dev = tarfile.TarInfo("null")
dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
tar("dev.tar", [(dev, None)])
tar("fifo.tar", [entry("pipe", kind=tarfile.FIFOTYPE)])
zeros = bytes(32 << 20)
tar("bomb.tgz", [entry("bomb/zeros", zeros)], "w:gz")
with zipfile.ZipFile(os.path.join(out, "bomb.zip"), "w",
                     zipfile.ZIP_DEFLATED) as z:
    z.writestr("zeros", zeros)
# a 1.5 MB archive that does not compress: for the resume tests
tar("big.tgz", [entry("big/random.bin", os.urandom(1500000))], "w:gz")
with open(os.path.join(out, "good.tar.gz"), "rb") as f:
    whole = f.read()
with open(os.path.join(out, "cut.tar.gz"), "wb") as f:
    f.write(whole[:len(whole) // 2])
with open(os.path.join(out, "text.tgz"), "w") as f:
    f.write("this is not an archive\n" * 100)
