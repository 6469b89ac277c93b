package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Machine describes the CPU a benchmark ran on and its peak float32 FMA
// throughput for the threads used:
//
//	PeakGFLOPS = Threads x FMAUnits x Lanes x 2 flops x GHz
//
// FMAUnits is an assumption, not something the CPU reports: 2 FMA pipes
// per core, true of every AVX2 core since Intel Haswell and AMD Zen 2
// (Zen 1 and Zen 4 run 512-bit FMAs at half rate; a mismatch shows as a
// peak fraction above 1). Lanes is the float32 width of the widest vector
// registers both engines use: 16 with AVX-512F (our GEMM micro-kernel and
// PyTorch's oneDNN kernels use it), else 8 (AVX2); PeakAVX2GFLOPS is the
// 8-lane figure. GHz is the measured clock (a chain of dependent integer
// additions, one per cycle) when it could be measured, else the "cpu MHz"
// of /proc/cpuinfo, which on virtual machines is often the nominal
// frequency rather than the running clock.
type Machine struct {
	Model   string  `json:"cpu"`
	Threads int     `json:"threads"`
	Cores   int     `json:"cores"` // logical CPUs in /proc/cpuinfo
	InfoMHz float64 `json:"cpuinfo_mhz"`
	// MeasuredGHz is the clock measured by an add chain (0 when not
	// measured).
	MeasuredGHz    float64 `json:"measured_ghz"`
	GHz            float64 `json:"ghz"`
	FMAUnits       int     `json:"fma_units"`
	Lanes          int     `json:"lanes"`
	AVX2, FMA      bool    `json:"-"`
	AVX512         bool    `json:"avx512"`
	PeakGFLOPS     float64 `json:"peak_gflops"`
	PeakAVX2GFLOPS float64 `json:"peak_avx2_gflops"`
	Assumption     string  `json:"assumption"`
}

// DetectMachine reads /proc/cpuinfo, measures the clock and computes the
// peak for threads threads.
func DetectMachine(threads int) Machine {
	m := Machine{Threads: threads, FMAUnits: 2, Lanes: 8}
	readCPUInfo(&m)
	m.MeasuredGHz = measureGHz()
	m.GHz = m.MeasuredGHz
	src := "measured"
	if m.GHz == 0 {
		m.GHz, src = m.InfoMHz/1000, "/proc/cpuinfo"
	}
	isa := "AVX2"
	if m.AVX512 {
		m.Lanes, isa = 16, "AVX-512"
	}
	if m.AVX2 && m.FMA {
		m.PeakAVX2GFLOPS = float64(threads*m.FMAUnits*8*2) * m.GHz
		m.PeakGFLOPS = float64(threads*m.FMAUnits*m.Lanes*2) * m.GHz
	}
	m.Assumption = fmt.Sprintf("%d threads x %d FMA units x %d float32 lanes (%s) x 2 flops x %.2f GHz (%s clock)",
		threads, m.FMAUnits, m.Lanes, isa, m.GHz, src)
	if m.PeakGFLOPS == 0 {
		m.Assumption = "no AVX2+FMA: peak unknown"
	}
	return m
}

// CPUModel returns the "model name" of /proc/cpuinfo ("" when unknown),
// without measuring the clock as DetectMachine does.
func CPUModel() string {
	var m Machine
	readCPUInfo(&m)
	return m.Model
}

func readCPUInfo(m *Machine) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			m.Cores++
		case "model name":
			m.Model = v
		case "cpu MHz":
			if mhz, err := strconv.ParseFloat(v, 64); err == nil && mhz > m.InfoMHz {
				m.InfoMHz = mhz
			}
		case "flags":
			for _, fl := range strings.Fields(v) {
				switch fl {
				case "avx2":
					m.AVX2 = true
				case "fma":
					m.FMA = true
				case "avx512f":
					m.AVX512 = true
				}
			}
		}
	}
}

// measureGHz times a chain of dependent integer additions (one cycle each
// on every x86 core) and returns the best clock of many short tries (about
// 2 ms each: on a busy machine most are preempted, the fastest is not), or
// 0 where there is no such loop.
func measureGHz() float64 {
	const iters = 1 << 20
	best := 0.0
	for try := 0; try < 40; try++ {
		t0 := time.Now()
		cycles := addChain(iters)
		d := time.Since(t0)
		if cycles == 0 {
			return 0
		}
		if ghz := float64(cycles) / d.Seconds() / 1e9; ghz > best {
			best = ghz
		}
	}
	return best
}

// LoadAverage returns the 1, 5 and 15 minute load averages of
// /proc/loadavg.
func LoadAverage() ([3]float64, error) {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l, err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return l, fmt.Errorf("/proc/loadavg: %q", b)
	}
	for i := range l {
		if l[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return l, fmt.Errorf("/proc/loadavg: %w", err)
		}
	}
	return l, nil
}
