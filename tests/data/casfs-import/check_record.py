#!/usr/bin/env python3
"""Test helper: checks an image record against the OCI layout it came from.

  check_record.py STORE RECORD_HEX MERGED_TREE_HEX LAYOUT_DIR SOURCE
"""
import hashlib, json, os, sys

store, rec, tree, layout, source = sys.argv[1:6]
with open(os.path.join(store, "images", rec + ".json"), "rb") as f:
    raw = f.read()
assert hashlib.sha256(raw).hexdigest() == rec, "record does not match its name"
r = json.loads(raw)
index = json.load(open(os.path.join(layout, "index.json")))
mdig = index["manifests"][0]["digest"]
manifest = json.load(open(os.path.join(layout, "blobs/sha256", mdig[7:])))
config = json.load(open(os.path.join(layout, "blobs/sha256", manifest["config"]["digest"][7:])))

assert r["version"] == 1 and r["tree"] == "sha256:" + tree, r
assert r["source"] == source, (r["source"], source)
assert r["manifest_digest"] == mdig
assert r["config_digest"] == manifest["config"]["digest"]
cfg = r["config_digest"][7:]
with open(os.path.join(store, "objects", cfg[:2], cfg[2:]), "rb") as f:
    assert hashlib.sha256(f.read()).hexdigest() == cfg
assert len(r["layers"]) == len(manifest["layers"])
for got, want, diff_id in zip(r["layers"], manifest["layers"], config["rootfs"]["diff_ids"]):
    assert got["digest"] == want["digest"] and got["size"] == want["size"], (got, want)
    assert got["media_type"] == want["mediaType"] and got["diff_id"] == diff_id, (got, want)
    t = got["tree"][7:]
    assert os.path.exists(os.path.join(store, "trees", t[:2], t[2:])), "layer tree missing"
print("record ok: %d layers" % len(r["layers"]))
