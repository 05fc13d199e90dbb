# bench workload: a python worker that builds the same data every run
# (strings, dicts, lists of a few hundred MiB of small objects), then idles.
import sys, time
n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
data = {}
for i in range(n):
    data["key-%d" % i] = ["value-%d-%s" % (i, "x" * 32), i, float(i), {"n": i}]
print("ready", flush=True)
while True:
    time.sleep(3600)
