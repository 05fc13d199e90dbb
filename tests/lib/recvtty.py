#!/usr/bin/env python3
"""A console-socket receiver for `samepage ... --console-socket SOCKET`.

Listens on a unix socket; for every connection it receives one file
descriptor (the pty master, sent with SCM_RIGHTS), records what it got in
OUTPUT.info (fd type, whether it is a tty, the slave's window size), writes
--input to the master if given, and appends everything the master produces
to OUTPUT until the slave side is closed (EIO) or --timeout passes.

    recvtty.py SOCKET OUTPUT [--input TEXT] [--connections N] [--timeout S]

Exits after N connections (default 1) were served.  Exit status 0 when every
connection delivered exactly one fd that is a tty, 1 otherwise.
"""
import argparse
import array
import fcntl
import os
import select
import socket
import stat
import struct
import sys
import termios
import threading
import time


def recv_fd(conn):
    fds = array.array("i")
    msg, anc, flags, _ = conn.recvmsg(1024, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return list(fds), msg


def relay(master, out_path, text, deadline):
    if text:
        os.write(master, text.encode())
    with open(out_path, "ab", buffering=0) as out:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if not r:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every slave fd is closed
                break
            if not data:
                break
            out.write(data)


def serve(conn, args, ok, index):
    info = args.output + ".info"
    try:
        fds, msg = recv_fd(conn)
    except OSError as e:
        with open(info, "a") as f:
            f.write("conn %d: recvmsg failed: %s\n" % (index, e))
        ok.append(False)
        return
    finally:
        conn.close()
    with open(info, "a") as f:
        if len(fds) != 1:
            f.write("conn %d: got %d fds (want 1)\n" % (index, len(fds)))
            ok.append(False)
            for fd in fds:
                os.close(fd)
            return
        fd = fds[0]
        st = os.fstat(fd)
        size = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        f.write(
            "conn %d: fd chr=%s isatty=%s rows=%d cols=%d name=%r\n"
            % (index, stat.S_ISCHR(st.st_mode), os.isatty(fd), size[0], size[1], msg)
        )
    ok.append(os.isatty(fd))
    try:
        relay(fd, args.output, args.input, time.monotonic() + args.timeout)
    finally:
        os.close(fd)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("output")
    p.add_argument("--input", default="")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()

    open(args.output, "wb").close()
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    srv.bind(args.socket + ".tmp")
    srv.listen(4)
    # Appear only when ready to accept, so callers can wait for the path.
    os.rename(args.socket + ".tmp", args.socket)
    srv.settimeout(args.timeout)
    ok, threads = [], []
    try:
        for i in range(args.connections):
            conn, _ = srv.accept()
            conn.settimeout(None)
            t = threading.Thread(target=serve, args=(conn, args, ok, i))
            t.start()
            threads.append(t)
    except socket.timeout:
        with open(args.output + ".info", "a") as f:
            f.write("timed out waiting for a connection\n")
        ok.append(False)
    for t in threads:
        t.join()
    srv.close()
    os.unlink(args.socket)
    return 0 if ok and all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
