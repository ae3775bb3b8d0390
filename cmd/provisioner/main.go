// Command provisioner is the SlideRule Provisioner: the service (serve), the
// cluster gateway (gateway) and the client for Makefiles and GitHub Actions.
// The service on AWS is the Lambda built from ../provisioner-lambda.
package main

import (
	"fmt"
	"os"

	"provisioner/aws/lambda"
)

func main() {
	if lambda.Detect() && len(os.Args) == 1 {
		// Uploaded as a Lambda's bootstrap by mistake: say so, rather
		// than print the CLI's help and leave the function failing.
		fmt.Fprintln(os.Stderr, "error: this is the provisioner CLI; the Lambda is cmd/provisioner-lambda (make package builds its bootstrap)")
		os.Exit(1)
	}
	os.Exit(Main(os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
