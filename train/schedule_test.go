package train

import (
	"math"
	"testing"
)

func TestScheduleFactors(t *testing.T) {
	wsd := Schedule{Kind: "wsd", Warmup: 10, Total: 100, Decay: 20, Shape: "1-sqrt", MinRatio: 0.1}
	tests := []struct {
		name string
		s    Schedule
		step int
		want float64
	}{
		{"warmup starts at 0", Schedule{Kind: "linear", Warmup: 10, Total: 100}, 0, 0},
		{"warmup half", Schedule{Kind: "linear", Warmup: 10, Total: 100}, 5, 0.5},
		{"linear peak", Schedule{Kind: "linear", Warmup: 10, Total: 100}, 10, 1},
		{"linear mid", Schedule{Kind: "linear", Warmup: 10, Total: 100}, 55, 0.5},
		{"linear end", Schedule{Kind: "linear", Warmup: 10, Total: 100}, 100, 0},
		{"cosine mid", Schedule{Kind: "cosine", Warmup: 0, Total: 100}, 50, 0.5},
		{"constant", Schedule{Kind: "constant", Warmup: 4, Total: 100}, 90, 1},
		{"wsd warmup lifted by min ratio", wsd, 0, 0.1},
		{"wsd warmup half", wsd, 5, 0.55},
		{"wsd stable", wsd, 79, 1},
		{"wsd decay start", wsd, 80, 1},
		{"wsd 1-sqrt quarter", wsd, 85, 0.1 + 0.9*(1-math.Sqrt(0.25))},
		{"wsd after end", wsd, 100, 0.1},
	}
	for _, tc := range tests {
		if got := tc.s.Factor(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: Factor(%d) = %v, want %v", tc.name, tc.step, got, tc.want)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	s, err := ParseSchedule("wsd:decay=0.2:min=0.05", 10, 200)
	if err != nil || s.Kind != "wsd" || s.Decay != 40 || s.MinRatio != 0.05 || s.Shape != "1-sqrt" {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := ParseSchedule("triangle", 0, 10); err == nil {
		t.Fatal("unknown schedule accepted")
	}
}

func TestStepped(t *testing.T) {
	tests := []struct {
		spec  string
		total int
		at    map[int]float64
	}{
		{"0.15", 100, map[int]float64{0: 0.15, 99: 0.15}},
		{"0.3,0.15", 100, map[int]float64{0: 0.3, 49: 0.3, 50: 0.15}},
		{"0.3@0.8,0.15", 100, map[int]float64{79: 0.3, 80: 0.15}},
		{"0.3@30,0.2@60,0.15", 100, map[int]float64{29: 0.3, 30: 0.2, 59: 0.2, 60: 0.15}},
	}
	for _, tc := range tests {
		s, err := ParseStepped(tc.spec, tc.total)
		if err != nil {
			t.Fatal(err)
		}
		for step, want := range tc.at {
			if got := s.At(step); got != want {
				t.Errorf("%s: At(%d) = %v, want %v", tc.spec, step, got, want)
			}
		}
	}
	if _, err := ParseStepped("0.3,0.1@5", 10); err == nil {
		t.Fatal("trailing @ accepted")
	}
}
