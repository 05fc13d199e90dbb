#!/usr/bin/env python3
"""Test helper: reads a casfs store independently of the C code (docs/store-format.md).

  casfs_tree.py dump STORE REF|DIGEST   one line per entry, depth-first in name order:
      type mode uid gid mtime size sha256|- path target|- [link_id/nlink] [xattrs]
  casfs_tree.py verify STORE           every object and tree re-hashes to its name,
      every tree decodes, every ref names a stored tree whose objects all exist
"""
import hashlib, os, stat, struct, sys


def decode(buf):
    if buf[:8] != b"CASFSTR1":
        raise ValueError("bad magic")
    off = 8
    (n,) = struct.unpack_from("<I", buf, off); off += 4
    out = []
    for _ in range(n):
        (nl,) = struct.unpack_from("<H", buf, off); off += 2
        name = buf[off:off + nl].decode("utf-8", "surrogateescape"); off += nl
        mode, uid, gid, mt, mtn, size, rdev, link, nlink = struct.unpack_from("<IIIqIQQQI", buf, off)
        off += struct.calcsize("<IIIqIQQQI")
        dig = buf[off:off + 32].hex(); off += 32
        (tl,) = struct.unpack_from("<H", buf, off); off += 2
        target = buf[off:off + tl].decode("utf-8", "surrogateescape"); off += tl
        (nx,) = struct.unpack_from("<H", buf, off); off += 2
        xattrs = []
        for _ in range(nx):
            (xl,) = struct.unpack_from("<H", buf, off); off += 2
            xn = buf[off:off + xl].decode(); off += xl
            (vl,) = struct.unpack_from("<I", buf, off); off += 4
            xattrs.append((xn, buf[off:off + vl])); off += vl
        out.append(dict(name=name, mode=mode, uid=uid, gid=gid, mtime=mt, size=size, rdev=rdev,
                        link=link, nlink=nlink, digest=dig, target=target, xattrs=xattrs))
    if off != len(buf):
        raise ValueError("trailing bytes")
    return out


def rel(hexd):
    return os.path.join(hexd[:2], hexd[2:])


def read_tree(store, hexd):
    with open(os.path.join(store, "trees", rel(hexd)), "rb") as f:
        buf = f.read()
    if hashlib.sha256(buf).hexdigest() != hexd:
        raise ValueError("tree %s does not match its digest" % hexd)
    return decode(buf)


def resolve(store, name):
    h = name[7:] if name.startswith("sha256:") else name
    if len(h) == 64 and os.path.exists(os.path.join(store, "trees", rel(h))):
        return h
    esc = "".join("%%%02X" % ord(c) if c in "/%" or (i == 0 and c == ".") else c for i, c in enumerate(name))
    with open(os.path.join(store, "refs", esc)) as f:
        return f.readline().strip()  # line 2, if any, names the image record


def type_char(mode):
    for test, c in ((stat.S_ISDIR, "d"), (stat.S_ISREG, "f"), (stat.S_ISLNK, "l"), (stat.S_ISCHR, "c"),
                    (stat.S_ISBLK, "b"), (stat.S_ISFIFO, "p"), (stat.S_ISSOCK, "s")):
        if test(mode):
            return c
    return "?"


def dump(store, hexd, prefix=""):
    for e in read_tree(store, hexd):
        path = prefix + e["name"]
        t = type_char(e["mode"])
        extra = []
        if e["link"]:
            extra.append("link=%d/%d" % (e["link"], e["nlink"]))
        if t in "cb":
            extra.append("rdev=%d,%d" % (os.major(e["rdev"]), os.minor(e["rdev"])))
        for xn, xv in e["xattrs"]:
            extra.append("xattr:%s=%s" % (xn, xv.hex()))
        print("\t".join([t, "%04o" % stat.S_IMODE(e["mode"]), str(e["uid"]), str(e["gid"]), str(e["mtime"]),
                         str(e["size"]), e["digest"] if t == "f" else "-", path, e["target"] or "-"] + extra))
        if t == "d":
            dump(store, e["digest"], path + "/")


def verify(store):
    bad = 0
    for kind in ("objects", "trees"):
        top = os.path.join(store, kind)
        for sub in os.listdir(top):
            for name in os.listdir(os.path.join(top, sub)):
                with open(os.path.join(top, sub, name), "rb") as f:
                    buf = f.read()
                if hashlib.sha256(buf).hexdigest() != sub + name:
                    print("BAD %s %s%s" % (kind, sub, name)); bad += 1
                elif kind == "trees":
                    decode(buf)
    for ref in os.listdir(os.path.join(store, "refs")):
        if ".tmp." in ref or ref.startswith("."):
            continue
        with open(os.path.join(store, "refs", ref)) as f:
            stack = [f.readline().strip()]
        while stack:
            for e in read_tree(store, stack.pop()):
                if stat.S_ISDIR(e["mode"]):
                    stack.append(e["digest"])
                elif stat.S_ISREG(e["mode"]) and not os.path.exists(os.path.join(store, "objects", rel(e["digest"]))):
                    print("MISSING object %s (ref %s)" % (e["digest"], ref)); bad += 1
    print("verified: %d bad" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2], resolve(sys.argv[2], sys.argv[3]))
    elif sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2]))
    else:
        sys.exit(__doc__)
