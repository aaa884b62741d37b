//go:build linux

// Command init is PID 1 of the avx512emu guest: a tiny Linux userland that
// runs one static binary under the Bochs AVX-512 CPU model and powers the
// machine off.
//
// run.sh packs it as /init into an initramfs together with the binary and a
// job description (/avx512emu/job.json). It mounts the pseudo file systems,
// reports the AVX-512 features the kernel and the Go runtime see, runs the
// job with its stdout and stderr on the second serial port (so the output is
// not mixed with kernel messages on the console), prints a marker line with
// the exit status on the console and powers off.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"
)

// jobPath is where run.sh puts the job description inside the initramfs.
const jobPath = "/avx512emu/job.json"

// Marker prefixes; run.sh greps the console for them, so keep them in step
// with run.sh.
const (
	exitMarker = "AVX512EMU-EXIT:"
	infoPrefix = "avx512emu:"
)

// job is what run.sh asks the guest to do.
type job struct {
	Argv   []string `json:"argv"`
	Dir    string   `json:"dir"`    // working directory, "" means /
	Env    []string `json:"env"`    // extra KEY=VALUE pairs
	Output string   `json:"output"` // device for the job's stdout/stderr
}

func main() {
	code := run()
	// The marker goes last so run.sh knows the output device is drained.
	fmt.Printf("\n%s %d\n", exitMarker, code)
	drain(os.Stdout)
	powerOff()
}

func info(format string, args ...any) {
	fmt.Printf(infoPrefix+" "+format+"\n", args...)
}

func run() int {
	mountAll()
	if err := loopbackUp(); err != nil {
		info("warning: loopback interface: %v", err)
	}

	b, err := os.ReadFile(jobPath)
	if err != nil {
		info("error: %v", err)
		return 125
	}
	var j job
	if err := json.Unmarshal(b, &j); err != nil {
		info("error: %s: %v", jobPath, err)
		return 125
	}
	if len(j.Argv) == 0 {
		info("error: %s: empty argv", jobPath)
		return 125
	}

	reportCPU()

	out := os.Stdout
	if j.Output != "" {
		f, err := os.OpenFile(j.Output, os.O_WRONLY|syscall.O_NOCTTY, 0)
		if err != nil {
			info("warning: %v; job output goes to the console", err)
		} else {
			rawTTY(f)
			defer f.Close()
			out = f
		}
	}

	cmd := exec.Command(j.Argv[0], j.Argv[1:]...)
	cmd.Dir = j.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.Env = append([]string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=/root",
		"TMPDIR=/tmp",
		"USER=root",
	}, j.Env...)
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out

	info("running %q in %s", j.Argv, cmd.Dir)
	err = cmd.Run()
	drain(out)

	code := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			info("job killed by signal %v", ws.Signal())
			code = 128 + int(ws.Signal())
		} else {
			code = ee.ExitCode()
		}
	default:
		info("error: cannot start %s: %v", j.Argv[0], err)
		code = 127
	}
	return code
}

// mountAll mounts what a Go program or test commonly touches. Failures are
// reported, not fatal: a job that needs nothing of it still runs.
func mountAll() {
	mounts := []struct{ src, dir, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"devpts", "/dev/pts", "devpts"},
		{"tmpfs", "/dev/shm", "tmpfs"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			info("warning: mkdir %s: %v", m.dir, err)
			continue
		}
		if err := unix.Mount(m.src, m.dir, m.fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			info("warning: mount %s on %s: %v", m.fstype, m.dir, err)
		}
	}
	if err := os.MkdirAll("/root", 0o700); err != nil {
		info("warning: mkdir /root: %v", err)
	}
}

// loopbackUp brings lo up so tests that listen on 127.0.0.1 work.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// reportCPU prints the AVX-512 features twice: as the kernel lists them in
// /proc/cpuinfo and as the Go runtime detects them (CPUID and XCR0), which
// is what the kernel dispatch in bioencoder relies on.
func reportCPU() {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		var model string
		var avx []string
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "model name":
				if model == "" {
					model = strings.TrimSpace(v)
				}
			case "flags":
				if avx == nil {
					for _, f := range strings.Fields(v) {
						if strings.HasPrefix(f, "avx") || f == "fma" {
							avx = append(avx, f)
						}
					}
				}
			}
		}
		sort.Strings(avx)
		info("cpu: %s", model)
		info("/proc/cpuinfo flags: %s", strings.Join(avx, " "))
	} else {
		info("warning: %v", err)
	}
	x := cpu.X86
	info("go x/sys/cpu: AVX2=%t FMA=%t AVX512F=%t AVX512DQ=%t AVX512BW=%t AVX512VL=%t AVX512CD=%t AVX512VNNI=%t AVX512BF16=%t",
		x.HasAVX2, x.HasFMA, x.HasAVX512F, x.HasAVX512DQ, x.HasAVX512BW, x.HasAVX512VL, x.HasAVX512CD,
		x.HasAVX512VNNI, x.HasAVX512BF16)
}

// rawTTY turns off output post-processing (\n -> \r\n) so the job's bytes
// reach the host file unchanged, and selects the fastest standard rate.
func rawTTY(f *os.File) {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return
	}
	t.Oflag &^= unix.OPOST
	t.Cflag &^= unix.CBAUD
	t.Cflag |= unix.B115200
	t.Ispeed, t.Ospeed = 115200, 115200
	_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
}

// drain waits until a serial port has sent everything written to it.
func drain(f *os.File) {
	// TCSBRK with a non-zero argument is tcdrain(3).
	_ = unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
}

func powerOff() {
	unix.Sync()
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// Only reached if the power-off failed; run.sh kills Bochs once it has
	// seen the marker, so just wait.
	info("power off failed: %v", err)
	for {
		time.Sleep(time.Hour)
	}
}
