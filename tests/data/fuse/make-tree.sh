#!/bin/bash
# make-tree.sh DIR SETXATTR: a small image tree with every kind of entry the
# view must reproduce: content, modes (setuid, sticky), owners, nanosecond
# times, xattrs (user.*, trusted.*, security.capability, an image's own
# trusted.overlay.*), symlinks, devices, a fifo, hardlinks, a 3 MiB file.
# SETXATTR is the test_fuse binary (its `setxattr` mode: no dependency on the attr package).
set -euo pipefail
d=$1 setx=$2
mkdir -p "$d"/etc "$d"/usr/bin "$d"/usr/lib/deep/er "$d"/tmp "$d"/dev "$d"/empty
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$d"/etc/passwd
printf 'hello\n' > "$d"/usr/bin/hello
printf '#!/bin/sh\necho tool\n' > "$d"/usr/bin/tool
head -c 3145728 /dev/urandom > "$d"/usr/lib/blob
head -c 2097152 /dev/urandom > "$d"/usr/lib/libbig.so
printf 'same bytes\n' > "$d"/usr/lib/deep/er/same1
printf 'same bytes\n' > "$d"/usr/lib/deep/er/same2
: > "$d"/usr/lib/empty-file
ln "$d"/usr/bin/tool "$d"/usr/bin/tool-hardlink
ln -s ../lib/blob "$d"/usr/bin/blob-link
ln -s /etc/passwd "$d"/etc/abs-link
mknod "$d"/dev/null c 1 3
mknod "$d"/dev/loop9 b 7 9
mkfifo "$d"/tmp/fifo
chmod 1777 "$d"/tmp
chmod 4755 "$d"/usr/bin/tool
chmod 0600 "$d"/etc/passwd
chmod 0700 "$d"/empty
chown 1000:1001 "$d"/usr/bin/hello
chown -h 5:6 "$d"/etc/abs-link
"$setx" setxattr "$d"/usr/bin/hello user.mime text/plain
"$setx" setxattr "$d"/usr/bin/hello trusted.private secret
"$setx" setxattr "$d"/usr/lib security.selinux system_u:object_r:lib_t:s0
"$setx" setxattr "$d"/usr/lib/deep trusted.overlay.opaque y
touch -h -d '2021-02-03 04:05:06.123456789' "$d"/usr/bin/hello "$d"/etc/abs-link
touch -d '1999-12-31 23:59:59.999999999' "$d"/usr/lib/deep/er/same2
touch -d '2001-01-01 00:00:00' "$d"/usr/lib/deep/er "$d"/usr
