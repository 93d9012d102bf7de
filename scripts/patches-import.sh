#!/usr/bin/env bash
# Start work on a series: a git repository of the base's KVM files in build/work/linux-VERSION,
# the pristine base committed and tagged "base", the series applied on top with git am.
# Edit, commit (git commit --fixup, rebase -i ...), then scripts/patches-export.sh VERSION.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || usage "$0 VERSION"
version=$1
src=$(src_dir "$version") work="$EKVM_BUILD/work/linux-$version"
[ -f "$src/.ekvm-imported" ] || die "Linux $version is not imported (scripts/import-base.sh)"
[ ! -e "$work" ] || die "$work exists: export or remove it first"

mkdir -p "$work"
kvm_files "$src" | tar -C "$src" -cf - -T - | tar -C "$work" -xf -
git -C "$work" init -q -b ekvm
git -C "$work" add -A
git -C "$work" -c user.name="ekvm maintainers" -c user.email=maintainers@ekvm.invalid \
	commit -q -m "Linux $version (KVM files)"
git -C "$work" tag base
mapfile -t patches < <(series_patches "$version")
for p in "${patches[@]}"; do
	git -C "$work" am -q --keep-cr "$(patches_dir "$version")/$p" ||
		die "git am of $p failed: fix it in $work (git am --continue), then export"
done
info "$work: ${#patches[@]} patches on tag base"
