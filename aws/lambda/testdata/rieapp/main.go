// Command rieapp is a minimal bootstrap for the Runtime Interface Emulator
// smoke test: the Lambda entry of aws/lambda with a small HTTP handler and
// scheduler functions that only log, so it runs without any AWS service.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"time"

	"provisioner/aws/lambda"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if !lambda.Detect() {
		log.Error("not running under AWS Lambda: AWS_LAMBDA_RUNTIME_API is not set")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "source": r.RemoteAddr,
			"request_id": r.Header.Get(lambda.HeaderRequestID)})
	})
	lambda.Start(&lambda.Handler{
		HTTP: mux,
		Destroy: func(ctx context.Context, cluster string, at time.Time) error {
			log.Info("destroy", "cluster", cluster, "at", at)
			return nil
		},
		Reconcile: func(ctx context.Context) error {
			log.Info("reconcile")
			return nil
		},
		Logger: log,
	})
}
