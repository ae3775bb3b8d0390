package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/aws/awsenv"
	"provisioner/aws/pricing"
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/local"
	"provisioner/prices"
)

// newCmdPrices is `provisioner prices update`: the operator's refresh of
// the price table estimates are made from, from the AWS Price List API,
// into the file serve reads over the shipped table. (On AWS the Lambda
// refreshes its own on a schedule.)
func newCmdPrices(f *cmdutil.Factory) *cobra.Command {
	var out, data, endpoint string
	var regions, types []string
	update := &cobra.Command{
		Use:   "update",
		Short: "Refresh the price table from the AWS Price List API",
		Long: `Read the on-demand prices of the clusters' instance types, the NAT gateway,
public IPv4 addresses and gp3 storage from the AWS Price List API (AWS
credentials from the usual places; any account may read it), and write them
to --out, by default the file serve reads over the table shipped with the
binary (DATA/` + local.PricesFile + `). Regions already in the file and not
refreshed are kept. The API has no spot prices: those stay the shipped
table's, or the operator's override (serve --prices).`,
		Example: "  provisioner prices update\n  provisioner prices update --region us-west-2 --region eu-west-1",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				out = filepath.Join(data, local.PricesFile)
			}
			current := prices.Shipped()
			var old provisioner.PriceTable
			if b, err := os.ReadFile(out); err == nil {
				if old, err = prices.Parse(b, true); err != nil {
					return cmdutil.FlagErrorf("--out %s holds no valid price table (%s); remove it or name another file", out, provisioner.ErrorMessage(err))
				}
				current = current.Merge(old)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if len(regions) == 0 {
				for r := range current.Regions {
					regions = append(regions, r)
				}
				slices.Sort(regions)
			}
			if len(types) == 0 {
				types = provisioner.DefaultLayout("").InstanceTypes()
			}
			sdk, err := awsenv.Load(cmd.Context(), awsenv.Options{Endpoint: endpoint})
			if err != nil {
				return err
			}
			fresh, err := prices.Refresh(cmd.Context(), pricing.New(sdk), regions, types, f.Now())
			if err != nil {
				if provisioner.ErrorCode(err) == provisioner.EINVALID {
					return cmdutil.FlagErrorWrap(err)
				}
				return err
			}
			table := fresh
			if old.Regions != nil {
				table = old.Merge(fresh)
			}
			b, err := prices.Encode(table)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, b); err != nil {
				return err
			}
			if f.JSON {
				return cmdutil.PrintJSON(f.IOStreams.Out, table)
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Wrote the prices of %s in %s (as of %s) to %s\n",
				strings.Join(types, ", "), strings.Join(regions, ", "), fresh.AsOf, out)
			return nil
		},
	}
	fl := update.Flags()
	fl.StringVar(&out, "out", "", "the file to write (default DATA/"+local.PricesFile+", which serve reads)")
	fl.StringVar(&data, "data", f.DataDir, "the service's data directory")
	fl.StringArrayVar(&regions, "region", nil, "a region to refresh (repeatable; default the regions of the table)")
	fl.StringArrayVar(&types, "type", nil, "an instance type to price (repeatable; default the cluster and job machines' types)")
	fl.StringVar(&endpoint, "aws-endpoint", "", "the Price List API at this URL (tests)")
	_ = fl.MarkHidden("aws-endpoint")
	return cmdutil.Group(&cobra.Command{Use: "prices", Short: "The price table of cost estimates (operator)"}, update)
}

// writeFileAtomic writes data to path through a file beside it, so a
// reader (serve) never sees half a table.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".prices-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
