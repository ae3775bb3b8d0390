// Command provisioner is the SlideRule Provisioner: the service (serve), the
// cluster gateway (gateway) and the client for Makefiles and GitHub Actions.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
