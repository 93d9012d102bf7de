#!/usr/bin/env bash
# Write the manifest of a base: every KVM-owned file of a Linux tree with its sha256. The manifest
# states facts about the base (which files, which contents) and holds none of its code.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || usage "$0 LINUX_TREE VERSION   (writes kernel/manifests/VERSION.sha256)"
tree=$1 version=$2
[ -f "$tree/Makefile" ] || die "$tree is not a Linux source tree"
kvm_files "$tree" | (cd "$tree" && xargs sha256sum) >"$(manifest_of "$version")"
info "wrote $(manifest_of "$version") ($(wc -l <"$(manifest_of "$version")") files)"
