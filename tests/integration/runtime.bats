#!/usr/bin/env bats
# samepage as an OCI runtime: real containers from a busybox-static bundle,
# every effect checked from inside the container (or from the host where
# that is where the effect is).  Runs as root; each test deletes its
# containers and the teardown fails the test if anything (state, cgroup,
# mount, process) is left behind.

load ../lib/runtime-bundle

setup_file() { rt_setup_file; }
teardown_file() { rt_teardown_file; }
setup() { rt_setup; }
teardown() { rt_teardown; }

# Runs a container in the foreground: crun ID BUNDLE [run options]
crun() {
  local id=$1 b=$2
  shift 2
  run sp run "$@" --bundle "$b" "$id"
  # Line 1 is this header, so the container's first line is line 2.
  output="# status=$status output:"$'\n'"$output"
  echo "$output"
}

# Starts a long-running container (sleep) detached: cdetach ID BUNDLE
cdetach() {
  rt_detach "$1" "$2"
  echo "$output"
  [ "$status" -eq 0 ]
  rt_wait_status "$1" 5 running
}

host_ns() { readlink "/proc/self/ns/$1"; }

# ---------------------------------------------------------------- namespaces

@test "namespaces: all eight are new (mount pid net ipc uts user cgroup time)" {
  b=$(rt_bundle all)
  rt_ns "$b" user
  rt_ns "$b" time
  rt_cfg "$b" '.linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}]
             | .linux.gidMappings = [{"containerID":0,"hostID":100000,"size":65536}]'
  rt_args "$b" sh -c 'for n in mnt pid net ipc uts user cgroup time; do echo "$n $(readlink /proc/self/ns/$n)"; done'
  crun "$(rt_id all)" "$b"
  [ "$status" -eq 0 ]
  for n in mnt pid net ipc uts user cgroup time; do
    line=$(grep "^$n " <<<"$output")
    [ -n "$line" ]
    [ "${line#* }" != "$(host_ns $n)" ] || { echo "namespace $n is the host's"; false; }
  done
}

@test "namespaces: pid namespace, the process is pid 1 and sees only its own processes" {
  b=$(rt_bundle pid)
  rt_args "$b" sh -c 'echo "self=$$"; ls -d /proc/[0-9]* | wc -l'
  crun "$(rt_id pid)" "$b"
  [ "$status" -eq 0 ]
  grep -qx 'self=1' <<<"$output"
  # sh and ls (maybe wc): a handful, never the host's hundreds.
  n=$(tail -n1 <<<"$output")
  [ "$n" -le 4 ]
}

@test "namespaces: network namespace has only loopback" {
  b=$(rt_bundle net)
  rt_args "$b" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'
  crun "$(rt_id net)" "$b"
  [ "$status" -eq 0 ]
  [ "$(tail -n +2 <<<"$output")" = lo ]
}

@test "namespaces: user namespace with uid/gid mappings" {
  b=$(rt_bundle user)
  rt_ns "$b" user
  rt_cfg "$b" '.linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}]
             | .linux.gidMappings = [{"containerID":0,"hostID":200000,"size":1000}]'
  rt_out "$b"
  rt_args "$b" sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /out/made-by-root; mkdir /out/d'
  crun "$(rt_id user)" "$b"
  [ "$status" -eq 0 ]
  [ "$(sed -n 2p <<<"$output" | tr -s ' ')" = " 0 100000 65536" ]
  [ "$(sed -n 3p <<<"$output" | tr -s ' ')" = " 0 200000 1000" ]
  [ "$(sed -n 4p <<<"$output")" = 0 ]
  # Container root is host uid 100000 / gid 200000.
  [ "$(stat -c %u:%g "$b/out/made-by-root")" = 100000:200000 ]
}

@test "namespaces: cgroup namespace hides the container's cgroup path; without it the path shows" {
  b=$(rt_bundle cgns)
  rt_args "$b" cat /proc/self/cgroup
  crun "$(rt_id cgns)" "$b"
  [ "$status" -eq 0 ]
  # Every hierarchy's path is the namespace root.
  ! tail -n +2 <<<"$output" | grep -v ':/$'
  ! grep -q "$RT_PREFIX" <<<"$output"

  b2=$(rt_bundle nocgns)
  rt_cfg "$b2" '.linux.namespaces |= map(select(.type != "cgroup"))'
  rt_args "$b2" cat /proc/self/cgroup
  crun "$(rt_id nocgns)" "$b2"
  [ "$status" -eq 0 ]
  grep -q "memory:/samepage/$(rt_id nocgns)\$" <<<"$output"
}

@test "namespaces: time namespace with monotonic and boottime offsets" {
  [ -e /proc/self/ns/time ] || skip "kernel without time namespaces"
  b=$(rt_bundle time)
  rt_ns "$b" time
  rt_cfg "$b" '.linux.timeOffsets = {"monotonic": {"secs": 3600, "nanosecs": 0}, "boottime": {"secs": 864000, "nanosecs": 500}}'
  rt_args "$b" sh -c 'cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime'
  host_up=$(cut -d. -f1 /proc/uptime)
  crun "$(rt_id time)" "$b"
  [ "$status" -eq 0 ]
  grep -Eq '^monotonic +3600 +0$' <<<"$output"
  grep -Eq '^boottime +864000 +500$' <<<"$output"
  up=$(tail -n1 <<<"$output")
  # /proc/uptime is boottime: the host's plus ten days.
  [ "$up" -ge $((host_up + 864000)) ]
  [ "$up" -le $((host_up + 864000 + 30)) ]
}

@test "namespaces: joining existing net, uts and ipc namespaces by path" {
  rt_holder --net --uts --ipc
  pid=$RT_HOLDER_PID
  nsenter -t "$pid" --uts hostname joined-host
  b=$(rt_bundle join)
  rt_ns "$b" network "/proc/$pid/ns/net"
  rt_ns "$b" uts "/proc/$pid/ns/uts"
  rt_ns "$b" ipc "/proc/$pid/ns/ipc"
  rt_cfg "$b" 'del(.hostname)'
  rt_args "$b" sh -c 'hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc'
  crun "$(rt_id join)" "$b"
  [ "$status" -eq 0 ]
  [ "$(sed -n 2p <<<"$output")" = joined-host ]
  [ "$(sed -n 3p <<<"$output")" = "$(readlink /proc/$pid/ns/net)" ]
  [ "$(sed -n 4p <<<"$output")" = "$(readlink /proc/$pid/ns/ipc)" ]
}

@test "namespaces: joining another container's pid namespace by path" {
  b1=$(rt_bundle first)
  rt_args "$b1" sleep 600
  id1=$(rt_id first)
  cdetach "$id1" "$b1"
  pid1=$(rt_pid "$id1")
  b2=$(rt_bundle second)
  rt_ns "$b2" pid "/proc/$pid1/ns/pid"
  rt_args "$b2" sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; echo "self=$$"'
  crun "$(rt_id second)" "$b2"
  [ "$status" -eq 0 ]
  grep -qx 'sleep 600 ' <<<"$output"
  ! grep -qx 'self=1' <<<"$output"
  sp delete --force "$id1"
}

@test "namespaces: joining an existing user namespace by path" {
  rt_holder --user
  pid=$RT_HOLDER_PID
  echo "0 300000 65536" >"/proc/$pid/uid_map"
  echo "0 300000 65536" >"/proc/$pid/gid_map"
  b=$(rt_bundle joinuser)
  rt_ns "$b" user "/proc/$pid/ns/user"
  rt_args "$b" sh -c 'cat /proc/self/uid_map; readlink /proc/self/ns/user'
  crun "$(rt_id joinuser)" "$b"
  [ "$status" -eq 0 ]
  [ "$(sed -n 2p <<<"$output" | tr -s ' ')" = " 0 300000 65536" ]
  [ "$(sed -n 3p <<<"$output")" = "$(readlink /proc/$pid/ns/user)" ]
}

# -------------------------------------------------------------------- mounts

@test "mounts: bind ro of a host directory is readable and not writable" {
  b=$(rt_bundle bindro)
  mkdir -p "$b/src"
  echo host-data >"$b/src/file"
  rt_bind "$b" "$b/src" /data bind ro
  rt_args "$b" sh -c 'cat /data/file; if touch /data/new 2>/dev/null; then echo WRITABLE; fi; grep " /data " /proc/self/mountinfo'
  crun "$(rt_id bindro)" "$b"
  [ "$status" -eq 0 ]
  grep -qx host-data <<<"$output"
  ! grep -q WRITABLE <<<"$output"
  [ ! -e "$b/src/new" ]
  grep -q ' /data ro[, ]' <<<"$output"
}

@test "mounts: idmapped bind mount (mounts[].uidMappings): a file of uid 1000 shows as root" {
  b=$(rt_bundle idmap)
  mkdir -p "$b/src"
  echo owned >"$b/src/file"
  chown -R 1000:1000 "$b/src"
  rt_cfg "$b" '.mounts += [{"destination": "/data", "type": "bind", "source": $src,
      "options": ["bind", "idmap"],
      "uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
      "gidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}]}]' --arg src "$b/src"
  rt_args "$b" sh -c 'ls -ln /data/file; grep " /data " /proc/self/mountinfo'
  crun "$(rt_id idmap)" "$b"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(awk '/\/data\/file$/ {print $3 ":" $4}' <<<"$output")" = 0:0 ] || { echo "$output"; false; }
  grep -q idmapped <<<"$output"
  # On the host the file keeps its owner.
  [ "$(stat -c %u:%g "$b/src/file")" = 1000:1000 ]
}

@test "mounts: a bind of a single file, and a relative bind source taken from the bundle" {
  b=$(rt_bundle bindfile)
  echo one-file >"$b/hostfile"
  rt_cfg "$b" '.mounts += [{"destination":"/etc/injected","type":"bind","source":"hostfile","options":["bind","ro"]}]'
  rt_args "$b" cat /etc/injected
  crun "$(rt_id bindfile)" "$b"
  [ "$status" -eq 0 ]
  grep -qx one-file <<<"$output"
}

@test "mounts: rbind carries submounts, bind does not; rro makes submounts read-only" {
  b=$(rt_bundle rbind)
  mkdir -p "$b/src/sub"
  mount -t tmpfs -o size=1m subtmp "$b/src/sub"
  echo in-sub >"$b/src/sub/f"
  rt_bind "$b" "$b/src" /plain bind
  rt_bind "$b" "$b/src" /rec rbind
  rt_bind "$b" "$b/src" /rro rbind rro
  rt_args "$b" sh -c 'echo "plain:$(cat /plain/sub/f 2>/dev/null)"; echo "rec:$(cat /rec/sub/f)";
                      touch /rec/sub/w && echo rec-writable;
                      touch /rro/sub/w2 2>/dev/null || echo rro-sub-readonly;
                      touch /rro/w3 2>/dev/null || echo rro-top-readonly'
  crun "$(rt_id rbind)" "$b"
  umount "$b/src/sub"
  [ "$status" -eq 0 ]
  grep -qx 'plain:' <<<"$output"
  grep -qx 'rec:in-sub' <<<"$output"
  grep -qx rec-writable <<<"$output"
  grep -qx rro-sub-readonly <<<"$output"
  grep -qx rro-top-readonly <<<"$output"
}

@test "mounts: nosuid, nodev, noexec on a tmpfs take effect" {
  b=$(rt_bundle flags)
  rt_cfg "$b" '.mounts += [{"destination":"/x","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","noexec","size=4m","mode=1770"]},
                           {"destination":"/y","type":"tmpfs","source":"tmpfs","options":["size=4m"]}]'
  rt_args "$b" sh -c 'grep " /x " /proc/self/mountinfo; stat -c %a /x;
                      cp /bin/busybox /x/true; cp /bin/busybox /y/true;
                      /x/true 2>/dev/null && echo x-exec-ok; /y/true && echo y-exec-ok'
  crun "$(rt_id flags)" "$b"
  [ "$status" -eq 0 ]
  line=$(grep ' /x ' <<<"$output")
  [[ "$line" == *nosuid* && "$line" == *nodev* && "$line" == *noexec* ]]
  [[ "$line" == *size=4096k* ]]
  grep -qx 1770 <<<"$output"
  ! grep -q x-exec-ok <<<"$output"
  grep -qx y-exec-ok <<<"$output"
}

@test "mounts: proc, sysfs, devpts, mqueue, tmpfs /dev/shm and cgroup have their types" {
  b=$(rt_bundle types)
  rt_args "$b" cat /proc/self/mountinfo
  crun "$(rt_id types)" "$b"
  [ "$status" -eq 0 ]
  fstype() { awk -v m="$1" '$5 == m { for (i = 7; $i != "-"; i++); print $(i + 1) }' <<<"$output" | tail -n1; }
  [ "$(fstype /proc)" = proc ]
  [ "$(fstype /sys)" = sysfs ]
  [ "$(fstype /dev/pts)" = devpts ]
  [ "$(fstype /dev/mqueue)" = mqueue ]
  [ "$(fstype /dev/shm)" = tmpfs ]
  [ "$(fstype /dev)" = tmpfs ]
  # The cgroup mount: on cgroup v2 a cgroup2 fs, on v1/hybrid a tmpfs of per-hierarchy mounts.
  t=$(fstype /sys/fs/cgroup)
  [ "$t" = cgroup2 ] || { [ "$t" = tmpfs ] && [ "$(fstype /sys/fs/cgroup/memory)" = cgroup ]; }
  # sysfs is read-only as the config asks.
  awk '$5 == "/sys" { print $6 }' <<<"$output" | grep -q '^ro'
}

@test "mounts: the cgroup mount shows the container's own cgroup, read-only" {
  [ -d /sys/fs/cgroup/memory ] || skip "needs a cgroup v1 memory hierarchy"
  b=$(rt_bundle cgmnt)
  rt_cfg "$b" '.linux.resources.memory = {"limit": 67108864}'
  rt_args "$b" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; echo 1 > /sys/fs/cgroup/pids/pids.max 2>/dev/null && echo WRITABLE; ls /sys/fs/cgroup'
  crun "$(rt_id cgmnt)" "$b"
  [ "$status" -eq 0 ]
  [ "$(sed -n 2p <<<"$output")" = 67108864 ]
  ! grep -q WRITABLE <<<"$output"
  grep -qx unified <<<"$output"
}

@test "mounts: a cgroup2 mount in a cgroup namespace" {
  b=$(rt_bundle cg2)
  rt_cfg "$b" '.mounts |= map(select(.destination != "/sys/fs/cgroup"))
             | .mounts += [{"destination":"/cg2","type":"cgroup2","source":"cgroup2","options":["nosuid","noexec","nodev","ro"]}]'
  rt_args "$b" sh -c 'cat /proc/self/mountinfo | grep " /cg2"; ls /cg2 /cg2/* | grep -c cgroup.procs'
  crun "$(rt_id cg2)" "$b"
  [ "$status" -eq 0 ]
  grep -q ' /cg2' <<<"$output"
  [ "$(tail -n1 <<<"$output")" -ge 1 ]
}

@test "mounts: propagation rslave sees host mounts made later, rprivate does not" {
  b=$(rt_bundle prop)
  mkdir -p "$b/shared" "$b/mnt-slave" "$b/mnt-private"
  mount --bind "$b/shared" "$b/shared"
  mount --make-shared "$b/shared"
  rt_bind "$b" "$b/shared" /slave rbind rslave
  rt_bind "$b" "$b/shared" /private rbind rprivate
  rt_args "$b" sleep 600
  id=$(rt_id prop)
  cdetach "$id" "$b"
  mkdir -p "$b/shared/later"
  mount -t tmpfs -o size=1m later "$b/shared/later"
  touch "$b/shared/later/seen"
  run sp exec "$id" sh -c 'ls /slave/later; echo ---; ls /private/later'
  echo "$output"
  umount "$b/shared/later"
  sp delete --force "$id"
  umount "$b/shared"
  [ "$status" -eq 0 ]
  [ "$(sed -n 1p <<<"$output")" = seen ]
  [ "$(sed -n 2p <<<"$output")" = --- ]
  [ -z "$(sed -n 3p <<<"$output")" ]
}

# rootfs_propagation P: runs a container with rootfsPropagation P whose
# rootfs is a shared mount on the host (so "slave" has a master to follow),
# and prints the container's root line of mountinfo in $root.
rootfs_propagation() {
  local p=$1
  b=$(rt_bundle "rp-$p")
  mount --bind "$b/rootfs" "$b/rootfs"
  mount --make-shared "$b/rootfs"
  rt_cfg "$b" '.linux.rootfsPropagation = $p' --arg p "$p"
  rt_args "$b" sh -c 'awk "\$5 == \"/\"" /proc/self/mountinfo'
  crun "$(rt_id "rp-$p")" "$b"
  # Nothing the container mounted may have propagated back to the host.
  leaked=$(awk -v r="$b/rootfs/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo)
  umount "$b/rootfs" || true
  [ -z "$leaked" ] || { echo "container mounts leaked to the host: $leaked"; false; }
  [ "$status" -eq 0 ]
  root=$(tail -n1 <<<"$output")
}

@test "mounts: rootfsPropagation private on a shared host mount" {
  rootfs_propagation private
  [[ "$root" != *shared:* && "$root" != *master:* ]]
}

@test "mounts: rootfsPropagation slave follows the host" {
  rootfs_propagation slave
  [[ "$root" == *master:* && "$root" != *shared:* ]]
}

@test "mounts: rootfsPropagation shared" {
  rootfs_propagation shared
  [[ "$root" == *shared:* ]]
}

@test "mounts: rootfsPropagation rprivate on a shared host mount" {
  rootfs_propagation rprivate
  [[ "$root" != *shared:* && "$root" != *master:* ]]
}

@test "mounts: pivot_root leaves no host mount visible; --no-pivot also confines to the rootfs" {
  b=$(rt_bundle pivot)
  rt_args "$b" sh -c 'cat /etc/marker; ls /; awk "{ print \$5 }" /proc/self/mountinfo'
  crun "$(rt_id pivot)" "$b"
  [ "$status" -eq 0 ]
  grep -qx rootfs-marker <<<"$output"
  allowed='^/(proc|dev|dev/pts|dev/shm|dev/mqueue|sys|sys/fs/cgroup|sys/fs/cgroup/.*|proc/.*|sys/firmware|sys/devices/virtual/powercap)?$'
  bad=$(sed -n '/^\//p' <<<"$output" | grep -Ev "$allowed" || true)
  [ -z "$bad" ] || { echo "unexpected mounts: $bad"; false; }
  ! grep -q "$RT_BASE" <<<"$output"
  ! grep -qx work <<<"$output"

  crun "$(rt_id nopivot)" "$b" --no-pivot
  [ "$status" -eq 0 ]
  grep -qx rootfs-marker <<<"$output"
  ! grep -q "$RT_BASE" <<<"$output"
}

@test "mounts: maskedPaths read empty, readonlyPaths refuse writes, the rest stays writable" {
  b=$(rt_bundle mask)
  echo secret >"$b/rootfs/etc/secret"
  mkdir -p "$b/rootfs/secretdir" "$b/rootfs/rodir"
  echo s >"$b/rootfs/secretdir/f"
  rt_cfg "$b" '.root.readonly = false
             | .linux.maskedPaths += ["/etc/secret", "/secretdir"]
             | .linux.readonlyPaths += ["/rodir"]'
  # /proc/timer_list is in the default maskedPaths and exists on this kernel (/proc/kcore may not).
  [ "$(head -c 16 /proc/timer_list | wc -c)" -gt 0 ] || skip "no readable /proc/timer_list on this kernel"
  rt_args "$b" sh -c 'echo "timer_list=$(wc -c < /proc/timer_list)"; echo "secret=$(cat /etc/secret)";
                      echo "dir=$(ls /secretdir)"; echo "acpi=$(ls /proc/acpi 2>/dev/null)";
                      echo x > /rodir/f 2>/dev/null && echo rodir-WRITABLE;
                      echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo procsys-WRITABLE;
                      echo x > /etc/secret;
                      echo ok > /writable && echo root-writable'
  crun "$(rt_id mask)" "$b"
  [ "$status" -eq 0 ]
  grep -qx 'timer_list=0' <<<"$output"
  grep -qx 'secret=' <<<"$output"
  grep -qx 'dir=' <<<"$output"
  grep -qx 'acpi=' <<<"$output"
  ! grep -q WRITABLE <<<"$output"
  grep -qx root-writable <<<"$output"
  [ "$(cat "$b/rootfs/writable")" = ok ]
  [ "$(cat "$b/rootfs/etc/secret")" = secret ]
}

@test "mounts: root.readonly makes / read-only while tmpfs mounts stay writable" {
  b=$(rt_bundle rootro)
  rt_args "$b" sh -c 'touch /newfile 2>/dev/null && echo root-WRITABLE; echo x > /dev/shm/f && echo shm-ok'
  crun "$(rt_id rootro)" "$b"
  [ "$status" -eq 0 ]
  ! grep -q WRITABLE <<<"$output"
  grep -qx shm-ok <<<"$output"
  [ ! -e "$b/rootfs/newfile" ]
}

# ------------------------------------------------------------------- devices

@test "devices: default nodes with modes, /dev symlinks, and they work" {
  b=$(rt_bundle dev)
  rt_args "$b" sh -c 'for d in null zero full random urandom tty; do stat -c "%n %F %a %t:%T" /dev/$d; done;
                      for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done;
                      echo x > /dev/null && echo null-ok; head -c 5 /dev/zero | wc -c;
                      echo x > /dev/full 2>/dev/null || echo full-refuses;
                      head -c 8 /dev/urandom | wc -c'
  crun "$(rt_id dev)" "$b"
  [ "$status" -eq 0 ]
  grep -qx '/dev/null character special file 666 1:3' <<<"$output"
  grep -qx '/dev/zero character special file 666 1:5' <<<"$output"
  grep -qx '/dev/full character special file 666 1:7' <<<"$output"
  grep -qx '/dev/random character special file 666 1:8' <<<"$output"
  grep -qx '/dev/urandom character special file 666 1:9' <<<"$output"
  grep -qx '/dev/tty character special file 666 5:0' <<<"$output"
  grep -qx 'fd -> /proc/self/fd' <<<"$output"
  grep -qx 'stdin -> /proc/self/fd/0' <<<"$output"
  grep -qx 'stdout -> /proc/self/fd/1' <<<"$output"
  grep -qx 'stderr -> /proc/self/fd/2' <<<"$output"
  grep -qx 'ptmx -> pts/ptmx' <<<"$output"
  grep -qx null-ok <<<"$output"
  grep -qx 5 <<<"$output"
  grep -qx full-refuses <<<"$output"
  grep -qx 8 <<<"$output"
}

@test "devices: linux.devices nodes get type, numbers, mode and owner; they are allowed" {
  b=$(rt_bundle devs)
  # 10:229 (fuse) is not in the default allow list: only linux.devices lets it through.
  rt_cfg "$b" '.linux.devices = [{"path":"/dev/mynull","type":"c","major":1,"minor":3,"fileMode":416,"uid":1,"gid":2},
                                 {"path":"/dev/sub/myzero","type":"c","major":1,"minor":5},
                                 {"path":"/dev/myfifo","type":"p"},
                                 {"path":"/dev/myfuse","type":"c","major":10,"minor":229,"fileMode":438}]'
  rt_args "$b" sh -c 'stat -c "%n %F %a %u:%g %t:%T" /dev/mynull /dev/sub/myzero /dev/myfifo /dev/myfuse;
                      exec 3<>/dev/myfuse && echo myfuse-opens; head -c 3 /dev/sub/myzero | wc -c'
  crun "$(rt_id devs)" "$b"
  [ "$status" -eq 0 ]
  grep -qx '/dev/mynull character special file 640 1:2 1:3' <<<"$output"
  grep -q '^/dev/sub/myzero character special file [0-7]* 0:0 1:5$' <<<"$output"
  grep -q '^/dev/myfifo fifo ' <<<"$output"
  grep -q '^/dev/myfuse character special file 666 0:0 a:e5$' <<<"$output"
  grep -qx myfuse-opens <<<"$output"
  grep -qx 3 <<<"$output"
}

@test "devices: the devices cgroup denies a node that is not allowed" {
  b=$(rt_bundle devdeny)
  rt_cfg "$b" '.process.capabilities.bounding += ["CAP_MKNOD"] | .process.capabilities.effective += ["CAP_MKNOD"]
             | .process.capabilities.permitted += ["CAP_MKNOD"]'
  # /dev/mem (1:1) is not in the default allow list; /dev/null's numbers are.
  rt_args "$b" sh -c 'mknod /dev/mymem c 1 1 && echo made; head -c 1 /dev/mymem >/dev/null 2>&1 && echo mem-READABLE;
                      mknod /dev/null2 c 1 3 && echo x > /dev/null2 && echo null2-ok'
  crun "$(rt_id devdeny)" "$b"
  [ "$status" -eq 0 ]
  grep -qx made <<<"$output"
  ! grep -q mem-READABLE <<<"$output"
  grep -qx null2-ok <<<"$output"
}

# ---------------------------------------------------------- process settings

@test "process: hostname, domainname and sysctl (namespaced, host unchanged)" {
  b=$(rt_bundle names)
  host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
  want=$((1 - host_fwd))
  rt_cfg "$b" '.hostname = "box1" | .domainname = "example.test"
             | .linux.sysctl = {"net.ipv4.ip_forward": $w, "kernel.shm_rmid_forced": "1"}' --arg w "$want"
  rt_args "$b" sh -c 'hostname; cat /proc/sys/kernel/domainname /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced'
  crun "$(rt_id names)" "$b"
  [ "$status" -eq 0 ]
  [ "$(tail -n +2 <<<"$output")" = "$(printf 'box1\nexample.test\n%s\n1' "$want")" ]
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ]
  [ "$(hostname)" != box1 ]
}

@test "process: rlimits and oom_score_adj" {
  b=$(rt_bundle limits)
  rt_cfg "$b" '.process.rlimits = [{"type":"RLIMIT_NOFILE","soft":123,"hard":456},{"type":"RLIMIT_NPROC","soft":77,"hard":88},
                                   {"type":"RLIMIT_CORE","soft":0,"hard":0}]
             | .process.oomScoreAdj = 123'
  rt_args "$b" sh -c 'ulimit -n; ulimit -Hn; grep -E "^Max (open files|processes|core)" /proc/self/limits | tr -s " "; cat /proc/self/oom_score_adj'
  crun "$(rt_id limits)" "$b"
  [ "$status" -eq 0 ]
  [ "$(sed -n 2p <<<"$output")" = 123 ]
  [ "$(sed -n 3p <<<"$output")" = 456 ]
  grep -qx 'Max open files 123 456 files ' <<<"$output"
  grep -qx 'Max processes 77 88 processes ' <<<"$output"
  grep -qx 'Max core file size 0 0 bytes ' <<<"$output"
  [ "$(tail -n1 <<<"$output")" = 123 ]
}

@test "process: user, group, additionalGids and umask" {
  b=$(rt_bundle ident)
  rt_cfg "$b" '.process.user = {"uid":1000,"gid":1001,"additionalGids":[5,6,1002],"umask":63}'
  rt_args "$b" sh -c 'id -u; id -g; grep -E "^(Groups|Umask)" /proc/self/status; touch /tmp/f; stat -c %a:%u:%g /tmp/f'
  rt_cfg "$b" '.mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["mode=1777"]}]'
  crun "$(rt_id ident)" "$b"
  [ "$status" -eq 0 ]
  [ "$(sed -n 2p <<<"$output")" = 1000 ]
  [ "$(sed -n 3p <<<"$output")" = 1001 ]
  grep -Eq '^Groups:\s+5 6 1002\s*$' <<<"$output"
  grep -Eq '^Umask:\s+0077$' <<<"$output"
  grep -qx '600:1000:1001' <<<"$output"
}

@test "process: cwd and env, PATH from env finds the executable" {
  b=$(rt_bundle cwd)
  mkdir -p "$b/rootfs/opt/tools" "$b/rootfs/work/dir"
  printf '#!/bin/sh\necho via-path\n' >"$b/rootfs/opt/tools/mytool"
  chmod 755 "$b/rootfs/opt/tools/mytool"
  rt_cfg "$b" '.process.cwd = "/work/dir" | .process.env = ["PATH=/opt/tools:/bin", "FOO=bar baz", "EMPTY="]'
  rt_args "$b" sh -c 'pwd; echo "FOO=$FOO"; env | sort | grep -E "^(FOO|EMPTY|PATH)="; mytool'
  crun "$(rt_id cwd)" "$b"
  [ "$status" -eq 0 ]
  [ "$(sed -n 2p <<<"$output")" = /work/dir ]
  grep -qx 'FOO=bar baz' <<<"$output"
  grep -qx 'EMPTY=' <<<"$output"
  grep -qx 'PATH=/opt/tools:/bin' <<<"$output"
  grep -qx via-path <<<"$output"
}

@test "process: capabilities, all five sets including ambient, for a non-root user" {
  b=$(rt_bundle caps)
  rt_cfg "$b" '.process.user = {"uid":1000,"gid":1000}
             | .process.noNewPrivileges = false
             | .process.capabilities = {
                 "bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE","CAP_NET_RAW"],
                 "permitted":["CAP_KILL","CAP_NET_BIND_SERVICE","CAP_NET_RAW"],
                 "inheritable":["CAP_KILL","CAP_NET_BIND_SERVICE"],
                 "effective":["CAP_KILL","CAP_NET_BIND_SERVICE"],
                 "ambient":["CAP_NET_BIND_SERVICE"]}'
  rt_args "$b" grep ^Cap /proc/self/status
  crun "$(rt_id caps)" "$b"
  [ "$status" -eq 0 ]
  # After execve a non-root process keeps only the ambient set as permitted/effective.
  grep -qx $'CapInh:\t0000000000000420' <<<"$output"
  grep -qx $'CapPrm:\t0000000000000400' <<<"$output"
  grep -qx $'CapEff:\t0000000000000400' <<<"$output"
  grep -qx $'CapBnd:\t0000000000002421' <<<"$output"
  grep -qx $'CapAmb:\t0000000000000400' <<<"$output"
}

@test "process: root without CAP_CHOWN in the bounding set cannot chown" {
  b=$(rt_bundle nochown)
  rt_cfg "$b" '.process.capabilities = {"bounding":["CAP_KILL"],"permitted":["CAP_KILL"],"effective":["CAP_KILL"]}
             | .mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs"}]'
  rt_args "$b" sh -c 'grep ^CapBnd /proc/self/status; touch /tmp/f; chown 1:1 /tmp/f 2>/dev/null && echo chown-WORKED; true'
  crun "$(rt_id nochown)" "$b"
  [ "$status" -eq 0 ]
  grep -qx $'CapBnd:\t0000000000000020' <<<"$output"
  ! grep -q chown-WORKED <<<"$output"

  b2=$(rt_bundle chown)
  rt_cfg "$b2" '.process.capabilities = {"bounding":["CAP_CHOWN"],"permitted":["CAP_CHOWN"],"effective":["CAP_CHOWN"]}
              | .mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs"}]'
  rt_args "$b2" sh -c 'touch /tmp/f; chown 1:1 /tmp/f && stat -c %u:%g /tmp/f'
  crun "$(rt_id chown)" "$b2"
  [ "$status" -eq 0 ]
  grep -qx 1:1 <<<"$output"
}

@test "process: noNewPrivileges true and false" {
  b=$(rt_bundle nnp)
  rt_cfg "$b" '.process.noNewPrivileges = true'
  rt_args "$b" grep ^NoNewPrivs /proc/self/status
  crun "$(rt_id nnp1)" "$b"
  [ "$status" -eq 0 ]
  grep -qx $'NoNewPrivs:\t1' <<<"$output"
  rt_cfg "$b" '.process.noNewPrivileges = false'
  crun "$(rt_id nnp0)" "$b"
  [ "$status" -eq 0 ]
  grep -qx $'NoNewPrivs:\t0' <<<"$output"
}

@test "seccomp: errnoRet, architectures, flags and argument conditions from the config" {
  b=$(rt_bundle seccomp)
  rt_cfg "$b" '.mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs"}]
             | .linux.seccomp = {
                 "defaultAction":"SCMP_ACT_ALLOW",
                 "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                 "flags":["SECCOMP_FILTER_FLAG_LOG"],
                 "syscalls":[
                   {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
                   {"names":["chmod"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
                    "args":[{"index":1,"value":511,"op":"SCMP_CMP_EQ"}]},
                   {"names":["fchmodat"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
                    "args":[{"index":2,"value":511,"op":"SCMP_CMP_EQ"}]}]}'
  rt_args "$b" sh -c 'grep -E "^Seccomp:" /proc/self/status; mkdir /tmp/d 2>&1; touch /tmp/f;
                      chmod 777 /tmp/f 2>&1; chmod 755 /tmp/f && stat -c %a /tmp/f'
  crun "$(rt_id seccomp)" "$b"
  [ "$status" -eq 0 ]
  grep -Eq $'^Seccomp:\t2$' <<<"$output"
  grep -q "can't create directory '/tmp/d': Permission denied" <<<"$output"
  grep -q "/tmp/f: Operation not permitted" <<<"$output"
  grep -qx 755 <<<"$output"
}

@test "seccomp: SCMP_ACT_ERRNO without errnoRet gives EPERM; other syscalls work" {
  b=$(rt_bundle secdef)
  rt_cfg "$b" '.linux.seccomp = {"defaultAction":"SCMP_ACT_ALLOW",
                 "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}
             | .mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs"}]'
  rt_args "$b" sh -c 'mkdir /tmp/d 2>&1; echo x > /tmp/f && cat /tmp/f; echo done'
  crun "$(rt_id secdef)" "$b"
  [ "$status" -eq 0 ]
  grep -q "can't create directory '/tmp/d': Operation not permitted" <<<"$output"
  grep -qx x <<<"$output"
  grep -qx done <<<"$output"
}

# ------------------------------------------------------------------ cgroups

cgdir() { echo "/sys/fs/cgroup/$1/samepage/$2"; }

@test "cgroups: memory, cpu, cpuset, pids and devices limits on this host" {
  [ -d /sys/fs/cgroup/memory ] || skip "needs cgroup v1 controllers (hybrid host)"
  b=$(rt_bundle res)
  dev=$(cat /sys/block/vda/dev 2>/dev/null || true)
  rt_cfg "$b" '.linux.resources.memory = {"limit": 67108864, "reservation": 33554432, "swap": 134217728}
             | .linux.resources.cpu = {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}
             | .linux.resources.pids = {"limit": 42}'
  rt_args "$b" sleep 600
  id=$(rt_id res)
  cdetach "$id" "$b"
  pid=$(rt_pid "$id")
  [ "$(cat "$(cgdir memory "$id")/memory.limit_in_bytes")" = 67108864 ]
  [ "$(cat "$(cgdir memory "$id")/memory.soft_limit_in_bytes")" = 33554432 ]
  [ "$(cat "$(cgdir memory "$id")/memory.memsw.limit_in_bytes")" = 134217728 ]
  [ "$(cat "$(cgdir cpu "$id")/cpu.shares")" = 512 ]
  [ "$(cat "$(cgdir cpu "$id")/cpu.cfs_quota_us")" = 50000 ]
  [ "$(cat "$(cgdir cpu "$id")/cpu.cfs_period_us")" = 100000 ]
  [ "$(cat "$(cgdir cpuset "$id")/cpuset.cpus")" = 0 ]
  [ "$(cat "$(cgdir pids "$id")/pids.max")" = 42 ]
  grep -qx "$pid" "$(cgdir memory "$id")/cgroup.procs"
  grep -qx "$pid" "$(cgdir pids "$id")/cgroup.procs"
  # Seen from the process itself.
  grep -Eq $'^Cpus_allowed_list:\t0$' "/proc/$pid/status"
  # The default devices rule (deny all, then the default allow list).
  run cat "$(cgdir devices "$id")/devices.list"
  echo "$output"
  grep -qx 'c 1:3 rwm' <<<"$output"
  ! grep -qx 'a \*:\* rwm' <<<"$output"
  sp delete --force "$id"
}

@test "cgroups: blkio throttle on this hybrid host (v1 blkio hierarchy)" {
  [ -d /sys/fs/cgroup/blkio ] || skip "needs the v1 blkio hierarchy"
  dev=$(cat /sys/block/vda/dev 2>/dev/null || cat "$(ls -d /sys/block/*/dev | head -n1)")
  b=$(rt_bundle blkio)
  rt_cfg "$b" '.linux.resources.blockIO = {"throttleReadBpsDevice": [{"major": $ma, "minor": $mi, "rate": 1048576}],
                                           "throttleWriteIOPSDevice": [{"major": $ma, "minor": $mi, "rate": 100}]}' \
    --argjson ma "${dev%:*}" --argjson mi "${dev#*:}"
  rt_args "$b" sleep 600
  id=$(rt_id blkio)
  cdetach "$id" "$b"
  grep -qx "$dev 1048576" "$(cgdir blkio "$id")/blkio.throttle.read_bps_device"
  grep -qx "$dev 100" "$(cgdir blkio "$id")/blkio.throttle.write_iops_device"
  sp delete --force "$id"
}

@test "cgroups: hugetlb limits (on this hybrid host the controller is in the cgroup2 hierarchy)" {
  [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || skip "no 2MB huge pages"
  grep -qw hugetlb /proc/cgroups || skip "kernel without the hugetlb controller"
  # Usable only where a mounted hierarchy has it: on cgroup2, or a v1 mount.
  grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers /sys/fs/cgroup/cgroup.controllers 2>/dev/null \
    || awk '$9 == "cgroup" && $NF ~ /hugetlb/ {f = 1} END {exit !f}' /proc/self/mountinfo \
    || skip "the hugetlb controller is in no mounted cgroup hierarchy on this host right now"
  b=$(rt_bundle huge)
  rt_cfg "$b" '.linux.resources.hugepageLimits = [{"pageSize": "2MB", "limit": 4194304}]'
  rt_args "$b" sleep 600
  id=$(rt_id huge)
  cdetach "$id" "$b"
  hl=$(ls "$(cgdir unified "$id")"/hugetlb.2MB.max "$(cgdir hugetlb "$id")"/hugetlb.2MB.limit_in_bytes \
          /sys/fs/cgroup/samepage/"$id"/hugetlb.2MB.max 2>/dev/null | head -n1)
  [ -n "$hl" ] || { echo "no hugetlb limit file for the container"; false; }
  [ "$(cat "$hl")" = 4194304 ]
  sp delete --force "$id"
}

@test "cgroups: the pids limit stops a fork bomb, the memory limit an allocation" {
  b=$(rt_bundle pidslim)
  rt_cfg "$b" '.linux.resources.pids = {"limit": 5}'
  # The subshell dies when fork fails; the outer shell reports and counts.
  rt_args "$b" sh -c '( for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait ) 2>&1; echo "sub=$?"'
  crun "$(rt_id pidslim)" "$b"
  [ "$status" -eq 0 ]
  ! grep -qx 'sub=0' <<<"$output"
  grep -q "can't fork" <<<"$output"

  [ -d /sys/fs/cgroup/memory ] || skip "memory limit check needs the v1 memory hierarchy"
  b2=$(rt_bundle memlim)
  rt_cfg "$b2" '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}
              | .mounts |= map(if .destination == "/dev/shm" then .options = ["nosuid","nodev","mode=1777","size=200m"] else . end)'
  rt_args "$b2" sh -c 'dd if=/dev/zero of=/dev/shm/big bs=1M count=100 2>&1; echo dd-exit=$?'
  crun "$(rt_id memlim)" "$b2"
  ! grep -qx 'dd-exit=0' <<<"$output"
}

@test "cgroups: update with --resources - and with flags changes the limits" {
  [ -d /sys/fs/cgroup/memory ] || skip "needs cgroup v1 controllers"
  b=$(rt_bundle upd)
  rt_cfg "$b" '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 100}'
  rt_args "$b" sleep 600
  id=$(rt_id upd)
  cdetach "$id" "$b"
  run sp update --resources - "$id" <<<'{"memory": {"limit": 134217728}, "pids": {"limit": 50}, "cpu": {"shares": 256}}'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(cat "$(cgdir memory "$id")/memory.limit_in_bytes")" = 134217728 ]
  [ "$(cat "$(cgdir pids "$id")/pids.max")" = 50 ]
  [ "$(cat "$(cgdir cpu "$id")/cpu.shares")" = 256 ]
  run sp update --memory 100663296 --pids-limit 7 --cpu-quota 20000 --cpu-period 100000 --cpuset-cpus 1 "$id"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(cat "$(cgdir memory "$id")/memory.limit_in_bytes")" = 100663296 ]
  [ "$(cat "$(cgdir pids "$id")/pids.max")" = 7 ]
  [ "$(cat "$(cgdir cpu "$id")/cpu.cfs_quota_us")" = 20000 ]
  [ "$(cat "$(cgdir cpuset "$id")/cpuset.cpus")" = 1 ]
  # The running process sees the new cpuset.
  grep -Eq $'^Cpus_allowed_list:\t1$' "/proc/$(rt_pid "$id")/status"
  sp delete --force "$id"
}

# --------------------------------------------------------------------- hooks

hook() { # hook STAGE [timeout]: a hook that appends its stage and state to $OUT
  local extra=""
  [ -n "${2:-}" ] && extra=", \"timeout\": $2"
  echo "{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo \$STAGE >> $3/order; cat > $3/\$STAGE.json\"], \"env\": [\"STAGE=$1\"]$extra}"
}

@test "hooks: all six stages run in order with the state on stdin" {
  b=$(rt_bundle hooks)
  out=$b/out
  mkdir -p "$out"
  chmod 777 "$out"
  # createContainer runs before pivot_root (host paths), startContainer inside the container (/out).
  rt_cfg "$b" '.hooks = {
      "prestart": [ $pre ], "createRuntime": [ $cr ], "createContainer": [ $cc ],
      "startContainer": [ $sc ], "poststart": [ $ps ], "poststop": [ $pst ] }' \
    --argjson pre "$(hook prestart 10 "$out")" --argjson cr "$(hook createRuntime 10 "$out")" \
    --argjson cc "$(hook createContainer 10 "$out")" --argjson sc "$(hook startContainer 10 /out)" \
    --argjson ps "$(hook poststart 10 "$out")" --argjson pst "$(hook poststop 10 "$out")"
  rt_out "$b"
  rt_args "$b" sh -c 'echo main >> /out/order'
  id=$(rt_id hooks)
  rt_create "$id" "$b"
  echo "$output"
  [ "$status" -eq 0 ]
  pid=$(rt_pid "$id")
  [ "$(cat "$out/order")" = "$(printf 'prestart\ncreateRuntime\ncreateContainer')" ]
  run sp start "$id"
  [ "$status" -eq 0 ]
  rt_wait_status "$id" 5 stopped
  run sp delete "$id"
  [ "$status" -eq 0 ]
  cat "$out/order"
  # main may run before or after poststart; the hooks keep their order.
  [ "$(grep -v main "$out/order")" = "$(printf 'prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\npoststop')" ]
  [ "$(grep -n main "$out/order" | cut -d: -f1)" -gt 4 ]
  [ "$(grep -n main "$out/order" | cut -d: -f1)" -lt 7 ]
  for s in prestart createRuntime createContainer startContainer poststart poststop; do
    echo "$s: $(cat "$out/$s.json")"
    [ "$(jq -r .id "$out/$s.json")" = "$id" ]
    [ "$(jq -r .bundle "$out/$s.json")" = "$b" ]
    [ "$(jq -r .ociVersion "$out/$s.json")" != null ]
  done
  for s in prestart createRuntime createContainer startContainer poststart; do
    [ "$(jq -r .pid "$out/$s.json")" = "$pid" ]
  done
  [ "$(jq -r .status "$out/prestart.json")" = creating ]
  [ "$(jq -r .status "$out/poststart.json")" = running ]
  [ "$(jq -r .status "$out/poststop.json")" = stopped ]
}

@test "hooks: a failing poststart is a warning, a failing poststop too; the container runs" {
  b=$(rt_bundle hookwarn)
  rt_cfg "$b" '.hooks = {"poststart": [{"path":"/bin/false"}], "poststop": [{"path":"/bin/false"}]}'
  rt_args "$b" sleep 600
  id=$(rt_id hookwarn)
  cdetach "$id" "$b"
  [ "$(rt_status "$id")" = running ]
  run sp delete --force "$id"
  [ "$status" -eq 0 ]
  run sp state "$id"
  [ "$status" -ne 0 ]
}

# ------------------------------------------------------------------ terminal

@test "terminal: the pty master arrives over --console-socket and carries the output" {
  b=$(rt_bundle tty)
  rt_cfg "$b" '.process.terminal = true | .process.consoleSize = {"height": 33, "width": 111}'
  rt_args "$b" sh -c 'tty; stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty; read line; echo "got:$line"'
  sock=$RT_TESTDIR/console.sock
  rt_recvtty "$sock" "$RT_TESTDIR/tty.out" --input $'hello-in\n'
  crun "$(rt_id tty)" "$b" --console-socket "$sock"
  [ "$status" -eq 0 ]
  wait "$RT_RECVTTY_PID"
  cat "$RT_TESTDIR/tty.out.info"
  out=$(tr -d '\r' <"$RT_TESTDIR/tty.out")
  echo "$out"
  grep -q 'isatty=True' "$RT_TESTDIR/tty.out.info"
  grep -qx '/dev/pts/0' <<<"$out"
  grep -qx '33 111' <<<"$out"
  grep -qx all-tty <<<"$out"
  grep -qx 'got:hello-in' <<<"$out"
}

# ------------------------------------------------------------------------ fds

@test "fds: no caller fd leaks into the container except stdio and --preserve-fds" {
  b=$(rt_bundle fds)
  # ls itself opens the directory on the lowest free fd: 3 when nothing leaked.
  rt_args "$b" ls /proc/self/fd
  # fd 3 is bats' own output channel, open already; add 4, 5 and 9.
  exec 4<"$b/config.json" 5<"$b/config.json" 9<"$b/config.json"
  crun "$(rt_id fds1)" "$b"
  [ "$status" -eq 0 ]
  [ "$(tail -n +2 <<<"$output" | tr '\n' ' ')" = "0 1 2 3 " ]
  crun "$(rt_id fds2)" "$b" --preserve-fds 2
  [ "$status" -eq 0 ]
  [ "$(tail -n +2 <<<"$output" | tr '\n' ' ')" = "0 1 2 3 4 5 " ]
  exec 4<&- 5<&- 9<&-
}

@test "fds: a socket on fd 3 (as containerd leaves it) does not reach create'd init or exec" {
  [ -n "$RT_PYTHON" ] || skip "needs python3 to hold a socket on fd 3"
  b=$(rt_bundle fdsock)
  rt_args "$b" sleep 600
  id=$(rt_id fdsock)
  # create with a unix socket on fd 3.
  status=0
  "$RT_PYTHON" -c '
import os, socket, subprocess, sys
a, b = socket.socketpair()
os.dup2(a.fileno(), 3)
os.set_inheritable(3, True)
sys.exit(subprocess.call(sys.argv[1:], close_fds=False))' "$RT_BIN" --root "$RT_ROOT" create --bundle "$b" "$id" \
    </dev/null >/dev/null 2>"$RT_TESTDIR/create.err" || status=$?
  cat "$RT_TESTDIR/create.err"
  [ "$status" -eq 0 ]
  pid=$(rt_pid "$id")
  # Before start, init (already in the container's namespaces) may hold
  # stdio and its exec fifo, nothing of the caller's: no socket, no pipe.
  ls -l "/proc/$pid/fd"
  for fd in $(ls "/proc/$pid/fd"); do
    [ "$fd" -le 2 ] && continue
    target=$(readlink "/proc/$pid/fd/$fd")
    [[ "$target" == */exec.fifo ]] || { echo "init holds the caller's fd $fd -> $target"; false; }
  done
  sp start "$id"
  rt_wait_status "$id" 5 running
  [ "$(ls "/proc/$pid/fd" | tr '\n' ' ')" = "0 1 2 " ]
  run "$RT_PYTHON" -c '
import os, socket, subprocess, sys
a, b = socket.socketpair()
os.dup2(a.fileno(), 3)
os.set_inheritable(3, True)
sys.exit(subprocess.call(sys.argv[1:], close_fds=False))' "$RT_BIN" --root "$RT_ROOT" exec "$id" ls /proc/self/fd
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(echo $output)" = "0 1 2 3" ]
  sp delete --force "$id"
}

# -------------------------------------------------------------------- verbs

@test "lifecycle: create, state created, start, running, process exits, stopped, delete" {
  b=$(rt_bundle life)
  rt_out "$b"
  rt_args "$b" sh -c 'echo started > /out/flag; while [ ! -e /out/stop ]; do sleep 0.05; done'
  id=$(rt_id life)
  rt_create "$id" "$b" --pid-file "$RT_TESTDIR/pid"
  echo "$output"
  [ "$status" -eq 0 ]
  run sp state "$id"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(jq -r .status <<<"$output")" = created ]
  [ "$(jq -r .id <<<"$output")" = "$id" ]
  [ "$(jq -r .bundle <<<"$output")" = "$b" ]
  [ "$(jq -r .ociVersion <<<"$output")" = 1.2.0 ]
  pid=$(jq -r .pid <<<"$output")
  [ "$pid" = "$(cat "$RT_TESTDIR/pid")" ]
  [ -d "/proc/$pid" ]
  # The process has not run yet.
  sleep 0.2
  [ ! -e "$b/out/flag" ]
  run sp start "$id"
  [ "$status" -eq 0 ]
  rt_wait_file "$b/out/flag"
  [ "$(rt_status "$id")" = running ]
  [ "$(rt_pid "$id")" = "$pid" ]
  touch "$b/out/stop"
  rt_wait_status "$id" 5 stopped
  run sp state "$id"
  [ "$(jq -r '.pid // "absent"' <<<"$output")" = absent ] || [ "$(jq -r .pid <<<"$output")" = 0 ]
  run sp delete "$id"
  [ "$status" -eq 0 ]
  run sp state "$id"
  [ "$status" -ne 0 ]
  grep -q "does not exist" <<<"$output"
}

@test "lifecycle: state is creating while prestart hooks run" {
  b=$(rt_bundle creating)
  id=$(rt_id creating)
  rt_cfg "$b" '.hooks.prestart = [{"path": "/bin/sh", "args": ["sh", "-c", $cmd]}]' \
    --arg cmd "\"$RT_BIN\" --root \"$RT_ROOT\" state $id > $RT_TESTDIR/during.json 2>&1; true"
  rt_create "$id" "$b"
  echo "$output"
  [ "$status" -eq 0 ]
  cat "$RT_TESTDIR/during.json"
  [ "$(jq -r .status "$RT_TESTDIR/during.json")" = creating ]
  sp delete --force "$id"
}

@test "lifecycle: run returns the exit status and removes the container; run --detach returns at once" {
  b=$(rt_bundle runexit)
  rt_args "$b" sh -c 'exit 7'
  id=$(rt_id runexit)
  crun "$id" "$b"
  [ "$status" -eq 7 ]
  run sp state "$id"
  [ "$status" -ne 0 ]
  # Killed from outside (pid 1 ignores its own SIGKILL): 128 + 9.
  rt_args "$b" sleep 600
  kid=$(rt_id runkill)
  sp run --bundle "$b" "$kid" </dev/null >/dev/null 2>&1 &
  runpid=$!
  rt_wait_status "$kid" 5 running
  sp kill "$kid" KILL
  rc=0
  wait "$runpid" || rc=$?
  [ "$rc" -eq 137 ]
  run sp state "$kid"
  [ "$status" -ne 0 ]

  rt_args "$b" sleep 600
  id=$(rt_id detach)
  SECONDS=0
  status=0
  timeout 20 "$RT_BIN" --root "$RT_ROOT" run --detach --bundle "$b" "$id" </dev/null >/dev/null 2>&1 || status=$?
  [ "$status" -eq 0 ]
  [ "$SECONDS" -lt 10 ]
  [ "$(rt_status "$id")" = running ]
  sp delete --force "$id"
}

@test "lifecycle: run passes stdin and stdout through" {
  b=$(rt_bundle stdio)
  rt_args "$b" sh -c 'read a; echo "in:$a"; echo err >&2'
  run sh -c "echo piped | \"$RT_BIN\" --root \"$RT_ROOT\" run --bundle \"$b\" $(rt_id stdio) 2>$RT_TESTDIR/err"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = in:piped ]
  [ "$(cat "$RT_TESTDIR/err")" = err ]
}

@test "pause and resume: status paused, the processes stop and continue" {
  b=$(rt_bundle pause)
  rt_out "$b"
  rt_args "$b" sh -c 'i=0; while :; do i=$((i+1)); echo $i > /out/c; sleep 0.02; done'
  id=$(rt_id pause)
  cdetach "$id" "$b"
  rt_wait_file "$b/out/c"
  run sp pause "$id"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(rt_status "$id")" = paused ]
  a=$(cat "$b/out/c")
  sleep 0.5
  [ "$(cat "$b/out/c")" = "$a" ]
  run sp resume "$id"
  [ "$status" -eq 0 ]
  [ "$(rt_status "$id")" = running ]
  sleep 0.5
  [ "$(cat "$b/out/c")" -gt "$a" ]
  sp delete --force "$id"
}

@test "kill: signals by name, SIG name and number reach the process" {
  b=$(rt_bundle kill)
  rt_out "$b"
  rt_args "$b" sh -c 'trap "echo usr1 >> /out/sig" USR1; trap "echo hup >> /out/sig" HUP; trap "echo term >> /out/sig; exit 0" TERM;
                      echo ready > /out/ready; while :; do sleep 0.05; done'
  id=$(rt_id kill)
  cdetach "$id" "$b"
  rt_wait_file "$b/out/ready"
  # One at a time: standard signals do not queue.
  n=0
  for sig in USR1 SIGHUP 10 sigusr1; do
    sp kill "$id" "$sig"
    n=$((n + 1))
    for i in $(seq 50); do [ "$(wc -l <"$b/out/sig" 2>/dev/null)" = "$n" ] && break; sleep 0.1; done
  done
  cat "$b/out/sig"
  [ "$(cat "$b/out/sig")" = "$(printf 'usr1\nhup\nusr1\nusr1')" ]
  sp kill "$id"
  rt_wait_status "$id" 5 stopped
  [ "$(tail -n1 "$b/out/sig")" = term ]
  sp delete "$id"
}

@test "kill --all reaches exec'd processes too; KILL by number" {
  b=$(rt_bundle killall)
  rt_args "$b" sleep 600
  id=$(rt_id killall)
  cdetach "$id" "$b"
  sp exec --detach --pid-file "$RT_TESTDIR/exec.pid" "$id" sleep 601 </dev/null >/dev/null 2>"$RT_TESTDIR/exec.err"
  epid=$(cat "$RT_TESTDIR/exec.pid")
  [ -d "/proc/$epid" ]
  run sp kill --all "$id" 9
  [ "$status" -eq 0 ]
  rt_wait_status "$id" 5 stopped
  for i in $(seq 50); do [ -d "/proc/$epid" ] && [ "$(awk '{print $3}' /proc/$epid/stat 2>/dev/null)" != Z ] || break; sleep 0.1; done
  ! { [ -d "/proc/$epid" ] && [ "$(awk '{print $3}' /proc/$epid/stat)" != Z ]; }
  sp delete "$id"
}

@test "delete: refuses a running container without --force; --force kills it; missing with --force succeeds" {
  b=$(rt_bundle del)
  rt_args "$b" sleep 600
  id=$(rt_id del)
  cdetach "$id" "$b"
  pid=$(rt_pid "$id")
  run sp delete "$id"
  [ "$status" -ne 0 ]
  [ "$(rt_status "$id")" = running ]
  run sp delete --force "$id"
  [ "$status" -eq 0 ]
  ! kill -0 "$pid" 2>/dev/null || [ "$(awk '{print $3}' /proc/$pid/stat)" = Z ]
  [ -z "$(rt_leftover_cgroups)" ]
  run sp delete --force "$id"
  [ "$status" -eq 0 ]
  run sp delete --force never-existed-$RT_PREFIX
  [ "$status" -eq 0 ]
  run sp delete never-existed-$RT_PREFIX
  [ "$status" -ne 0 ]
}

@test "delete: a created (never started) container is deleted with its init" {
  b=$(rt_bundle delcreated)
  id=$(rt_id delcreated)
  rt_create "$id" "$b"
  [ "$status" -eq 0 ]
  pid=$(rt_pid "$id")
  run sp delete "$id"
  echo "$output"
  [ "$status" -eq 0 ]
  ! { kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' /proc/$pid/stat)" != Z ]; }
}

@test "list: table, --quiet and --format json" {
  b=$(rt_bundle list)
  rt_args "$b" sleep 600
  a=$(rt_id list-a)
  c=$(rt_id list-c)
  cdetach "$a" "$b"
  rt_create "$c" "$b"
  [ "$status" -eq 0 ]
  run sp list --format json
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(jq -r --arg a "$a" '.[] | select(.id == $a) | .status' <<<"$output")" = running ]
  [ "$(jq -r --arg c "$c" '.[] | select(.id == $c) | .status' <<<"$output")" = created ]
  [ "$(jq -r --arg a "$a" '.[] | select(.id == $a) | .pid' <<<"$output")" = "$(rt_pid "$a")" ]
  [ "$(jq -r --arg a "$a" '.[] | select(.id == $a) | .bundle' <<<"$output")" = "$b" ]
  run sp list -q
  [ "$(sort <<<"$output")" = "$(printf '%s\n%s' "$a" "$c" | sort)" ]
  run sp list
  [ "$status" -eq 0 ]
  grep -q "^ID " <<<"$output"
  grep -q "^$a .*running" <<<"$output"
  sp delete --force "$a"
  sp delete --force "$c"
}

@test "spec: writes a valid default config, refuses to overwrite; --rootless maps the user" {
  d=$RT_TESTDIR/spec
  mkdir -p "$d"
  run "$RT_BIN" spec --bundle "$d"
  [ "$status" -eq 0 ]
  jq -e '.ociVersion and .process.args and .root.path == "rootfs" and (.linux.namespaces | length) > 0' "$d/config.json"
  run "$RT_BIN" spec --bundle "$d"
  [ "$status" -ne 0 ]
  grep -q exists <<<"$output"
  mkdir -p "$d/rl"
  run "$RT_BIN" spec --rootless --bundle "$d/rl"
  [ "$status" -eq 0 ]
  jq -e '[.linux.namespaces[].type] | index("user")' "$d/rl/config.json"
  jq -e '.linux.uidMappings | length > 0' "$d/rl/config.json"
}

@test "exec: joins every namespace and the cgroup of the container, exit status is returned" {
  b=$(rt_bundle exec)
  rt_ns "$b" time
  rt_args "$b" sleep 600
  id=$(rt_id exec)
  cdetach "$id" "$b"
  pid=$(rt_pid "$id")
  run sp exec "$id" sh -c 'for n in mnt pid net ipc uts cgroup time user; do echo "$n $(readlink /proc/self/ns/$n)"; done; cat /proc/self/cgroup'
  echo "$output"
  [ "$status" -eq 0 ]
  for n in mnt pid net ipc uts cgroup time user; do
    [ "$(grep "^$n " <<<"$output" | cut -d' ' -f2)" = "$(readlink /proc/$pid/ns/$n)" ]
  done
  [ "$(grep memory: <<<"$output")" = "$(grep memory: /proc/$pid/cgroup | sed 's|:/samepage/.*|:/|')" ] ||
    [ "$(grep memory: <<<"$output")" = "$(grep memory: /proc/$pid/cgroup)" ]
  run sp exec "$id" sh -c 'exit 42'
  [ "$status" -eq 42 ]
  sp delete --force "$id"
}

@test "exec: --cwd, --env, --user, --cap and a --process file" {
  b=$(rt_bundle execopts)
  rt_args "$b" sleep 600
  id=$(rt_id execopts)
  cdetach "$id" "$b"
  run sp exec --cwd /etc --env FOO=from-flag --user 1000:1001 "$id" sh -c 'pwd; echo $FOO; id -u; id -g'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '/etc\nfrom-flag\n1000\n1001')" ]
  run sp exec --cap CAP_SYS_TIME "$id" grep ^CapEff /proc/self/status
  echo "$output"
  [ "$status" -eq 0 ]
  eff=$((16#$(awk '{print $2}' <<<"$output")))
  [ $((eff & (1 << 25))) -ne 0 ]
  run sp exec "$id" grep ^CapEff /proc/self/status
  eff=$((16#$(awk '{print $2}' <<<"$output")))
  [ $((eff & (1 << 25))) -eq 0 ]
  cat >"$RT_TESTDIR/proc.json" <<EOF
{"terminal": false, "user": {"uid": 7, "gid": 8}, "args": ["sh", "-c", "pwd; echo \$BAR; id -u; grep ^NoNewPrivs /proc/self/status"],
 "env": ["PATH=/bin", "BAR=from-process"], "cwd": "/bin", "noNewPrivileges": true}
EOF
  run sp exec --process "$RT_TESTDIR/proc.json" "$id"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '/bin\nfrom-process\n7\nNoNewPrivs:\t1')" ]
  sp delete --force "$id"
}

@test "exec: --detach --pid-file; the process lives in the container's pid namespace and cgroup" {
  b=$(rt_bundle execdet)
  rt_args "$b" sleep 600
  id=$(rt_id execdet)
  cdetach "$id" "$b"
  sp exec --detach --pid-file "$RT_TESTDIR/e.pid" "$id" sleep 599 </dev/null >/dev/null 2>"$RT_TESTDIR/exec.err"
  epid=$(cat "$RT_TESTDIR/e.pid")
  [ "$(tr '\0' ' ' <"/proc/$epid/cmdline")" = "sleep 599 " ]
  # Two pid namespaces: the host's and the container's.
  [ "$(awk '/^NSpid/ { print NF - 1 }' "/proc/$epid/status")" = 2 ]
  [ "$(readlink /proc/$epid/ns/pid)" = "$(readlink /proc/$(rt_pid "$id")/ns/pid)" ]
  grep -q "memory:/samepage/$id\$" "/proc/$epid/cgroup"
  run sp ps --format json "$id"
  echo "$output"
  [ "$status" -eq 0 ]
  jq -e --argjson p "$epid" 'index($p) != null' <<<"$output"
  jq -e --argjson p "$(rt_pid "$id")" 'index($p) != null' <<<"$output"
  sp delete --force "$id"
}

@test "exec: --tty with --console-socket" {
  b=$(rt_bundle exectty)
  rt_args "$b" sleep 600
  id=$(rt_id exectty)
  cdetach "$id" "$b"
  sock=$RT_TESTDIR/exec.sock
  rt_recvtty "$sock" "$RT_TESTDIR/exec.out"
  run sp exec --tty --console-socket "$sock" "$id" sh -c 'tty; [ -t 0 ] && echo is-tty'
  echo "$output"
  [ "$status" -eq 0 ]
  wait "$RT_RECVTTY_PID"
  out=$(tr -d '\r' <"$RT_TESTDIR/exec.out")
  echo "$out"
  grep -q '^/dev/pts/[0-9]' <<<"$out"
  grep -qx is-tty <<<"$out"
  sp delete --force "$id"
}

@test "ps --format json lists the container's processes" {
  b=$(rt_bundle ps)
  rt_args "$b" sh -c 'sleep 600 & sleep 601'
  id=$(rt_id ps)
  cdetach "$id" "$b"
  sleep 0.2
  run sp ps --format json "$id"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(jq length <<<"$output")" -ge 2 ]
  for p in $(jq -r '.[]' <<<"$output"); do
    grep -q "memory:/samepage/$id\$" "/proc/$p/cgroup"
  done
  sp delete --force "$id"
}

@test "features: valid JSON with all eight namespaces, the hook stages and capabilities" {
  run "$RT_BIN" features
  [ "$status" -eq 0 ]
  jq -e . <<<"$output" >/dev/null
  for n in cgroup ipc mount network pid time user uts; do
    jq -e --arg n "$n" '.linux.namespaces | index($n) != null' <<<"$output"
  done
  [ "$(jq '.linux.namespaces | length' <<<"$output")" = 8 ]
  for h in prestart createRuntime createContainer startContainer poststart poststop; do
    jq -e --arg h "$h" '.hooks | index($h) != null' <<<"$output"
  done
  for c in CAP_CHOWN CAP_SYS_ADMIN CAP_NET_RAW CAP_CHECKPOINT_RESTORE CAP_BPF; do
    jq -e --arg c "$c" '.linux.capabilities | index($c) != null' <<<"$output"
  done
  for m in rbind rro ro nosuid nodev noexec rprivate rslave rshared; do
    jq -e --arg m "$m" '.mountOptions | index($m) != null' <<<"$output"
  done
  jq -e '.linux.seccomp.enabled == true and (.linux.seccomp.actions | index("SCMP_ACT_ERRNO") != null)' <<<"$output"
  [ "$(jq -r .ociVersionMax <<<"$output")" = 1.2.0 ]
}

@test "--version and --help" {
  run "$RT_BIN" --version
  [ "$status" -eq 0 ]
  grep -q '^samepage version [0-9]' <<<"$output"
  grep -qx 'spec: 1.2.0' <<<"$output"
  run "$RT_BIN" --help
  [ "$status" -eq 0 ]
  for v in create start run state list ps kill delete exec pause resume update spec features; do
    grep -q "^  $v " <<<"$output"
  done
}

@test "--log with --log-format json: an error is one JSON line with level and msg" {
  log=$RT_TESTDIR/log.json
  run sp --log "$log" --log-format json state "missing-$RT_PREFIX"
  [ "$status" -ne 0 ]
  cat "$log"
  [ "$(wc -l <"$log")" -eq 1 ]
  [ "$(jq -r .level "$log")" = error ]
  jq -r .msg "$log" | grep -q "missing-$RT_PREFIX"
  jq -e '.time | type == "string"' "$log"
}

@test "concurrency: ten parallel kill/state while deleting are serialised" {
  b=$(rt_bundle conc)
  rt_args "$b" sh -c 'trap "" TERM; while :; do sleep 0.05; done'
  id=$(rt_id conc)
  cdetach "$id" "$b"
  pids=()
  for i in $(seq 10); do
    if [ $((i % 2)) -eq 0 ]; then
      sp kill "$id" CONT >"$RT_TESTDIR/c$i.out" 2>&1 &
    else
      sp state "$id" >"$RT_TESTDIR/c$i.out" 2>&1 &
    fi
    pids+=($!)
    [ "$i" -eq 5 ] && { sp delete --force "$id" >"$RT_TESTDIR/del.out" 2>&1 & pids+=($!); delpid=$!; }
  done
  for p in "${pids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    [ "$p" = "$delpid" ] && { [ "$rc" -eq 0 ] || { cat "$RT_TESTDIR/del.out"; false; }; }
  done
  for i in $(seq 10); do
    out=$(cat "$RT_TESTDIR/c$i.out")
    # Either a full answer, or a clean "not there / not running" error: never a torn state.
    if jq -e . <<<"$out" >/dev/null 2>&1; then
      jq -e '.status == "running" or .status == "stopped"' <<<"$out"
    elif [ -n "$out" ]; then
      grep -Eq 'does not exist|not running' <<<"$out" || { echo "c$i: $out"; false; }
    fi
  done
  run sp state "$id"
  [ "$status" -ne 0 ]
  grep -q 'does not exist' <<<"$output"
}
