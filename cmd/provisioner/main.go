// Command provisioner is the SlideRule Provisioner: the service (serve), the
// cluster gateway (gateway) and the client for Makefiles and GitHub Actions.
// Run as an AWS Lambda (file "bootstrap", no arguments), it is the service
// on AWS.
package main

import (
	"os"

	"provisioner/aws/lambda"
)

func main() {
	if lambda.Detect() && len(os.Args) == 1 {
		os.Exit(runLambda(os.Stderr))
	}
	os.Exit(Main(os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
