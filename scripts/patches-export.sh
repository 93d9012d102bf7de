#!/usr/bin/env bash
# Write the commits after tag "base" of build/work/linux-VERSION as the series: patch files
# (format-patch with a zeroed From line, no numbering, no signature, full index, so that a rebase
# rewrites only the patches whose content changed) and the series file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || usage "$0 VERSION"
version=$1
work="$EKVM_BUILD/work/linux-$version" dir=$(patches_dir "$version")
git -C "$work" rev-parse -q --verify base >/dev/null || die "no work repository at $work"
[ -z "$(git -C "$work" status --porcelain)" ] || die "$work has uncommitted changes"

mkdir -p "$dir"
rm -f "$dir"/[0-9][0-9][0-9][0-9]-*.patch
git -C "$work" format-patch -q --zero-commit --no-numbered --no-signature --full-index \
	-o "$dir" base..HEAD
{
	echo "# ekvm series on Linux $(series_of "$version").y: one patch a line, applied in order."
	(cd "$dir" && ls -1 [0-9][0-9][0-9][0-9]-*.patch 2>/dev/null) || true
} >"$dir/series"
info "exported $(grep -vc '^#' "$dir/series") patches to $dir"
