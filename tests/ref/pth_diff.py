# pth_diff.py A.pth B.pth: "DIFF SCALE", the largest |a-b| and |a| over
# every float32 storage (weights, BatchNorm statistics and Adam state) of
# two checkpoints of one tool (tests/mpi.t, tests/gpu/nccl.sh)
import sys, zipfile, array
def stores(p):
    z = zipfile.ZipFile(p)
    return {n.split("/")[2]: z.read(n) for n in z.namelist()
            if n.count("/") == 2 and n.split("/")[1] == "data"}
a, b = stores(sys.argv[1]), stores(sys.argv[2])
if a.keys() != b.keys() or not a:
    sys.exit("different storages")
d = s = 0.0
for k in a:
    if len(a[k]) != len(b[k]):
        sys.exit("storage %s: sizes differ" % k)
    for u, v in zip(array.array("f", a[k]), array.array("f", b[k])):
        d = max(d, abs(u - v)); s = max(s, abs(u))
print("%.3e %.3e" % (d, s))
