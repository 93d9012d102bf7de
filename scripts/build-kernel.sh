#!/usr/bin/env bash
# Lay out a whole kernel tree for an ekvm kernel package (docs/kernel-packages.md): the imported
# base source, the series of patches/<series>/series applied, the generated ekvm_version.h and
# the .config of a profile. Prints the tree's path on stdout.
#   build-kernel.sh PROFILE
# PROFILE is minimal (CI: x86_64_defconfig + kvm_guest.config + ekvm.config + minimal.config)
# or release (Debian's config of the base kernel + ekvm.config + release.config).
# The base is the top Makefile's (BASE=6.1|6.12 in the environment or make's command line).
# The tree is build/kernel/<base>/PROFILE/linux-<version>; it is made again only when the base,
# the series or the release counter changed (a stamp of their contents), so a second package
# build reuses the objects of the first. The final config is also written beside the tree as
# build/kernel/<base>/PROFILE/config, with config-el (the RPM build's Source1: the same with
# kernel/config/el.config merged last) and ekvm_version.h (its Source2).
# The fragments are kernel/config/{ekvm,PROFILE}.config, each followed by the base's override of
# the same name in kernel/config/<base>/ when there is one (a later line of an option wins).
# EKVM_KCONFIG_DIR replaces kernel/config/ (the tests use it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || usage "$0 minimal|release"
profile=$1
version=$(makefile_var VERSION)
release=${EKVM_RELEASE:-$(makefile_var EKVM_RELEASE)}
src=$(src_dir "$version")
cfgdir=${EKVM_KCONFIG_DIR:-$EKVM_TOP/kernel/config}
series=$(series_of "$version")
work=$EKVM_BUILD/kernel/$series/$profile
# Another release counter than the Makefile's (EKVM_RELEASE=N, the kernel tests' next release)
# gets a folder of its own, so that the release's tree and objects stay.
[ "$release" = "$(makefile_var EKVM_RELEASE)" ] || work+=-r$release
tree=$work/linux-$version
case $profile in
minimal) base_config='' ;;
release)
	base_kver=$(makefile_var KVER)
	base_config=/usr/src/linux-headers-$base_kver/.config
	[ -f "$base_config" ] || die "no $base_config: scripts/install-deps.sh $base_kver" ;;
*) usage "$0 minimal|release" ;;
esac
[ -f "$src/.ekvm-imported" ] || die "Linux $version is not imported (make import)"
[ ! -f "$src/.ekvm-kvm-only" ] || die "Linux $version is imported without its whole tree (make import imports it whole)"
# ekvm's fragments, in merge order: each common one, then the base's override of it if any.
ours=()
for f in ekvm.config "$profile.config"; do
	[ -f "$cfgdir/$f" ] || die "no kernel/config/$f"
	ours+=("$cfgdir/$f")
	[ ! -f "$cfgdir/$series/$f" ] || ours+=("$cfgdir/$series/$f")
done

# The tree: base + series. The stamp is the hash of what went into it.
mapfile -t patches < <(series_patches "$version")
stamp=$( {
	echo "base $version $(cat "$src/.ekvm-imported") release $release"
	for p in "${patches[@]}"; do
		f=$(patch_file "$version" "$p")
		[ -f "$f" ] || die "patch $p is listed in the series but missing"
		echo "$p $(sha256sum <"$f")"
	done
} | sha256sum | cut -d' ' -f1)
if [ "$(cat "$work/.tree-stamp" 2>/dev/null)" != "$stamp" ]; then
	info "laying out $tree (Linux $version, ${#patches[@]} patches)"
	rm -rf "$tree" "$tree.tmp" "$work/.tree-stamp"
	mkdir -p "$work"
	mkdir -p "$tree.tmp"
	# not the import's stamp, nor its git history if any (kbuild would add a "+" to the release)
	tar -C "$src" --exclude=./.git --exclude=./.ekvm-imported -cf - . | tar -C "$tree.tmp" -xf -
	for p in "${patches[@]}"; do
		apply_patch "$tree.tmp" "$(patch_file "$version" "$p")"
	done
	write_identity "$tree.tmp" "$version" "$release" "${patches[@]}"
	# uname -r: <version>.<release><CONFIG_LOCALVERSION>, e.g. 6.1.192.1-ekvm (kbuild puts
	# localversion* files before CONFIG_LOCALVERSION)
	echo ".$release" >"$tree.tmp/localversion-ekvm"
	mv "$tree.tmp" "$tree"
	echo "$stamp" >"$work/.tree-stamp"
fi
cp "$tree/include/linux/ekvm_version.h" "$work/ekvm_version.h"
cp "$tree/localversion-ekvm" "$work/localversion-ekvm"

# A config: the profile's base, the fragments FRAG... merged over it, make olddefconfig, written
# to OUT; then every line of the fragments must hold (an option Kconfig dropped is an error, not
# a surprise).
make_config() {
	local out=$1 merge=$work/merge line opt f frags
	shift
	rm -rf "$merge" && mkdir -p "$merge"
	if [ -z "$base_config" ]; then
		make -s -C "$tree" KCONFIG_CONFIG="$merge/.config" x86_64_defconfig >/dev/null
		frags=("$tree/kernel/configs/kvm_guest.config" "$@")
	else
		cp "$base_config" "$merge/.config"
		frags=("$@")
	fi
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$merge" "$merge/.config" "${frags[@]}" \
		>"$merge/log" 2>&1 || die "merge_config failed: $(tail -1 "$merge/log")"
	cp "$merge/.config" "$out"
	make -s -C "$tree" KCONFIG_CONFIG="$out" olddefconfig >/dev/null
	# What ekvm's fragments ask for, an option's last line winning (a base's override), each
	# line with the fragment that says it.
	local -A want=() from=()
	for f in "$@"; do
		while read -r line; do
			want[${line%%[= ]*}]=$line
			from[${line%%[= ]*}]=kernel/config/${f#"$cfgdir"/}
		done < <(sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*=.*\)/\1/p' -e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set/\1 unset/p' "$f")
	done
	for opt in "${!want[@]}"; do
		line=${want[$opt]}
		if [[ $line == *=* ]]; then
			grep -qxF -- "$line" "$out" ||
				die "${from[$opt]}: $line does not hold after olddefconfig (got: $(grep "^$opt=" "$out" || echo 'not set'))"
		elif grep -q "^$opt=" "$out"; then
			die "${from[$opt]}: $opt should not be set, got $(grep "^$opt=" "$out")"
		fi
	done
	rm -rf "$merge" "$out.old"
	# A profile other than release says so in uname -r (6.1.192.1-ekvm-minimal), so that a
	# test kernel is never taken for, nor installed over, a release kernel of the same version.
	if [ "$profile" != release ]; then
		sed -i "s/^CONFIG_LOCALVERSION=\"\(.*\)\"$/CONFIG_LOCALVERSION=\"\1-$profile\"/" "$out"
		grep -q "^CONFIG_LOCALVERSION=\".*-$profile\"$" "$out" || die "no CONFIG_LOCALVERSION in $out"
	fi
}

# The profile's config (the tree's: the Debian packages), then the RPM's (config-el: the same
# with el.config and its base override merged last, SELinux first among the LSMs).
cfg=$work/config.new
make_config "$cfg" "${ours[@]}"
el=("$cfgdir/el.config")
[ ! -f "$cfgdir/$series/el.config" ] || el+=("$cfgdir/$series/el.config")
make_config "$work/config-el.new" "${ours[@]}" "${el[@]}"
mv "$work/config-el.new" "$work/config-el"
# Left alone when unchanged, so that kbuild sees nothing new.
if ! cmp -s "$cfg" "$tree/.config"; then cp "$cfg" "$tree/.config"; fi
mv "$cfg" "$work/config"
echo "$tree"
