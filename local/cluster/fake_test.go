package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"provisioner/local/ilb"
)

// The test binary doubles as the cluster's processes (see TestMain): with
// fakeEnv set, `gateway ...` mimics `provisioner gateway` and `upstream`
// mimics a SlideRule server; `node` is the real stand-in node (package ilb). Knobs, all environment variables:
//
//	FAKE_GATEWAY_EXIT=N      the gateway writes to stderr and exits N at once
//	FAKE_GATEWAY_HEALTH=N    the gateway's /healthz answers N
//	FAKE_UPSTREAM_HEALTH=N   the upstream's /source/health answers N
//	FAKE_IGNORE_TERM=1       SIGTERM is ignored (Destroy must escalate)
const fakeEnv = "LOCAL_CLUSTER_FAKE"

func fakeMain(args []string) int {
	if os.Getenv("FAKE_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "fake: want gateway or upstream")
		return 2
	}
	switch args[0] {
	case "gateway":
		return fakeGateway(args[1:])
	case "upstream":
		return fakeUpstream()
	case "node": // the real stand-in node, as `provisioner node` runs it
		n, port, err := ilb.NodeFromEnv(os.Getenv)
		if err == nil {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			defer stop()
			err = n.Run(ctx, port)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake node:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "fake: unknown command %q\n", args[0])
	return 2
}

// fakeGateway accepts exactly the flags agreed for `provisioner gateway`,
// so a driver passing anything else fails here.
func fakeGateway(args []string) int {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	cluster := fs.String("cluster", "", "")
	private := fs.Bool("private", false, "")
	public := fs.Bool("public", false, "")
	upstream := fs.String("upstream", "", "")
	issuer := fs.String("issuer", "", "")
	listen := fs.String("listen", "", "")
	nodes := fs.Int("nodes", 0, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cluster == "" || *private == *public || *upstream == "" || *issuer == "" || *listen == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "fake gateway: bad arguments", args)
		return 2
	}
	if v := os.Getenv("FAKE_GATEWAY_EXIT"); v != "" {
		fmt.Fprintln(os.Stderr, "fake gateway: failing on purpose")
		n, _ := strconv.Atoi(v)
		return n
	}
	fmt.Printf("fake gateway cluster=%s public=%t upstream=%s issuer=%s nodes=%d\n", *cluster, *public, *upstream, *issuer, *nodes)
	health := envInt("FAKE_GATEWAY_HEALTH", http.StatusOK)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONStatus(w, health, map[string]any{"status": "success", "cluster": *cluster, "public": *public})
	})
	mux.HandleFunc("POST /discovery/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONStatus(w, http.StatusOK, map[string]any{"nodes": *nodes})
	})
	return serve(*listen, mux)
}

func fakeUpstream() int {
	fmt.Printf("fake upstream cluster=%s nodes=%s version=%s port=%s\n",
		os.Getenv("CLUSTER"), os.Getenv("NODES"), os.Getenv("VERSION"), os.Getenv("PORT"))
	health := envInt("FAKE_UPSTREAM_HEALTH", http.StatusOK)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /source/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONStatus(w, health, map[string]any{"healthy": health == http.StatusOK})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream %s account=%s roles=%s path=%s\n", os.Getenv("CLUSTER"), r.Header.Get("X-Sliderule-Account"), r.Header.Get("X-Sliderule-Org-Roles"), r.URL.Path)
	})
	return serve("127.0.0.1:"+os.Getenv("PORT"), mux)
}

func serve(addr string, h http.Handler) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "fake:", err)
		return 1
	}
	return 0
}

func writeJSONStatus(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}
