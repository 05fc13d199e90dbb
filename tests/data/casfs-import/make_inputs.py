#!/usr/bin/env python3
"""Builds the inputs of tests/integration/casfs-import.bats at test time
(nothing binary is committed).

  make_inputs.py hostile OUTDIR   malicious archives: OUTDIR/<case>.tar[.gz]
                                  and OUTDIR/expect.tsv: case<TAB>error fragment
  make_inputs.py image OUTDIR     an OCI layout of three layers (whiteouts,
                                  opaque dir, hardlinks, devices, setuid,
                                  xattrs) in OUTDIR/oci, its tar OUTDIR/oci.tar,
                                  a two-platform index in OUTDIR/multi
  make_inputs.py big OUTDIR MB    one gzip layer of about MB MiB (crash tests)
  make_inputs.py app OUTDIR BUSYBOX
                                  an OCI layout OUTDIR/oci of a runnable image
                                  (static BUSYBOX, users, groups) whose config
                                  sets User, Env, Entrypoint, Cmd, WorkingDir
                                  (casfs bundle tests)
"""
import gzip, hashlib, io, json, os, random, sys, tarfile

MTIME = 1700000000


def ti(name, kind=tarfile.REGTYPE, mode=0o644, **kw):
    t = tarfile.TarInfo(name)
    t.type = kind
    t.mode = mode
    t.mtime = MTIME
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def add(tf, name, data=None, **kw):
    t = ti(name, **kw)
    if data is not None:
        t.size = len(data)
        tf.addfile(t, io.BytesIO(data))
    else:
        tf.addfile(t)


def tar_bytes(build, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        build(tf)
    return buf.getvalue()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def hostile(out):
    os.makedirs(out, exist_ok=True)
    cases = {}

    def case(name, fragment, build, post=None, ext=".tar"):
        data = tar_bytes(build)
        if post:
            data = post(data)
        write(os.path.join(out, name + ext), data)
        cases[name + ext] = fragment

    case("absolute", "absolute path", lambda tf: add(tf, "/etc/passwd", b"x"))
    case("dotdot", "`..` component", lambda tf: add(tf, "a/../../etc/passwd", b"x"))
    case("dotdot-dir", "`..` component", lambda tf: add(tf, "..", kind=tarfile.DIRTYPE, mode=0o755))
    case("symlink-component", "is a symlink", lambda tf: (
        add(tf, "etc", kind=tarfile.SYMTYPE, linkname="/etc", mode=0o777),
        add(tf, "etc/passwd", b"pwned")))
    case("symlink-component-rel", "is a symlink", lambda tf: (
        add(tf, "a", kind=tarfile.DIRTYPE, mode=0o755),
        add(tf, "a/up", kind=tarfile.SYMTYPE, linkname="../..", mode=0o777),
        add(tf, "a/up/x", b"pwned")))
    case("file-component", "not a directory", lambda tf: (add(tf, "f", b"x"), add(tf, "f/g", b"y")))
    case("hardlink-outside", "`..` component", lambda tf: (
        add(tf, "x", b"x"), add(tf, "h", kind=tarfile.LNKTYPE, linkname="../../etc/shadow")))
    case("hardlink-absolute", "absolute path", lambda tf: add(tf, "h", kind=tarfile.LNKTYPE,
                                                              linkname="/etc/shadow"))
    case("hardlink-forward", "not an earlier entry", lambda tf: (
        add(tf, "h", kind=tarfile.LNKTYPE, linkname="later"), add(tf, "later", b"x")))
    case("hardlink-dir", "hardlink to directory", lambda tf: (
        add(tf, "d", kind=tarfile.DIRTYPE, mode=0o755), add(tf, "h", kind=tarfile.LNKTYPE, linkname="d")))
    case("hardlink-through-symlink", "is a symlink", lambda tf: (
        add(tf, "d", kind=tarfile.DIRTYPE, mode=0o755), add(tf, "d/f", b"x"),
        add(tf, "s", kind=tarfile.SYMTYPE, linkname="d", mode=0o777),
        add(tf, "h", kind=tarfile.LNKTYPE, linkname="s/f")))
    case("duplicate", "duplicate entry", lambda tf: (add(tf, "a", b"1"), add(tf, "a", b"2")))
    case("duplicate-dir", "duplicate entry", lambda tf: (
        add(tf, "d", kind=tarfile.DIRTYPE, mode=0o755), add(tf, "d", kind=tarfile.DIRTYPE, mode=0o700)))
    case("file-replaces-dir", "duplicate entry", lambda tf: (
        add(tf, "d/x", b"1"), add(tf, "d", b"now a file")))
    case("long-component", "component of 300 bytes", lambda tf: add(tf, "a/" + "n" * 300, b"x"))
    case("long-path", "bytes (limit 4096)", lambda tf: add(tf, "/".join(["p" * 200] * 25), b"x"))
    case("deep-path", "deeper than 1024", lambda tf: add(tf, "d/" * 1100 + "f", b"x"))
    case("long-symlink", "symlink target", lambda tf: add(tf, "s", kind=tarfile.SYMTYPE,
                                                          linkname="t" * 5000, mode=0o777))
    case("bad-whiteout", "invalid whiteout name", lambda tf: add(tf, "d/.wh..wh.plnk", b""))
    case("huge-xattr", "xattr `user.big`", lambda tf: add(tf, "f", b"x", pax_headers={
        "SCHILY.xattr.user.big": "v" * 70000}))
    # absurd-size: a PAX size of 2^62 (libarchive or the importer must refuse it)
    def absurd(tf):
        t = ti("big")
        t.size = 0
        t.pax_headers = {"size": str(1 << 62)}
        tf.addfile(t)
    case("absurd-size", "big", absurd)
    big = random.Random(1).randbytes(300000)
    def files(tf):
        for i in range(4):
            add(tf, "f%d" % i, big)
    case("truncated-tar", "f", files, post=lambda d: d[:len(d) // 2])
    case("truncated-gzip", "truncated-gzip", files, post=lambda d: gzip.compress(d)[:200000], ext=".tar.gz")
    def corrupt(d):
        z = bytearray(gzip.compress(d))
        for i in range(5000, 5100):
            z[i] ^= 0x5a
        return bytes(z)
    case("corrupt-gzip", "corrupt-gzip", files, post=corrupt, ext=".tar.gz")
    case("not-a-tar", "not-a-tar", lambda tf: None, post=lambda d: b"hello, this is not an archive\n" * 40)
    with open(os.path.join(out, "expect.tsv"), "w") as f:
        for k, v in cases.items():
            f.write("%s\t%s\n" % (k, v))


def layer1(tf):
    add(tf, "bin", kind=tarfile.DIRTYPE, mode=0o755)
    add(tf, "bin/tool", b"#!/bin/sh\necho tool\n", mode=0o4755)
    add(tf, "bin/tool-link", kind=tarfile.LNKTYPE, linkname="bin/tool")
    add(tf, "bin/sh", kind=tarfile.SYMTYPE, linkname="busybox", mode=0o777)
    add(tf, "bin/ping", b"ping", mode=0o755, pax_headers={
        "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        "SCHILY.xattr.trusted.overlay.redirect": "/etc/shadow"})
    add(tf, "dev/null", kind=tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
    add(tf, "dev/sda", kind=tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0)
    add(tf, "dev/fifo", kind=tarfile.FIFOTYPE, mode=0o600)
    add(tf, "etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
    add(tf, "etc/shadow", b"root:*:19000::::::\n", mode=0o600)
    add(tf, "opt/app/a", b"a")
    add(tf, "opt/app/b", b"b")
    add(tf, "tmp", kind=tarfile.DIRTYPE, mode=0o1777)
    add(tf, "var/lib/data", b"d" * 10000, uid=1000, gid=1000)


def layer2(tf):
    add(tf, "etc/.wh.shadow", b"")
    add(tf, "opt/app/.wh..wh..opq", b"")
    add(tf, "opt/app/c", b"c")
    add(tf, "./var//lib/./more", b"more")
    add(tf, "bin/.wh.tool-link", b"")


def layer3(tf):
    add(tf, "etc/shadow", b"root:new:19000::::::\n", mode=0o600)
    add(tf, "home/u/x", b"x")
    add(tf, "home/u/y", kind=tarfile.LNKTYPE, linkname="home/u/x")


def blob(out, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    write(os.path.join(out, "blobs", "sha256", d), data)
    return {"digest": "sha256:" + d, "size": len(data)}


def oci_layout(out, layers, platforms=(("linux", "amd64"),), name="test:latest", process=None):
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "oci-layout"), b'{"imageLayoutVersion": "1.0.0"}')
    manifests = []
    for os_, arch in platforms:
        diff_ids, descs = [], []
        for i, build in enumerate(layers):
            raw = tar_bytes(build)
            diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
            comp = [gzip.compress(raw, mtime=0), raw][i % 2]
            d = blob(out, comp)
            d["mediaType"] = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if i % 2 == 0 else "")
            descs.append(d)
        config = {"architecture": arch, "os": os_,
                  "config": process or {"Cmd": ["/bin/sh"], "Env": ["A=" + arch]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        c = blob(out, json.dumps(config).encode())
        c["mediaType"] = "application/vnd.oci.image.config.v1+json"
        m = blob(out, json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                  "config": c, "layers": descs}).encode())
        m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
        if len(platforms) > 1:
            m["platform"] = {"os": os_, "architecture": arch}
        m["annotations"] = {"org.opencontainers.image.ref.name": name}
        manifests.append(m)
        layers = layers[:-1] if len(platforms) > 1 else layers  # arches differ: arm64 has one layer less
    write(os.path.join(out, "index.json"), json.dumps({"schemaVersion": 2, "manifests": manifests}).encode())


def image(out):
    oci_layout(os.path.join(out, "oci"), [layer1, layer2, layer3])
    with tarfile.open(os.path.join(out, "oci.tar"), "w", format=tarfile.PAX_FORMAT) as tf:
        for name in sorted(os.listdir(os.path.join(out, "oci"))):
            tf.add(os.path.join(out, "oci", name), name)
    oci_layout(os.path.join(out, "multi"), [layer1, layer2, layer3],
               platforms=(("linux", "arm64"), ("linux", "amd64")))
    for i, build in enumerate([layer1, layer2, layer3]):
        write(os.path.join(out, "layer%d.tar" % (i + 1)), tar_bytes(build))


def big(out, mib):
    rng = random.Random(7)
    os.makedirs(out, exist_ok=True)
    def build(tf):
        n = 0
        i = 0
        while n < mib << 20:
            size = rng.choice([100, 5000, 70000, 1 << 20, 3 << 20])
            data = rng.randbytes(size)
            add(tf, "d%02d/f%05d" % (i % 37, i), data)
            n += size
            i += 1
    with gzip.open(os.path.join(out, "big.tar.gz"), "wb", compresslevel=1) as f:
        f.write(tar_bytes(build))


def app(out, busybox):
    with open(busybox, "rb") as f:
        bb = f.read()
    def build(tf):
        add(tf, "bin", kind=tarfile.DIRTYPE, mode=0o755)
        add(tf, "bin/busybox", bb, mode=0o755)
        for tool in ("sh", "id", "cat", "pwd", "echo", "env"):
            add(tf, "bin/" + tool, kind=tarfile.SYMTYPE, linkname="busybox", mode=0o777)
        add(tf, "usr/share/base/passwd",
            b"root:x:0:0:root:/root:/bin/sh\n# a comment\napp:x:1000:1000::/home/app:/bin/sh\n"
            b"bob:x:1001:100::/home/bob:/bin/sh\n")
        add(tf, "etc/passwd", kind=tarfile.SYMTYPE, linkname="../usr/share/base/passwd", mode=0o777)
        add(tf, "etc/group", b"root:x:0:\nusers:x:100:bob\napp:x:1000:app\nwheel:x:10:bob,app\n"
            b"audio:x:29:app\n")
        add(tf, "srv", kind=tarfile.DIRTYPE, mode=0o755)
        add(tf, "srv/hello", b"hello from the image\n")
        add(tf, "tmp", kind=tarfile.DIRTYPE, mode=0o1777)
    process = {"User": "app", "Env": ["FOO=bar baz", "LANG=C.UTF-8"], "Entrypoint": ["/bin/sh", "-c"],
               "Cmd": ["id; pwd; echo \"$FOO\"; cat hello"], "WorkingDir": "/srv"}
    oci_layout(os.path.join(out, "oci"), [build], name="app:1", process=process)


if __name__ == "__main__":
    {"hostile": lambda: hostile(sys.argv[2]), "image": lambda: image(sys.argv[2]),
     "big": lambda: big(sys.argv[2], int(sys.argv[3])),
     "app": lambda: app(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
