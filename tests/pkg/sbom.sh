#!/usr/bin/env bash
# The release's SBOM (scripts/build-sbom.sh, make sbom) over make deb's and make rpm's packages:
# an SPDX 2.3 document with its required fields; unique, well-formed SPDX ids and relationships
# between ids that exist; every package file with its real SHA-256; the Debian source package
# and version each KVM tree comes from (DKMS_RELEASES_ALL) and every patch of every base's series
# with its SHA-256; the same file twice from the same tree; a file that is not a package refused
# in one line.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

mapfile -t pkgs < <(find "$EKVM_BUILD/deb" "$EKVM_BUILD/rpm" -maxdepth 1 \
	\( -name "*_${PKGVER}_*.deb" -o -name "ekvm-*-$PKGVER-*.rpm" \) -not -name '*dbgsym*' -not -name 'ekvm-debug*' | sort)
[ ${#pkgs[@]} -ge 6 ] || fail "no packages of $PKGVER: run make deb rpm first"
"$EKVM_TOP/scripts/build-sbom.sh" "$TEST_TMP/a.spdx.json" "${pkgs[@]}"
"$EKVM_TOP/scripts/build-sbom.sh" "$TEST_TMP/b.spdx.json" "${pkgs[@]}" 2>/dev/null
cmp -s "$TEST_TMP/a.spdx.json" "$TEST_TMP/b.spdx.json" || fail "two runs on the same tree differ"

releases=$(makefile_var DKMS_RELEASES_ALL)
patches=$(for b in $(makefile_var BASES); do
	v=$(makefile_var "BASE_VERSION_$b")
	while read -r p; do echo "$b $p $(sha256sum <"$(patches_dir "$v")/$p" | cut -d' ' -f1)"; done < <(series_patches "$v")
done)
files=$(for p in "${pkgs[@]}"; do echo "$(basename "$p") $(sha256sum <"$p" | cut -d' ' -f1)"; done)
python3 - "$TEST_TMP/a.spdx.json" "$releases" "$patches" "$files" "$PKGVER" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
releases, patches, files, version = sys.argv[2].split(), sys.argv[3].splitlines(), sys.argv[4].splitlines(), sys.argv[5]
def fail(msg):
    print("FAIL: " + msg); sys.exit(1)
for k in ("spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo", "packages"):
    if k not in doc: fail("no " + k)
if doc["spdxVersion"] != "SPDX-2.3" or doc["dataLicense"] != "CC0-1.0" or doc["SPDXID"] != "SPDXRef-DOCUMENT":
    fail("header: %s %s %s" % (doc["spdxVersion"], doc["dataLicense"], doc["SPDXID"]))
if doc["name"] != "ekvm-" + version: fail("name " + doc["name"])
if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["creationInfo"]["created"]) or not doc["creationInfo"]["creators"]:
    fail("creationInfo " + str(doc["creationInfo"]))
ids = [p["SPDXID"] for p in doc["packages"]]
if len(ids) != len(set(ids)): fail("SPDX ids repeat")
for i in ids:
    if not re.fullmatch(r"SPDXRef-[A-Za-z0-9.-]+", i): fail("bad SPDX id " + i)
for p in doc["packages"]:
    for k in ("name", "downloadLocation", "licenseConcluded", "copyrightText", "versionInfo"):
        if k not in p: fail("%s has no %s" % (p["SPDXID"], k))
known = set(ids) | {"SPDXRef-DOCUMENT"}
for r in doc["relationships"]:
    if r["spdxElementId"] not in known or r["relatedSpdxElement"] not in known: fail("relationship to nothing: " + str(r))
by_file = {p.get("packageFileName"): p for p in doc["packages"] if "packageFileName" in p}
for line in files:
    name, sha = line.split()
    if name not in by_file: fail(name + " is not in the SBOM")
    if by_file[name]["checksums"] != [{"algorithm": "SHA256", "checksumValue": sha}]: fail(name + "'s checksum")
described = {r["relatedSpdxElement"] for r in doc["relationships"] if r["relationshipType"] == "DESCRIBES"}
if described != {p["SPDXID"] for p in by_file.values()}: fail("DESCRIBES is not exactly the packages")
sources = {(p["name"], p["versionInfo"]) for p in doc["packages"] if p["name"].startswith("linux-source-")}
for r in releases:
    v, debvers = r.split(":")
    want = ("linux-source-" + v.rsplit(".", 1)[0], debvers.split(",")[0])
    if want not in sources: fail("no %s %s" % want)
pat = {(p["versionInfo"], p["name"], p["checksums"][0]["checksumValue"]) for p in doc["packages"] if p["name"].endswith(".patch")}
for line in patches:
    if tuple(line.split()) not in pat: fail("patch " + line)
dkms = [p["SPDXID"] for p in by_file.values() if p["name"] == "ekvm-dkms"]
gen = {r["relatedSpdxElement"] for r in doc["relationships"] if r["spdxElementId"] in dkms and r["relationshipType"] == "GENERATED_FROM"}
if not any(g.startswith("SPDXRef-linux-source-") for g in gen) or not any(g.startswith("SPDXRef-patch-") for g in gen):
    fail("ekvm-dkms is not generated from the sources and the series")
print("SPDX 2.3: %d packages (%d files, %d sources, %d patches), %d relationships" %
      (len(ids), len(by_file), len(sources), len(pat), len(doc["relationships"])))
PY
echo "not a package" >"$TEST_TMP/x.deb"
expect_failure "$EKVM_TOP/scripts/build-sbom.sh" "$TEST_TMP/c.spdx.json" "$TEST_TMP/x.deb"
# shellcheck disable=SC2154 # out: set by expect_failure (tests/lib.sh)
assert_eq "a file that is not a package" "ekvm: $TEST_TMP/x.deb is not a Debian package" "$out"
[ ! -e "$TEST_TMP/c.spdx.json" ] || fail "a refused run wrote an SBOM"
