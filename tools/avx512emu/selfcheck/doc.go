// Package selfcheck proves that the avx512emu emulator executes AVX-512 Go
// assembly correctly: each function in it runs a handful of AVX-512
// instructions (512-bit arithmetic, embedded broadcast, opmask registers,
// masked loads and stores, DQ/BW/VL forms, the upper ZMM16-31 registers)
// and its tests compare the results with plain Go.
//
// The tests skip on CPUs without AVX-512. Under the emulator:
//
//	go test -c -o /tmp/selfcheck.test ./tools/avx512emu/selfcheck
//	tools/avx512emu/run.sh /tmp/selfcheck.test -test.v
package selfcheck
