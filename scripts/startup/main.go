// Command startup measures a command's start-up: it runs it N times and
// reports the median and 90th percentile wall time, process start to exit,
// and the largest peak resident memory.
//
//	go build -o /tmp/p ./cmd/provisioner && go run ./scripts/startup -n 50 /tmp/p version
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 50, "runs")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: startup [-n N] COMMAND [ARG...]")
		os.Exit(2)
	}
	var walls []time.Duration
	var maxRSS int64
	for range *n {
		cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "startup:", err)
			os.Exit(1)
		}
		walls = append(walls, time.Since(start))
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			maxRSS = max(maxRSS, ru.Maxrss) // KiB on Linux
		}
	}
	slices.Sort(walls)
	fmt.Printf("%d runs: median %.1f ms, p90 %.1f ms, peak RSS %.1f MiB\n", *n,
		ms(walls[len(walls)/2]), ms(walls[len(walls)*9/10]), float64(maxRSS)/1024)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
