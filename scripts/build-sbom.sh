#!/usr/bin/env bash
# build-sbom.sh OUT.spdx.json PACKAGE...: the software bill of materials of an ekvm release as an
# SPDX 2.3 document (JSON): the Debian source packages the KVM trees come from (linux-source-<base>
# at each Debian version of the Makefile's DKMS_RELEASES_ALL, with the versions each tree also
# serves), every patch of each base's series (its SHA-256), and the PACKAGEs given (.deb and .rpm:
# name, version, SHA-256), with the relations between them: each package is generated from the
# series and the sources. The document's time is the release commit's (SOURCE_DATE_EPOCH, else
# the last commit's), so the same tree gives the same file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || usage "$0 OUT.spdx.json PACKAGE..."
out=$1
shift
for p in "$@"; do
	case $p in
	*.deb) dpkg-deb -f "$p" Package >/dev/null 2>&1 || die "$p is not a Debian package" ;;
	*.rpm) rpm -qp "$p" >/dev/null 2>&1 || die "$p is not an RPM package" ;;
	*) die "$p: a .deb or .rpm" ;;
	esac
done
pkgver=$(makefile_var PKG_VERSION)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$EKVM_TOP" log -1 --format=%ct 2>/dev/null || date +%s)}
{
	echo "meta $pkgver $(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ) $(git -C "$EKVM_TOP" rev-parse HEAD 2>/dev/null || echo NOASSERTION)"
	for r in $(makefile_var DKMS_RELEASES_ALL); do
		echo "source $(release_version "$r") $(release_source "$r") $(release_debvers "$r")"
	done
	for b in $(makefile_var BASES); do
		v=$(makefile_var "BASE_VERSION_$b")
		while read -r p; do
			echo "patch $b $p $(sha256sum <"$(patches_dir "$v")/$p" | cut -d' ' -f1)"
		done < <(series_patches "$v")
	done
	for p in "$@"; do
		case $p in
		*.deb) echo "deb $(dpkg-deb -f "$p" Package) $(dpkg-deb -f "$p" Version) $(basename "$p") $(sha256sum <"$p" | cut -d' ' -f1)" ;;
		*.rpm) echo "rpm $(rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE}' "$p" 2>/dev/null) $(basename "$p") $(sha256sum <"$p" | cut -d' ' -f1)" ;;
		esac
	done
} | python3 -c '
import json, sys
doc = {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
       "packages": [], "relationships": []}
def spdxid(*parts):
    return "SPDXRef-" + "-".join(parts).replace("_", "-").replace("+", "-").replace("~", "-").replace(":", "-")
series = {}
for line in sys.stdin:
    f = line.split()
    if f[0] == "meta":
        version, created, commit = f[1], f[2], f[3]
        doc["packages"].append({"SPDXID": "SPDXRef-ekvm-source", "name": "ekvm", "versionInfo": version,
            "supplier": "Organization: ekvm maintainers", "downloadLocation": "NOASSERTION",
            "sourceInfo": "git commit " + commit, "licenseConcluded": "GPL-2.0-only",
            "licenseDeclared": "GPL-2.0-only", "copyrightText": "NOASSERTION", "filesAnalyzed": False,
            "primaryPackagePurpose": "SOURCE",
            "comment": "the ekvm tree: the tool (userspace/), the build and packaging glue, the series"})
        doc["name"] = "ekvm-" + version
        doc["documentNamespace"] = "https://ekvm.invalid/spdx/ekvm-" + version
        doc["creationInfo"] = {"created": created, "creators": ["Organization: ekvm maintainers (maintainers@ekvm.invalid)", "Tool: ekvm scripts/build-sbom.sh"]}
    elif f[0] == "source":
        base, debvers = f[1], f[2:]
        series_name = base.rsplit(".", 1)[0]
        pid = spdxid("linux-source", debvers[0])
        doc["packages"].append({"SPDXID": pid, "name": "linux-source-" + series_name, "versionInfo": debvers[0],
            "supplier": "Organization: Debian", "downloadLocation": "https://deb.debian.org/debian/pool/main/l/linux/",
            "licenseConcluded": "GPL-2.0-only", "licenseDeclared": "GPL-2.0-only", "copyrightText": "NOASSERTION", "filesAnalyzed": False,
            "comment": "the KVM tree for Linux %s; its KVM files are also those of Debian %s" % (base, ", ".join(debvers[1:]) or "no other version")})
        series.setdefault(series_name, {"sources": [], "patches": []})["sources"].append(pid)
    elif f[0] == "patch":
        b, name, sha = f[1], f[2], f[3]
        pid = spdxid("patch", b, name[:4])
        doc["packages"].append({"SPDXID": pid, "name": name, "versionInfo": b, "supplier": "Organization: ekvm maintainers",
            "downloadLocation": "NOASSERTION", "licenseConcluded": "GPL-2.0-only", "licenseDeclared": "GPL-2.0-only",
            "copyrightText": "NOASSERTION", "filesAnalyzed": False, "checksums": [{"algorithm": "SHA256", "checksumValue": sha}],
            "comment": "patches/%s/%s" % (b, name)})
        series.setdefault(b, {"sources": [], "patches": []})["patches"].append(pid)
    elif f[0] in ("deb", "rpm"):
        kind, name, ver, fname, sha = f
        pid = spdxid(kind, name, ver)
        doc["packages"].append({"SPDXID": pid, "name": name, "versionInfo": ver, "packageFileName": fname,
            "supplier": "Organization: ekvm maintainers", "downloadLocation": "NOASSERTION",
            "licenseConcluded": "GPL-2.0-only", "licenseDeclared": "GPL-2.0-only", "copyrightText": "NOASSERTION",
            "filesAnalyzed": False, "checksums": [{"algorithm": "SHA256", "checksumValue": sha}],
            "primaryPackagePurpose": "INSTALL"})
        doc["relationships"].append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": pid})
        doc["relationships"].append({"spdxElementId": pid, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": "SPDXRef-ekvm-source"})
        # the packages that carry KVM: made from the Debian sources and the series too
        if "dkms" in name or "modules" in name or name.startswith(("kernel", "linux-image")):
            for s in series.values():
                for src in s["sources"] + s["patches"]:
                    doc["relationships"].append({"spdxElementId": pid, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": src})
json.dump(doc, sys.stdout, indent=1, sort_keys=True)
print()
' >"$out.tmp"
mv "$out.tmp" "$out"
info "SBOM $out: $(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["packages"]))' "$out") SPDX packages"
