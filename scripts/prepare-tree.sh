#!/usr/bin/env bash
# Lay out an out-of-tree KVM build tree: the KVM files of the imported base, the series (or its
# first COUNT patches) applied, the generated version header and the build glue from kernel/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

{ [ $# -ge 2 ] && [ $# -le 3 ]; } || usage "$0 VERSION DEST [COUNT]"
version=$1 dest=$2 count=${3:-all}
src=$(src_dir "$version")
[ -f "$src/.ekvm-imported" ] || die "Linux $version is not imported (scripts/import-base.sh)"
release=${EKVM_RELEASE:-$(makefile_var EKVM_RELEASE)}
[ -n "$release" ] || die "EKVM_RELEASE is not set in the top Makefile"

rm -rf "$dest" && mkdir -p "$dest"
kvm_files "$src" | tar -C "$src" -cf - -T - | tar -C "$dest" -xf -

mapfile -t patches < <(series_patches "$version")
[ "$count" = all ] && count=${#patches[@]}
applied=()
for p in "${patches[@]:0:$count}"; do
	apply_patch "$dest" "$(patch_file "$version" "$p")"
	applied+=("$p")
done

kernel="$EKVM_TOP/kernel"
install -m 0644 "$kernel/Kbuild" "$dest/arch/x86/kvm/Kbuild"
install -m 0644 "$kernel/tree.mk" "$dest/Makefile"
install -m 0755 "$kernel/ekvm-check.sh" "$dest/ekvm-check.sh"
grep -E ' (arch/x86/)?include/' "$(manifest_of "$version")" >"$dest/base-headers.sha256"
# kbuild wants an include/uapi folder in every external module folder.
mkdir -p "$dest/arch/x86/kvm/include/uapi"
printf 'EKVM_BASE := %s\nEKVM_VERSION := %s.%s\n' "$version" "$version" "$release" >"$dest/ekvm.mk"

write_identity "$dest" "$version" "$release" "${applied[@]}"
info "prepared $dest (Linux $version, ${#applied[@]} of ${#patches[@]} patches)"
