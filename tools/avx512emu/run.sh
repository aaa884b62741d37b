#!/usr/bin/env bash
# run.sh - run a static Linux/amd64 binary on an emulated AVX-512 CPU.
#
# Boots Debian's cloud kernel inside Bochs (CPU model corei7_skylake_x:
# AVX-512 F/CD/DQ/BW/VL) from a throw-away ISO whose initramfs holds the
# binary, a tiny Go /init and the folders given with --with. The binary's
# stdout and stderr arrive on the second serial port and are printed here;
# run.sh exits with the binary's exit status. See README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=avx512emu

usage() {
	cat <<'EOF'
usage: run.sh [options] BINARY [ARGS...]

Runs a static linux/amd64 BINARY (Go: CGO_ENABLED=0) with ARGS inside Bochs
emulating an AVX-512 CPU, prints its output and exits with its exit status.

options:
  --with DIR       copy DIR into the guest at the same absolute path (repeatable)
  --cwd DIR        working directory of BINARY in the guest (default: /)
  --env KEY=VALUE  environment variable for BINARY (repeatable)
  --timeout SECS   wall-clock limit for the whole run (default 1800, 0 = none)
  --mem MB         guest memory (default 1024)
  --cpu MODEL      Bochs CPU model (default corei7_skylake_x; see README.md)
  --kernel FILE    boot this bzImage instead of Debian's cloud kernel
  --append ARGS    extra kernel command-line arguments
  --keep           keep the run folder (console log, Bochs log, bochsrc)
  -v, --verbose    copy the guest console (kernel log) to stderr as it runs
  -h, --help       show this help

Status lines (CPU features, timings) go to stderr prefixed with "avx512emu:";
BINARY's own stdout and stderr go to stdout. Exit status: BINARY's status, or
124 on timeout, 125 if the emulator or guest failed before BINARY finished,
2 for bad options.

environment:
  AVX512EMU_CACHE  cache folder (default $XDG_CACHE_HOME/avx512emu, else /tmp/avx512emu)
EOF
}

die() {
	echo "$prog: error: $*" >&2
	exit 125
}
say() { echo "$prog: $*" >&2; }
usage_die() {
	echo "$prog: $* (see --help)" >&2
	exit 2
}

withs=()
envs=()
cwd=""
timeout=1800
mem=1024
cpu_model=corei7_skylake_x
kernel=""
append=""
keep=0
verbose=0
while [[ $# -gt 0 ]]; do
	case "$1" in
	--with) [[ $# -ge 2 ]] || usage_die "--with needs a folder"; withs+=("$2"); shift 2 ;;
	--with=*) withs+=("${1#*=}"); shift ;;
	--cwd) [[ $# -ge 2 ]] || usage_die "--cwd needs a folder"; cwd=$2; shift 2 ;;
	--cwd=*) cwd=${1#*=}; shift ;;
	--env) [[ $# -ge 2 ]] || usage_die "--env needs KEY=VALUE"; envs+=("$2"); shift 2 ;;
	--env=*) envs+=("${1#*=}"); shift ;;
	--timeout) [[ $# -ge 2 ]] || usage_die "--timeout needs seconds"; timeout=$2; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--mem) [[ $# -ge 2 ]] || usage_die "--mem needs megabytes"; mem=$2; shift 2 ;;
	--mem=*) mem=${1#*=}; shift ;;
	--cpu) [[ $# -ge 2 ]] || usage_die "--cpu needs a model"; cpu_model=$2; shift 2 ;;
	--cpu=*) cpu_model=${1#*=}; shift ;;
	--kernel) [[ $# -ge 2 ]] || usage_die "--kernel needs a file"; kernel=$2; shift 2 ;;
	--kernel=*) kernel=${1#*=}; shift ;;
	--append) [[ $# -ge 2 ]] || usage_die "--append needs arguments"; append=$2; shift 2 ;;
	--append=*) append=${1#*=}; shift ;;
	--keep) keep=1; shift ;;
	-v | --verbose) verbose=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage_die "unknown option $1" ;;
	*) break ;;
	esac
done
[[ $# -ge 1 ]] || { usage >&2; exit 2; }
binary=$1
shift

[[ -f "$binary" ]] || usage_die "$binary: no such file"
[[ "$timeout" =~ ^[0-9]+$ ]] || usage_die "--timeout $timeout: want whole seconds"
[[ "$mem" =~ ^[0-9]+$ && "$mem" -ge 256 ]] || usage_die "--mem $mem: want megabytes, at least 256"
for d in "${withs[@]}"; do [[ -d "$d" ]] || usage_die "--with $d: not a folder"; done
if [[ -n "$cwd" && "$cwd" != /* ]]; then usage_die "--cwd $cwd: want an absolute path"; fi
for e in "${envs[@]}"; do [[ "$e" == *=* ]] || usage_die "--env $e: want KEY=VALUE"; done
if [[ -n "$kernel" && ! -f "$kernel" ]]; then usage_die "--kernel $kernel: no such file"; fi

# --- host tools ---------------------------------------------------------------

apt_install() {
	if [[ $(id -u) -ne 0 ]]; then
		die "$* missing; install with: sudo apt-get install $*"
	fi
	say "installing $* with apt-get"
	local i
	for i in 1 2 3 4 5 6; do
		if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; then
			return 0
		fi
		# Stale package lists, or another process holding the dpkg lock.
		[[ $i -eq 1 ]] && apt-get update >/dev/null 2>&1 || sleep 10
	done
	die "apt-get install $* failed"
}

command -v go >/dev/null || die "go not found in PATH"
have_bochs() {
	command -v bochs-bin >/dev/null && [[ -f /usr/share/bochs/BIOS-bochs-latest ]] &&
		[[ -f /usr/share/vgabios/vgabios.bin ]] &&
		compgen -G "/usr/lib/*/bochs/plugins/libbx_term_gui.so*" >/dev/null
}
if ! have_bochs; then
	apt_install bochs bochs-term bochsbios vgabios
	have_bochs || die "Bochs is incomplete after installing bochs bochs-term bochsbios vgabios"
fi

mkiso=""
if command -v xorriso >/dev/null; then
	mkiso="xorriso -as mkisofs"
elif command -v genisoimage >/dev/null; then
	mkiso=genisoimage
elif command -v mkisofs >/dev/null; then
	mkiso=mkisofs
else
	apt_install xorriso
	mkiso="xorriso -as mkisofs"
fi

# --- cache: kernel, isolinux, init ------------------------------------------

cache=${AVX512EMU_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/avx512emu}}
if [[ -z "$cache" ]]; then
	cache=/tmp/avx512emu
	# Another user's /tmp/avx512emu is not ours to write.
	if ! mkdir -p "$cache" 2>/dev/null || [[ ! -w "$cache" ]]; then
		cache=/tmp/avx512emu-$(id -u)
	fi
fi
mkdir -p "$cache" || die "cannot create cache folder $cache"
exec 9>"$cache/.lock"
flock 9 # one run at a time fills the cache

# apt_download PKG: fetch PKG's .deb into $cache/debs (no root needed).
apt_download() {
	mkdir -p "$cache/debs"
	local deb
	deb=$(ls "$cache/debs/${1}_"*.deb 2>/dev/null | head -n1 || true)
	if [[ -z "$deb" ]]; then
		say "downloading Debian package $1"
		(cd "$cache/debs" && apt-get download "$1" >/dev/null 2>"$cache/debs/apt.err") ||
			{
				cat "$cache/debs/apt.err" >&2
				die "apt-get download $1 failed (run 'apt-get update' first?)"
			}
		deb=$(ls "$cache/debs/${1}_"*.deb | head -n1)
	fi
	echo "$deb"
}

# The cloud flavour of Debian's kernel is LZ4-compressed and has few built-in
# drivers: it boots in about a third of the time of linux-image-amd64 (XZ) under
# Bochs, where every instruction of decompression and driver probing counts.
if [[ -z "$kernel" ]]; then
	kernel=$(ls "$cache"/kernel/vmlinuz-* 2>/dev/null | head -n1 || true)
	if [[ -z "$kernel" ]]; then
		pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ && !p {print $2; p = 1}')
		if [[ -z "$pkg" && $(id -u) -eq 0 ]]; then
			apt-get update >/dev/null 2>&1 || true
			pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ && !p {print $2; p = 1}')
		fi
		[[ -n "$pkg" ]] || die "cannot resolve linux-image-cloud-amd64 (run 'apt-get update'), or pass --kernel"
		deb=$(apt_download "$pkg")
		rm -rf "$cache/kernel.tmp" && mkdir -p "$cache/kernel.tmp"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$cache/kernel.tmp" --wildcards './boot/vmlinuz-*' ||
			die "cannot extract the kernel from $deb (delete it to download it again)"
		mkdir -p "$cache/kernel"
		mv "$cache"/kernel.tmp/boot/vmlinuz-* "$cache/kernel/"
		rm -rf "$cache/kernel.tmp"
		kernel=$(ls "$cache"/kernel/vmlinuz-* | head -n1)
	fi
fi

isolinux_bin=/usr/lib/ISOLINUX/isolinux.bin
ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
if [[ ! -f $isolinux_bin || ! -f $ldlinux ]]; then
	isolinux_bin=$cache/syslinux/usr/lib/ISOLINUX/isolinux.bin
	ldlinux=$cache/syslinux/usr/lib/syslinux/modules/bios/ldlinux.c32
	if [[ ! -f $isolinux_bin || ! -f $ldlinux ]]; then
		for p in isolinux syslinux-common; do
			dpkg-deb -x "$(apt_download $p)" "$cache/syslinux"
		done
	fi
	[[ -f $isolinux_bin && -f $ldlinux ]] || die "isolinux.bin or ldlinux.c32 missing after extracting isolinux, syslinux-common"
fi

# The Go build cache makes these rebuilds nearly free when nothing changed.
mkdir -p "$cache/bin"
(cd "$here" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags='-s -w' -o "$cache/bin/init" ./init) ||
	die "building $here/init failed"
(cd "$here" && go build -o "$cache/bin/mkinitramfs" ./mkinitramfs) || die "building $here/mkinitramfs failed"
flock -u 9
exec 9>&-

# --- the run folder ----------------------------------------------------------

run=$(mktemp -d "$cache/run.XXXXXX")
bochs_pid=""
cleanup() {
	if [[ -n "$bochs_pid" ]] && kill -0 "$bochs_pid" 2>/dev/null; then
		# Bochs ignores SIGTERM while its debugger loop runs.
		kill -KILL "$bochs_pid" 2>/dev/null || true
	fi
	if [[ $keep -eq 1 ]]; then
		say "run folder kept: $run"
	else
		rm -rf "$run"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$run/iso/isolinux"
cp "$isolinux_bin" "$ldlinux" "$run/iso/isolinux/"
cp "$kernel" "$run/iso/vmlinuz"

mkargs=(-o "$run/iso/initrd" -init "$cache/bin/init")
[[ -n "$cwd" ]] && mkargs+=(-cwd "$cwd")
for e in "${envs[@]}"; do mkargs+=(-env "$e"); done
for d in "${withs[@]}"; do mkargs+=(-with "$d"); done
"$cache/bin/mkinitramfs" "${mkargs[@]}" -- "$binary" "$@" || exit 125

# quiet/loglevel: every console byte costs emulated time.
# clearcpuid=xsaves,xsavec: Bochs 2.7 reports the compacted XSAVE size wrongly
#   (CPUID 0xD.1 EBX), so Linux would disable XSAVE, and with it AVX, entirely.
#   The standard XSAVE format is consistent.
#   pku: Bochs lists PKRU state (tigerlake, icelake) but describes it as
#   0 bytes; aperfmperf: the MSRs are not implemented.
# cryptomgr.notests: the boot-time crypto self-tests take ~20 s of AVX code.
# rodata=off: skips the W+X page-table walk (~4 s).
# initcall_blacklist: tracing set-up nobody here uses (~2 s of boot in an initcall_debug run).
cmdline="console=ttyS0,115200 quiet loglevel=4 nokaslr mitigations=off panic=0 tsc=reliable no_timer_check"
cmdline+=" clearcpuid=xsaves,xsavec,pku,aperfmperf cryptomgr.notests rodata=off nowatchdog 8250.nr_uarts=2"
cmdline+=" initcall_blacklist=trace_eval_init,init_trace_printk_function_export $append"
cat >"$run/iso/isolinux/isolinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd
  APPEND $cmdline
EOF
$mkiso -quiet -o "$run/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table "$run/iso" >"$run/mkiso.log" 2>&1 ||
	{
		cat "$run/mkiso.log" >&2
		die "making the boot ISO failed"
	}
rm -f "$run/iso/initrd" "$run/iso/vmlinuz"

# ips only sets how fast guest time passes per emulated instruction
# (clock sync=none: guest time is instruction-driven, not wall-clock).
cat >"$run/bochsrc" <<EOF
display_library: term
romimage: file=/usr/share/bochs/BIOS-bochs-latest, options=fastboot
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=$cpu_model, count=1, ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=1
memory: guest=$mem, host=$mem
pci: enabled=1, chipset=i440fx
clock: sync=none, time0=local
ata0-master: type=cdrom, path=$run/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$run/console.log
com2: enabled=1, mode=file, dev=$run/output.log
speaker: enabled=0
mouse: enabled=0
log: $run/bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
EOF
# The Debian build of Bochs has the internal debugger: "c" starts the machine.
echo c >"$run/debugger.rc"
: >"$run/console.log"
: >"$run/output.log"

start=$(date +%s)
# setsid: the term display must not draw on the caller's terminal.
TERM=xterm setsid bochs-bin -q -f "$run/bochsrc" -rc "$run/debugger.rc" \
	</dev/null >"$run/bochs.stdout" 2>"$run/bochs.stderr" &
bochs_pid=$!

# --- follow the console and the job output ------------------------------------

out_done=0     # bytes of output.log already printed
con_lines=0    # lines of console.log already scanned
status=""      # the job's exit status once the marker is seen
fail=""        # why the run ended without a status
boot_done=""
print_output() {
	local size
	size=$(stat -c %s "$run/output.log")
	if [[ $size -gt $out_done ]]; then
		# No pipe here: under pipefail a reader that stops early is an error.
		dd if="$run/output.log" bs=64K skip="$out_done" count=$((size - out_done)) \
			iflag=skip_bytes,count_bytes status=none
		out_done=$size
	fi
}
scan_console() {
	local line n
	n=$(wc -l <"$run/console.log")
	[[ $n -gt $con_lines ]] || return 0
	while IFS= read -r line; do
		line=${line%$'\r'}
		[[ $verbose -eq 1 ]] && printf '%s\n' "$line" >&2
		case "$line" in
		"$prog: running "*)
			boot_done=$(date +%s)
			[[ $verbose -eq 1 ]] || printf '%s (boot took %ss)\n' "$line" $((boot_done - start)) >&2
			;;
		"$prog: "*) [[ $verbose -eq 1 ]] || printf '%s\n' "$line" >&2 ;;
		*"AVX512EMU-EXIT: "[0-9]*)
			status=${line##*AVX512EMU-EXIT: }
			status=${status%%[!0-9]*}
			;;
		*"Kernel panic"*) fail="guest kernel panic: $line" ;;
		esac
	done < <(sed -n "$((con_lines + 1)),${n}p" "$run/console.log")
	con_lines=$n
}

while :; do
	scan_console
	print_output
	[[ -n "$status" || -n "$fail" ]] && break
	if ! kill -0 "$bochs_pid" 2>/dev/null; then
		sleep 0.2
		print_output
		scan_console
		[[ -n "$status" ]] && break
		fail="Bochs exited before the job finished: $(grep -h -A1 'exiting with the following message' "$run/bochs.stderr" "$run/bochs.stdout" 2>/dev/null | tail -n1)"
		break
	fi
	if [[ $timeout -gt 0 && $(($(date +%s) - start)) -ge $timeout ]]; then
		fail="timeout after ${timeout}s"
		break
	fi
	sleep 0.5
done

# The guest powers itself off; give Bochs a moment, then make sure.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	kill -0 "$bochs_pid" 2>/dev/null || break
	sleep 0.2
done
kill -KILL "$bochs_pid" 2>/dev/null || true
wait "$bochs_pid" 2>/dev/null || true
bochs_pid=""
print_output

end=$(date +%s)
if [[ -n "$fail" ]]; then
	say "$fail"
	say "last console lines:"
	tail -n 15 "$run/console.log" | sed "s/^/$prog:   /" >&2
	keep=1
	[[ "$fail" == timeout* ]] && exit 124
	exit 125
fi
if [[ -n "$boot_done" ]]; then
	say "exit status $status; boot $((boot_done - start))s, job $((end - boot_done))s, total $((end - start))s"
else
	say "exit status $status; total $((end - start))s"
fi
exit "$status"
