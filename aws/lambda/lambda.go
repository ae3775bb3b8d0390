// Package lambda runs the provisioner as an AWS Lambda function: the same
// binary (built as "bootstrap" for provided.al2023 on arm64, with the
// lambda.norpc build tag) serves API Gateway HTTP API events (payload format
// 2.0) through the provisioner's http.Handler, and EventBridge Scheduler
// events (a cluster's destroy, the reconcile sweep) through the App.
//
// Nothing here makes a network call before the first event: the runtime API
// loop starts, and the handler only touches what the event asks for.
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// EnvRuntimeAPI is set by AWS Lambda (and the Runtime Interface Emulator)
// in the function's environment.
const EnvRuntimeAPI = "AWS_LAMBDA_RUNTIME_API"

// Detect reports whether the process runs as an AWS Lambda function.
func Detect() bool { return os.Getenv(EnvRuntimeAPI) != "" }

// The actions of a scheduler event, as aws/scheduler writes them.
const (
	ActionDestroy   = "destroy"
	ActionReconcile = "reconcile"
	// ActionPrices refreshes the price table (deploy/provisioner.yaml's
	// daily schedule).
	ActionPrices = "prices"
)

// Handler answers the provisioner Lambda's events. It implements the
// aws-lambda-go Handler interface.
type Handler struct {
	// HTTP serves API Gateway HTTP API requests (the provisioner API).
	HTTP http.Handler
	// Destroy is called for a destroy schedule that fired: App.FireDestroy.
	Destroy func(ctx context.Context, cluster string, at time.Time) error
	// Reconcile is called by the recurring sweep schedule: App.Reconcile.
	Reconcile func(ctx context.Context) error
	// RefreshPrices is called by the daily prices schedule: the backend's
	// refresh from the AWS Price List API.
	RefreshPrices func(ctx context.Context) error
	// Logger logs scheduler events and failures; nil means slog.Default().
	Logger *slog.Logger
}

// Start runs the Lambda runtime loop with h; it does not return. Call it
// only when Detect reports true.
func Start(h *Handler, opts ...awslambda.Option) {
	awslambda.StartWithOptions(h, opts...)
}

// Event kinds, as Kind reports them.
const (
	KindHTTP      = "http"      // API Gateway HTTP API, payload format 2.0
	KindScheduler = "scheduler" // {"action": ...} from EventBridge Scheduler
)

// probe holds the fields that tell the event kinds apart.
type probe struct {
	Action         *string `json:"action"`
	Version        string  `json:"version"`
	HTTPMethod     string  `json:"httpMethod"` // REST API (payload 1.0)
	RequestContext struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

// Kind tells what kind of event payload is, or why it is none we serve.
func Kind(payload []byte) (string, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", fmt.Errorf("lambda: event is not a JSON object: %w", err)
	}
	switch {
	case p.Action != nil:
		return KindScheduler, nil
	case p.Version == "2.0" && p.RequestContext.HTTP.Method != "":
		return KindHTTP, nil
	case p.HTTPMethod != "" || p.Version == "1.0":
		return "", errors.New("lambda: API Gateway payload format 1.0 (REST API) is not supported; use an HTTP API with payload format 2.0")
	}
	return "", errors.New("lambda: unrecognized event: neither an API Gateway HTTP API (2.0) request nor a scheduler action")
}

// Invoke answers one event. An HTTP request always gets an HTTP response
// (handler failures included); an error means the event itself was
// malformed or, for scheduler events, that the work failed and should be
// retried.
func (h *Handler) Invoke(ctx context.Context, payload []byte) (out []byte, err error) {
	kind, err := Kind(payload)
	if err != nil {
		h.log().Error("rejected event", "err", err, "request_id", requestID(ctx), "size", len(payload))
		return nil, err
	}
	if kind == KindHTTP {
		return h.serveHTTP(ctx, payload)
	}
	defer func() {
		if p := recover(); p != nil {
			h.log().Error("panic handling scheduler event", "panic", p, "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("lambda: panic: %v", p)
		}
	}()
	return h.schedulerEvent(ctx, payload)
}

// schedulerEvent is the input of an EventBridge Scheduler schedule.
type schedulerEvent struct {
	Action  string `json:"action"`
	Cluster string `json:"cluster"`
	At      string `json:"at"`
}

func (h *Handler) schedulerEvent(ctx context.Context, payload []byte) ([]byte, error) {
	var ev schedulerEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("lambda: scheduler event: %w", err)
	}
	log := h.log().With("action", ev.Action, "request_id", requestID(ctx))
	start := time.Now()
	var err error
	switch ev.Action {
	case ActionDestroy:
		if ev.Cluster == "" {
			return nil, errors.New("lambda: destroy event without a cluster")
		}
		at, perr := time.Parse(time.RFC3339, ev.At)
		if perr != nil {
			return nil, fmt.Errorf("lambda: destroy event for %s: bad time %q: %w", ev.Cluster, ev.At, perr)
		}
		if h.Destroy == nil {
			return nil, errors.New("lambda: destroy events are not handled by this function")
		}
		log = log.With("cluster", ev.Cluster, "at", at)
		err = h.Destroy(ctx, ev.Cluster, at)
	case ActionReconcile:
		if h.Reconcile == nil {
			return nil, errors.New("lambda: reconcile events are not handled by this function")
		}
		err = h.Reconcile(ctx)
	case ActionPrices:
		if h.RefreshPrices == nil {
			return nil, errors.New("lambda: prices events are not handled by this function")
		}
		err = h.RefreshPrices(ctx)
	default:
		return nil, fmt.Errorf("lambda: unknown scheduler action %q", ev.Action)
	}
	if err != nil {
		log.Error("scheduler event failed", "err", err, "duration", time.Since(start))
		return nil, fmt.Errorf("lambda: %s: %w", ev.Action, err)
	}
	log.Info("scheduler event", "duration", time.Since(start))
	return json.Marshal(map[string]string{"status": "success", "action": ev.Action})
}

func (h *Handler) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// requestID is the Lambda invocation's id, when there is one.
func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
