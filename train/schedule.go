package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Schedule is a learning-rate multiplier over optimizer steps, with Hugging
// Face's LambdaLR convention: Factor(s) is used by the (s+1)-th update, so
// with warmup the first update uses factor 0.
type Schedule struct {
	Kind     string  // "constant", "linear", "cosine" or "wsd" (warmup-stable-decay)
	Warmup   int     // warmup steps (linear ramp)
	Total    int     // total optimizer steps
	Decay    int     // wsd: decay steps at the end (default 10% of Total)
	Shape    string  // wsd decay shape: "1-sqrt" (default), "linear" or "cosine"
	MinRatio float64 // wsd: floor of the decay, as a fraction of the peak (min_lr_ratio)
}

// ParseSchedule reads --schedule values: constant, linear, cosine, wsd,
// wsd-1-sqrt, wsd-linear; options after colons, e.g. "wsd:decay=0.1:min=0.1".
func ParseSchedule(spec string, warmup, total int) (Schedule, error) {
	parts := strings.Split(spec, ":")
	s := Schedule{Kind: parts[0], Warmup: warmup, Total: total, Shape: "1-sqrt"}
	switch s.Kind {
	case "wsd-1-sqrt", "1-sqrt":
		s.Kind = "wsd"
	case "wsd-linear":
		s.Kind, s.Shape = "wsd", "linear"
	case "constant", "linear", "cosine", "wsd":
	default:
		return s, fmt.Errorf("train: unknown schedule %q (want constant, linear, cosine, wsd, wsd-linear)", spec)
	}
	decay := 0.1
	for _, opt := range parts[1:] {
		k, v, ok := strings.Cut(opt, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			return s, fmt.Errorf("train: schedule option %q is not key=number", opt)
		}
		switch k {
		case "decay":
			decay = f
		case "min":
			s.MinRatio = f
		default:
			return s, fmt.Errorf("train: unknown schedule option %q", k)
		}
	}
	if decay < 1 {
		s.Decay = int(math.Round(decay * float64(total)))
	} else {
		s.Decay = int(decay)
	}
	return s, nil
}

// Factor is the multiplier for the (step+1)-th update.
func (s Schedule) Factor(step int) float64 {
	if step < s.Warmup {
		f := float64(step) / float64(max(1, s.Warmup))
		if s.Kind == "wsd" {
			f = f*(1-s.MinRatio) + s.MinRatio
		}
		return f
	}
	switch s.Kind {
	case "linear":
		return math.Max(0, float64(s.Total-step)/float64(max(1, s.Total-s.Warmup)))
	case "cosine":
		p := float64(step-s.Warmup) / float64(max(1, s.Total-s.Warmup))
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*p)))
	case "wsd":
		stable := s.Total - s.Warmup - s.Decay
		if step < s.Warmup+stable {
			return 1
		}
		if step < s.Total {
			p := float64(step-s.Warmup-stable) / float64(max(1, s.Decay))
			var f float64
			switch s.Shape {
			case "linear":
				f = 1 - p
			case "cosine":
				f = 0.5 * (1 + math.Cos(math.Pi*p))
			default:
				f = 1 - math.Sqrt(p)
			}
			return math.Max(0, f*(1-s.MinRatio)+s.MinRatio)
		}
		return s.MinRatio
	}
	return 1 // constant
}

// Stepped is a value that changes at given steps: "0.3@0.8,0.15" is 0.3
// until 80% of training, then 0.15; "0.3@1000,0.15" switches at step 1000.
// A single number is constant.
type Stepped struct {
	Values []float64
	Until  []int // exclusive end step of each value but the last
}

// ParseStepped reads a Stepped value for a run of total steps.
func ParseStepped(spec string, total int) (Stepped, error) {
	var s Stepped
	items := strings.Split(spec, ",")
	for i, it := range items {
		v, until, hasUntil := strings.Cut(strings.TrimSpace(it), "@")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return s, fmt.Errorf("train: %q: %q is not a number", spec, v)
		}
		s.Values = append(s.Values, f)
		if i == len(items)-1 {
			if hasUntil {
				return s, fmt.Errorf("train: %q: the last value runs to the end and takes no @", spec)
			}
			break
		}
		if !hasUntil {
			// Equal phases when no boundaries are given.
			s.Until = append(s.Until, total*(i+1)/len(items))
			continue
		}
		u, err := strconv.ParseFloat(until, 64)
		if err != nil || u <= 0 {
			return s, fmt.Errorf("train: %q: bad boundary %q", spec, until)
		}
		if u < 1 {
			u *= float64(total)
		}
		s.Until = append(s.Until, int(math.Round(u)))
	}
	return s, nil
}

// At is the value in force at step.
func (s Stepped) At(step int) float64 {
	for i, u := range s.Until {
		if step < u {
			return s.Values[i]
		}
	}
	return s.Values[len(s.Values)-1]
}
