package cmdutil

import (
	"context"

	"github.com/spf13/cobra"

	"provisioner/client"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// APIOptions are the options every command on the provisioner's API has:
// its streams, its client and --json. Commands embed them in their own
// options.
type APIOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	JSON   bool
}

func (o *APIOptions) apiOptions() *APIOptions { return o }

// ClusterOptions are the options of a command on one CLUSTER.
type ClusterOptions struct {
	APIOptions
	Cluster string
}

func (o *ClusterOptions) clusterOptions() *ClusterOptions { return o }

// apiCommand and clusterCommand are options that embed APIOptions or
// ClusterOptions.
type (
	apiCommand     interface{ apiOptions() *APIOptions }
	clusterCommand interface {
		apiCommand
		clusterOptions() *ClusterOptions
	}
)

// UseAPI copies the streams and the client from f into opts, which embed
// APIOptions, and returns opts.
func UseAPI[O apiCommand](f *Factory, opts O) O {
	o := opts.apiOptions()
	o.IO, o.Client = f.IOStreams, f.Client
	return opts
}

// NoArgsCmd completes cmd as a command on the API that takes no
// arguments: when it runs, opts get --json, then runF runs them if a test
// gave one, else run. Checks of the command's own flags go in its PreRunE.
func NoArgsCmd[O apiCommand](f *Factory, cmd *cobra.Command, opts O, runF func(O) error, run func(context.Context, O) error) *cobra.Command {
	UseAPI(f, opts)
	cmd.Args = NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		opts.apiOptions().JSON = f.JSON
		return Run(c.Context(), opts, runF, run)
	}
	return cmd
}

// ClusterCmd completes cmd as a command on one CLUSTER argument: when it
// runs, the argument must be a valid cluster name, and opts get it and
// --json, then runF runs them if a test gave one, else run. Checks of the
// command's own flags go in its PreRunE, which runs first.
func ClusterCmd[O clusterCommand](f *Factory, cmd *cobra.Command, opts O, runF func(O) error, run func(context.Context, O) error) *cobra.Command {
	UseAPI(f, opts)
	cmd.Args = ExactArgs(1)
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if err := ValidCluster(args[0]); err != nil {
			return err
		}
		o := opts.clusterOptions()
		o.Cluster, o.JSON = args[0], f.JSON
		return Run(c.Context(), opts, runF, run)
	}
	return cmd
}

// Run runs a command on its options: with runF if a test gave one (it
// checks what the arguments made of them), else with run, the real run.
func Run[O any](ctx context.Context, opts O, runF func(O) error, run func(context.Context, O) error) error {
	if runF != nil {
		return runF(opts)
	}
	return run(ctx, opts)
}

// Show gets a client, asks it with get, and prints the answer: as JSON
// with --json, else with text.
func Show[T any](o *APIOptions, get func(*client.Client) (T, error), text func(T) error) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	v, err := get(c)
	if err != nil {
		return err
	}
	return o.Print(v, func() error { return text(v) })
}

// Print prints v as JSON with --json, else with text.
func (o *APIOptions) Print(v any, text func() error) error {
	if o.JSON {
		return PrintJSON(o.IO.Out, v)
	}
	return text()
}
